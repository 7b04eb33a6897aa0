"""Did a stage help? Paired differences between two models on the same records, with 95% intervals.

Two models scored on the same items differ far less from resample to resample than their
separate intervals suggest, since the items' difficulty is shared: the paired bootstrap
(``metrics.paired_bootstrap``) draws records once and scores both models on the draw. A
difference whose interval lies above zero is one the evaluated slice supports.
"""

from __future__ import annotations

from collections import defaultdict

from .metrics import by_record, item_statistics, paired_bootstrap, suite_labels
from .suites import load_suites

BASELINE = "base"


def averaged_suites(names: list[str], suites: dict | None = None) -> list[str]:
    """The suites among ``names`` marked ``average`` in ``suites`` (default: the shipped registry)."""
    suites = load_suites() if suites is None else suites
    return [s for s in names if s in suites and suites[s].average]


def compare(
    scored: list[dict],
    metrics: dict[str, str],
    baseline: str = BASELINE,
    average_over: list[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    suites: dict | None = None,
) -> list[dict]:
    """Rows ``{suite, a, b, n, diff, ci_low, ci_high, ...}`` of ``b - a`` for every model ``b`` against ``a = baseline``.

    ``metrics`` maps each suite to its metric; ``n`` counts the records both models answered. The
    row with ``suite == "average"`` is the mean difference over ``average_over`` (default: the
    suites marked ``average`` in ``suites``, the run's registry, else every suite), with a paired
    interval drawn over each suite's records at once.
    """
    by_model: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in scored:
        by_model[(row["model"], row["suite"])].append(row)
    models = [m for m in dict.fromkeys(r["model"] for r in scored) if m != baseline]
    rows = []
    for model in models:
        pairs = {}
        for suite, metric in metrics.items():
            a, b = by_model.get((baseline, suite)), by_model.get((model, suite))
            shared = _paired_records(a, b, metric) if a and b else (0, None)
            if shared[0]:
                pairs[suite] = shared
        for suite, (n, pair) in pairs.items():
            diff, low, high = paired_bootstrap([pair], n_resamples, seed)
            rows.append(_row(suite, baseline, model, n, diff, low, high, metric=pair[2]))
        chosen = [s for s in (average_over or averaged_suites(list(pairs), suites) or list(pairs)) if s in pairs]
        if chosen:
            diff, low, high = paired_bootstrap([pairs[s][1] for s in chosen], n_resamples, seed)
            n = sum(pairs[s][0] for s in chosen)
            rows.append(_row("average", baseline, model, n, diff, low, high, suites=chosen))
    return rows


def _paired_records(a: list[dict], b: list[dict], metric: str):
    """(records, (a's, b's per-record statistics on the records both scored, metric))."""
    labels = suite_labels(a + b)
    ids_a, stats_a = by_record(item_statistics(a, metric, labels), [r["record_id"] for r in a])
    ids_b, stats_b = by_record(item_statistics(b, metric, labels), [r["record_id"] for r in b])
    where_b = {r: i for i, r in enumerate(ids_b)}
    shared = [(i, where_b[r]) for i, r in enumerate(ids_a) if r in where_b]
    rows_a, rows_b = [i for i, _ in shared], [j for _, j in shared]
    return len(shared), (stats_a[rows_a], stats_b[rows_b], metric)


def _row(suite: str, a: str, b: str, n: int, diff: float, low: float, high: float, **extra) -> dict:
    return {
        "suite": suite,
        "a": a,
        "b": b,
        "n": n,
        "diff": diff,
        "ci_low": low,
        "ci_high": high,
        "significant": low > 0 or high < 0,
        **extra,
    }
