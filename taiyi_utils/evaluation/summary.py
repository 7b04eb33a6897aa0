"""A suite's score for one model: its metric with a 95% interval, P/R/F1 or accuracy, format and cut rates."""

from __future__ import annotations

from .. import tasks
from .metrics import bootstrap_ci, by_record, item_statistics, macro_f1, micro, suite_labels, wilson
from .suites import load_suites


def summarize(suite: str, scored: list[dict], metric: str, n_resamples: int = 1000, seed: int = 0) -> dict:
    """``metric`` (the suite's score) with a 95% interval, plus P/R/F1, macro-F1 or accuracy, format and cut rates.

    Accuracies get a Wilson interval; F1 scores a percentile bootstrap over records (a record's
    prompts, such as one per entity type, are drawn together), Wilson's over records where the score
    is 0 or 1 (``metrics.bootstrap_ci``). Macro-F1 averages per-label F1 over the labels the prompts
    offered (BLURB's HoC score, PromptCBLUE's KUAKE-QIC score), leaving out a label with nothing to find
    and nothing predicted. ``gold`` counts the gold items an F1 rests on (tp + fn).
    """
    summary = {
        "suite": suite,
        "metric": metric,
        "items": len(scored),
        "records": len({s["record_id"] for s in scored}),
        "format_rate": sum(s["format_ok"] for s in scored) / len(scored) if scored else 0.0,
        "cut_rate": sum(s.get("cut", False) for s in scored) / len(scored) if scored else 0.0,
    }
    labels = suite_labels(scored)
    if "correct" in (scored[0] if scored else {}):
        correct = sum(bool(s["correct"]) for s in scored)
        summary["accuracy"] = correct / len(scored)
        low, high = wilson(correct, len(scored))
    else:
        summary.update(
            {
                k: v
                for k, v in micro([s["counts"] for s in scored]).items()
                if k in ("precision", "recall", "f1", "tp", "fp", "fn")
            }
        )
        summary.update(micro_f1=summary["f1"], gold=summary["tp"] + summary["fn"])
        if labels:
            summary["macro_f1"] = macro_f1([set(s["gold"]) for s in scored], [set(s["pred"]) for s in scored], labels)
    if metric not in summary:
        raise ValueError(f"suite {suite!r}: metric {metric!r} does not apply to {scored[0]['task']!r} items")
    if metric != "accuracy":
        _, per_record = by_record(item_statistics(scored, metric, labels), [s["record_id"] for s in scored])
        low, high = bootstrap_ci(per_record, metric, n_resamples, seed)
    summary.update(score=summary[metric], ci_low=low, ci_high=high)
    return summary


def suite_metric(suite: str, rows: list[dict]) -> str:
    """The metric a suite declares (curation writes it on each item; else the shipped registry; else its task's)."""
    if rows and rows[0].get("metric"):
        return rows[0]["metric"]
    spec = load_suites().get(suite)
    return spec.metric if spec else tasks.get_task(rows[0]["task"]).metric if rows else "micro_f1"
