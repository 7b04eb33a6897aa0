"""MedQA-USMLE as a pandas-written TSV: question, answer, options (a Python dict repr), answer_idx."""
from __future__ import annotations

import ast
import csv
from pathlib import Path

from ..records import QA
from ._base import FormatError, Peek

NAME = "medqa_tsv"
_REQUIRED = ("question", "options", "answer_idx")


def sniff(peek: Peek) -> bool:
    header = peek.first_line.split("\t")
    return all(col in header for col in _REQUIRED)


def read(path: Path) -> list[QA]:
    csv.field_size_limit(10**8)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise FormatError(path, 1, f"header lacks column(s) {missing}")
        records = []
        for row in reader:
            where = reader.line_num
            try:
                options = ast.literal_eval(row["options"])
            except (ValueError, SyntaxError):
                raise FormatError(path, where, f"options is not a dict literal: {row['options'][:60]!r}") from None
            if not isinstance(options, dict) or row["answer_idx"] not in options:
                raise FormatError(path, where, f"answer_idx {row['answer_idx']!r} is not one of the options")
            records.append(QA(id=row.get("") or str(len(records)), question=row["question"],
                              answer=row["answer_idx"], kind="mc", choices={k: str(v) for k, v in options.items()}))
    return records
