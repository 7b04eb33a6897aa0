"""MedQA release JSON lines (US, Mainland): {question, options: {letter: text}, answer, answer_idx, meta_info}."""

from __future__ import annotations

from pathlib import Path

from ..records import QA
from ._base import FormatError, Peek, field, iter_jsonl

NAME = "medqa_jsonl"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("question", "options", "answer_idx")


def read(path: Path) -> list[QA]:
    records = []
    for lineno, row in iter_jsonl(path):
        options = field(row, "options", path, lineno, dict)
        answer = field(row, "answer_idx", path, lineno, str)
        if answer not in options:
            raise FormatError(path, lineno, f"answer_idx {answer!r} is not one of the options {sorted(options)}")
        records.append(
            QA(
                id=f"{path.stem}-{lineno}",
                question=field(row, "question", path, lineno, str),
                answer=answer,
                kind="mc",
                choices={k: str(v) for k, v in options.items()},
            )
        )
    return records
