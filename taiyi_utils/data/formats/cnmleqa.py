"""CNMLEQA (Chinese licensing exam): JSON array of {question, opa..ope, answer: 'opX'}."""

from __future__ import annotations

from pathlib import Path

from ..records import QA
from ._base import FormatError, Peek, field, json_array

NAME = "cnmleqa"
_OPTIONS = {"opa": "A", "opb": "B", "opc": "C", "opd": "D", "ope": "E"}


def sniff(peek: Peek) -> bool:
    return peek.has_keys("question", "opa", "answer")


def read(path: Path) -> list[QA]:
    records = []
    for index, row in enumerate(json_array(path)):
        where = f"record {index}"
        choices = {letter: str(row[key]) for key, letter in _OPTIONS.items() if key in row}
        answer = field(row, "answer", path, where, str)
        if answer not in _OPTIONS or _OPTIONS[answer] not in choices:
            raise FormatError(path, where, f"answer {answer!r} is not one of the options {sorted(choices)}")
        records.append(
            QA(
                id=str(row.get("id", index)),
                question=field(row, "question", path, where, str),
                answer=_OPTIONS[answer],
                kind="mc",
                choices=choices,
            )
        )
    return records
