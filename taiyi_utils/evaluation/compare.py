"""Did a stage help? Paired differences between two models (or two runs) on the same records, with 95% intervals.

Two models scored on the same items differ far less from resample to resample than their
separate intervals suggest, since the items' difficulty is shared: the paired bootstrap
(``metrics.paired_bootstrap``) draws records once and scores both models on the draw. A
difference whose interval lies above zero is one the evaluated slice supports.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .metrics import by_record, item_statistics, paired_bootstrap, suite_labels
from .suites import load_suites, run_suites

BASELINE = "base"


def averaged_suites(names: list[str], suites: dict | None = None) -> list[str]:
    """The suites among ``names`` marked ``average`` in ``suites`` (default: the shipped registry)."""
    suites = load_suites() if suites is None else suites
    return [s for s in names if s in suites and suites[s].average]


LATER = (("stage 1", "stage 2"), ("one-stage", "two-stage"), ("one-stage", "stage 2"), ("stage 1", "two-stage"))


def default_pairs(models: list[str], baseline: str = BASELINE) -> list[tuple[str, str]]:
    """(a, b) pairs worth asking about: each model against ``baseline``, each stage against the one before it,
    and two stages against one (Taiyi's ablation), among ``models``."""
    pairs = [(baseline, m) for m in models if m != baseline] if baseline in models else []
    return pairs + [(a, b) for a, b in LATER if a in models and b in models]


def compare(
    scored: list[dict],
    metrics: dict[str, str],
    pairs: list[tuple[str, str]] | None = None,
    average_over: list[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    suites: dict | None = None,
) -> list[dict]:
    """Rows ``{suite, a, b, n, diff, ci_low, ci_high, ...}`` of ``b - a`` for every pair (default: ``default_pairs``).

    ``metrics`` maps each suite to its metric; ``n`` counts the records both models answered. The
    row with ``suite == "average"`` is the mean difference over ``average_over`` (default: the
    suites marked ``average`` in ``suites``, the run's registry, else every suite), with a paired
    interval drawn over each suite's records at once. No pair (one model alone): no rows.
    """
    by_model: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in scored:
        by_model[(row["model"], row["suite"])].append(row)
    pairs = default_pairs(list(dict.fromkeys(r["model"] for r in scored))) if pairs is None else pairs
    rows = []
    for first, second in pairs:
        shared = {}
        for suite, metric in metrics.items():
            a, b = by_model.get((first, suite)), by_model.get((second, suite))
            n, pair = _paired_records(a, b, metric) if a and b else (0, None)
            if n:
                shared[suite] = (n, pair)
        for suite, (n, pair) in shared.items():
            diff, low, high = paired_bootstrap([pair], n_resamples, seed)
            rows.append(_row(suite, first, second, n, diff, low, high, metric=pair[2]))
        chosen = [s for s in (average_over or averaged_suites(list(shared), suites) or list(shared)) if s in shared]
        if chosen:
            diff, low, high = paired_bootstrap([shared[s][1] for s in chosen], n_resamples, seed)
            n = sum(shared[s][0] for s in chosen)
            rows.append(_row("average", first, second, n, diff, low, high, suites=chosen))
    return rows


def clear_of_zero(rows: list[dict]) -> tuple[list[str], list[str]]:
    """The suites of one pair's rows (the average left out) whose interval lies above zero, and those below it."""
    suites = [r for r in rows if r["suite"] != "average"]
    return [r["suite"] for r in suites if r["ci_low"] > 0], [r["suite"] for r in suites if r["ci_high"] < 0]


def compare_runs(run_a: str | Path, run_b: str | Path, models: list[str] | None = None, **options) -> list[dict]:
    """Paired differences of each model the two runs share (or of ``models``), run B against run A, on the
    records both answered. Refuses, naming the suites, where the runs' prompts or answer limits differ:
    those answers are not to the same question. Rows name models as ``label @ run``."""
    a, b = _run_results(run_a), _run_results(run_b)
    labels = models or [m for m in a["models"] if m in b["models"]]
    missing = [m for m in labels if m not in a["models"] or m not in b["models"]]
    if missing or not labels:
        raise ValueError(f"model(s) {missing or 'in common'} not answered in both runs: {a['models']} / {b['models']}")
    differ = sorted(
        {
            suite
            for label in labels
            for suite in a["limits"].get(label, {})
            if suite in b["limits"].get(label, {})
            and (
                a["limits"][label][suite] != b["limits"][label][suite]
                or any(a["prompts"].get(k) != p for k, p in b["prompts"].items() if k[0] == suite and k in a["prompts"])
            )
        }
    )
    if differ:
        raise ValueError(f"the runs asked different prompts or answer limits on {', '.join(differ)}: not comparable")
    tags = (Path(run_a).name, Path(run_b).name)
    tags = tags if tags[0] != tags[1] else ("A", "B")  # a run against itself (or a same-named folder)
    scored = [{**r, "model": f"{r['model']} @ {tags[0]}"} for r in a["scored"] if r["model"] in labels]
    scored += [{**r, "model": f"{r['model']} @ {tags[1]}"} for r in b["scored"] if r["model"] in labels]
    metrics = {s: m for s, m in a["metrics"].items() if s in b["metrics"]}
    pairs = [(f"{label} @ {tags[0]}", f"{label} @ {tags[1]}") for label in labels]
    return compare(scored, metrics, pairs, suites=run_suites(run_a), **options)


def _run_results(run_dir: str | Path) -> dict:
    """A run's scored answers, each suite's metric, each model's answer limits and each item's prompt."""
    from ..files import read_json, read_jsonl

    eval_dir = Path(run_dir) / "eval"
    if not (eval_dir / "predictions.jsonl").is_file() or not (eval_dir / "metrics.json").is_file():
        raise FileNotFoundError(f"{eval_dir}: no predictions.jsonl and metrics.json; run notebook 04 for it first")
    scored, summaries = read_jsonl(eval_dir / "predictions.jsonl"), read_json(eval_dir / "metrics.json")
    limits: dict[str, dict[str, int]] = defaultdict(dict)
    for s in summaries:
        limits[s["model"]][s["suite"]] = s.get("answer_limit")
    return {
        "scored": scored,
        "models": list(dict.fromkeys(s["model"] for s in summaries)),
        "metrics": {s["suite"]: s["metric"] for s in summaries},
        "limits": limits,
        "prompts": {(r["suite"], r["id"]): r["prompt"] for r in scored},
    }


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
