"""PromptCBLUE: JSON lines of ready-made Chinese instructions {input, target, task_dataset}."""

from __future__ import annotations

from pathlib import Path

from ..records import Dialogue
from ._base import Peek, field, iter_jsonl

NAME = "promptcblue"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("input", "target", "task_type") and peek.first_object.get("task_dataset") != "CHIP-CDN"


def read(path: Path) -> list[Dialogue]:
    return [
        Dialogue(
            id=str(row.get("sample_id", lineno)),
            turns=[(field(row, "input", path, lineno, str), field(row, "target", path, lineno, str))],
            category=str(row.get("task_dataset", "")),
        )
        for lineno, row in iter_jsonl(path)
    ]
