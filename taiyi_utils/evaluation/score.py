"""One evaluation row against a model output, through the task registry (``taiyi_utils.tasks``).

The scoring decisions themselves are listed in ``taiyi_utils/tasks.py``.
"""

from __future__ import annotations

from .. import tasks


def score_row(row: dict, output: str) -> dict:
    """One evaluation item against a model output: counts (or correctness), parse and errors."""
    task, item = row["task"], tasks.item_of(row)
    spec = tasks.get_task(task)
    pred = spec.parse(output, item)
    outcome, errors = spec.score(tasks.gold_structure(row), pred, item)
    result = {
        "id": row["conversation_id"],
        "suite": row.get("suite", ""),
        "task": task,
        "language": row["language"],
        "record_id": row["record_id"],
        "prompt": row["conversation"][0]["human"],
        "output": output,
        "source_text": row.get("source_text", ""),
        "format_ok": tasks.follows_format(row, output),
        "options": row.get("options") or [],
        "errors": errors,
    }
    if spec.metric == "accuracy":
        return {**result, "gold": row["gold"], "pred": pred, "correct": outcome}
    structured = spec.structured
    return {
        **result,
        "gold": sorted(map(list, row["gold"])) if structured else row["gold"],
        "pred": sorted(map(list, pred)) if structured else sorted(pred),
        "counts": outcome,
    }
