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
    scores = [
        prf(per_label[(label, "tp")], per_label[(label, "fp")], per_label[(label, "fn")])["f1"] for label in labels
    ]
    return float(np.mean(scores)) if scores else 0.0


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


def bootstrap_ci(
    data: list,
    metric: str,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    labels: list[str] | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval over examples.

    ``data`` is booleans for ``accuracy``, (tp, fp, fn) per example for ``f1`` (micro), and
    (gold set, predicted set) per example for ``macro_f1`` over ``labels``.
    """
    if not data:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(data), size=(n_resamples, len(data)))
    if metric == "accuracy":
        values = np.asarray(data, dtype=float)[idx].mean(axis=1)
    else:
        if metric == "macro_f1":
            gold, pred = zip(*data)
            labels = labels or sorted(set().union(*gold, *pred))
            counts = label_counts(list(gold), list(pred), labels)[idx].sum(axis=1)  # (resamples, labels, 3)
        else:
            counts = np.asarray(data, dtype=float)[idx].sum(axis=1)  # (resamples, 3)
        tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
        values = f1.mean(axis=-1) if metric == "macro_f1" else f1
    low, high = np.percentile(values, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(low), float(high)
