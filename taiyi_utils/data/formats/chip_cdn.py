"""CHIP-CDN in the PromptCBLUE-style JSON lines of the shared copy.

The raw diagnosis is the second line of ``input`` (newlines stored as a literal
backslash-n); ``target`` holds the standard ICD-10 term(s) joined by '，', which
become the record's labels. Unlabelled test rows have no labels.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Classification
from ._base import FormatError, Peek, field, iter_jsonl

NAME = "chip_cdn"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("input", "target", "task_dataset") and peek.first_object["task_dataset"] == "CHIP-CDN"


def read(path: Path) -> list[Classification]:
    records = []
    for lineno, row in iter_jsonl(path):
        if row.get("task_dataset") != "CHIP-CDN":
            raise FormatError(path, lineno, f"task_dataset is {row.get('task_dataset')!r}, not CHIP-CDN")
        lines = field(row, "input", path, lineno, str).replace("\\n", "\n").split("\n")
        if len(lines) < 2:
            raise FormatError(path, lineno, "input has no second line holding the diagnosis")
        target = field(row, "target", path, lineno, str)
        labels = tuple(t for t in target.split("，") if t)
        records.append(
            Classification(
                id=str(row.get("sample_id", lineno)), text=lines[1].strip("\ufeff "), labels=labels, multi_label=True
            )
        )
    return records
