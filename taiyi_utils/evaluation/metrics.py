"""Metrics over per-example counts: micro-F1 from summed (tp, fp, fn), accuracy, macro-F1; bootstrap, paired
bootstrap and Wilson intervals."""

from __future__ import annotations

import math

import numpy as np

from .. import tasks


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1. Nothing to find and nothing claimed is 1 throughout (no error was made);
    otherwise an empty denominator is 0 (nothing predicted, or nothing to find but something claimed)."""
    if tp + fp + fn == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall, "f1": float(metric_of(np.array([tp, fp, fn]), "micro_f1"))}


def micro(counts: list[tuple[int, int, int]]) -> dict[str, float]:
    """Micro-averaged P/R/F1 over examples given as (tp, fp, fn)."""
    tp, fp, fn = (int(x) for x in np.sum(np.asarray(counts, dtype=int).reshape(-1, 3), axis=0))
    return {"n": len(counts), "tp": tp, "fp": fp, "fn": fn, **prf(tp, fp, fn)}


def macro_f1(gold: list[set[str]], pred: list[set[str]], labels: list[str] | None = None) -> float:
    """Mean over labels of each label's F1 (BLURB's HoC score, PromptCBLUE's for KUAKE-QIC); a label with
    nothing to find and nothing predicted is left out (see ``metric_of``)."""
    labels = labels or sorted(set().union(*gold, *pred))
    return float(metric_of(label_counts(gold, pred, labels).sum(axis=0), "macro_f1"))


def label_counts(gold: list[set[str]], pred: list[set[str]], labels: list[str]) -> np.ndarray:
    """(examples, labels, 3) array of per-label tp / fp / fn: what macro-F1 sums over."""
    return np.array(
        [
            [
                (label in g and label in p, label not in g and label in p, label in g and label not in p)
                for label in labels
            ]
            for g, p in zip(gold, pred)
        ],
        dtype=float,
    ).reshape(len(gold), len(labels), 3)


def suite_labels(scored: list[dict]) -> list[str]:
    """The labels a classification or normalisation suite's prompts offered (macro-F1 averages over them)."""
    if not scored or not tasks.get_task(scored[0]["task"]).macro_over_options:
        return []
    offered = set().union(*(s.get("options") or () for s in scored))
    return sorted(offered or set().union(*(s["gold"] for s in scored), *(s["pred"] for s in scored)))


def item_statistics(scored: list[dict], metric: str, labels: list[str] | None = None) -> np.ndarray:
    """Per scored item, the sums its suite's ``metric`` is computed from (``metric_of`` turns their total
    into the score): (correct, 1) for accuracy, (tp, fp, fn) for micro-F1, per-label (tp, fp, fn) for
    macro-F1 over ``labels``."""
    if metric == "accuracy":
        return np.array([(bool(s["correct"]), 1) for s in scored], dtype=float).reshape(-1, 2)
    if metric == "macro_f1":
        return label_counts([set(s["gold"]) for s in scored], [set(s["pred"]) for s in scored], labels or [])
    return np.asarray([s["counts"] for s in scored], dtype=float).reshape(-1, 3)


def metric_of(total: np.ndarray, metric: str) -> np.ndarray:
    """The metric of summed statistics; leading axes (resamples) are kept.

    An F1 with nothing to find and nothing claimed (tp = fp = fn = 0) is undefined: it is 1 for micro-F1
    (no error was made) and left out of macro-F1's mean, so a label that a slice (or a resample of it)
    happens to lack neither pulls a perfect model below 1 nor lifts a poor one.
    """
    if metric == "accuracy":
        return total[..., 0] / np.maximum(total[..., 1], 1)
    tp, fp, fn = total[..., 0], total[..., 1], total[..., 2]
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.ones_like(denominator, dtype=float), where=denominator > 0)
    if metric != "macro_f1":
        return f1
    defined = denominator > 0
    return np.where(defined.any(axis=-1), (f1 * defined).sum(axis=-1) / np.maximum(defined.sum(axis=-1), 1), 1.0)


def by_record(stats: np.ndarray, record_ids: list[str]) -> tuple[list[str], np.ndarray]:
    """Statistics summed per record (a record's prompts, e.g. one per entity type, are resampled together)."""
    order = list(dict.fromkeys(record_ids))
    index = {r: i for i, r in enumerate(order)}
    total = np.zeros((len(order), *stats.shape[1:]))
    np.add.at(total, [index[r] for r in record_ids], stats)
    return order, total


def resamples(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of ``n_resamples`` draws of ``n`` rows with replacement."""
    return rng.integers(0, n, size=(n_resamples, n))


def bootstrap_ci(
    stats: np.ndarray, metric: str, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over the rows of ``stats`` (records or items).

    Where the score is 0 or 1 every resample repeats it and the percentile interval collapses to a
    point; there the interval is Wilson's for ``len(stats)`` records all wrong or all right, which is
    as much as n records can show.
    """
    if not len(stats):
        return (0.0, 0.0)
    score = float(metric_of(stats.sum(axis=0), metric))
    if score in (0.0, 1.0):
        return wilson(int(score) * len(stats), len(stats))
    idx = resamples(len(stats), n_resamples, np.random.default_rng(seed))
    return _percentiles(metric_of(stats[idx].sum(axis=1), metric), level)


def paired_bootstrap(
    pairs: list[tuple[np.ndarray, np.ndarray, str]], n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(b - a, low, high): the mean over suites of ``metric(b) - metric(a)`` with a paired percentile interval.

    Each pair holds two models' statistics on the same records, row for row, and the suite's metric;
    a resample draws one set of records per suite and scores both models on it, so the interval
    reflects only how the two differ on shared items, not how hard the items are.
    """
    rng = np.random.default_rng(seed)
    diff, draws = 0.0, np.zeros(n_resamples)
    for a, b, metric in pairs:
        idx = resamples(len(a), n_resamples, rng)
        diff += float(metric_of(b.sum(axis=0), metric) - metric_of(a.sum(axis=0), metric))
        draws += metric_of(b[idx].sum(axis=1), metric) - metric_of(a[idx].sum(axis=1), metric)
    low, high = _percentiles(draws / len(pairs), level)
    return diff / len(pairs), low, high


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.percentile(values, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(low), float(high)


def wilson(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of an accuracy (95% by default): sensible at 0 or n correct, unlike the bootstrap's."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
