"""CHIP-CTC (clinical trial criteria, 44 classes), official CBLUE JSON array: {id, label, text}."""

from __future__ import annotations

from pathlib import Path

from ..records import Classification
from ._base import Peek, field, json_array

NAME = "chip_ctc"


def sniff(peek: Peek) -> bool:
    obj = peek.first_object
    return peek.has_keys("id", "label", "text") and set(obj) <= {"id", "label", "text"}


def read(path: Path) -> list[Classification]:
    return [
        Classification(
            id=str(row.get("id", i)),
            text=field(row, "text", path, f"record {i}", str).strip(),
            labels=(field(row, "label", path, f"record {i}", str),),
        )
        for i, row in enumerate(json_array(path))
    ]
