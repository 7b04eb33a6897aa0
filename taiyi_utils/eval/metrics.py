"""Metrics over per-example counts: micro-F1 from summed (tp, fp, fn), accuracy, macro-F1, bootstrap CIs."""
from __future__ import annotations

from collections import Counter

import numpy as np


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1; an empty denominator counts as 0 (nothing predicted / nothing to find)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def micro(counts: list[tuple[int, int, int]]) -> dict[str, float]:
    """Micro-averaged P/R/F1 over examples given as (tp, fp, fn)."""
    tp, fp, fn = (int(x) for x in np.sum(np.asarray(counts, dtype=int).reshape(-1, 3), axis=0))
    return {"n": len(counts), "tp": tp, "fp": fp, "fn": fn, **prf(tp, fp, fn)}


def macro_f1(gold: list[set[str]], pred: list[set[str]], labels: list[str] | None = None) -> float:
    """Mean over labels of each label's F1 (PromptCBLUE's metric for KUAKE-QIC)."""
    labels = labels or sorted(set().union(*gold, *pred))
    per_label = Counter()
    for g, p in zip(gold, pred):
        for label in labels:
            per_label[(label, "tp")] += label in g and label in p
            per_label[(label, "fp")] += label not in g and label in p
            per_label[(label, "fn")] += label in g and label not in p
    scores = [prf(per_label[(l, "tp")], per_label[(l, "fp")], per_label[(l, "fn")])["f1"] for l in labels]
    return float(np.mean(scores)) if scores else 0.0


def bootstrap_ci(counts: list[tuple[int, int, int]] | list[bool], metric: str, n_resamples: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval over examples for ``f1`` (counts) or ``accuracy`` (booleans)."""
    if not counts:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    data = np.asarray(counts, dtype=float)
    idx = rng.integers(0, len(data), size=(n_resamples, len(data)))
    if metric == "accuracy":
        values = data[idx].mean(axis=1)
    else:
        tp, fp, fn = (data[idx][..., k].sum(axis=1) for k in range(3))
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
    low, high = np.percentile(values, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(low), float(high)
