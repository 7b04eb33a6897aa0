"""MedQA-USMLE as a pandas-written TSV: question, answer, options (a Python dict repr), answer_idx."""

from __future__ import annotations

import ast
from pathlib import Path

from ..records import QA
from ._base import FormatError, Peek, has_header, header_rows

NAME = "medqa_tsv"
_REQUIRED = ("question", "options", "answer_idx")


def sniff(peek: Peek) -> bool:
    return has_header(peek, _REQUIRED, "\t")


def read(path: Path) -> list[QA]:
    records = []
    for where, row in header_rows(path, _REQUIRED, "\t"):
        try:
            options = ast.literal_eval(row["options"])
        except (ValueError, SyntaxError):
            raise FormatError(path, where, f"options is not a dict literal: {row['options'][:60]!r}") from None
        if not isinstance(options, dict) or row["answer_idx"] not in options:
            raise FormatError(path, where, f"answer_idx {row['answer_idx']!r} is not one of the options")
        records.append(
            QA(
                id=row.get("") or str(len(records)),
                question=row["question"],
                answer=row["answer_idx"],
                kind="mc",
                choices={k: str(v) for k, v in options.items()},
            )
        )
    return records
