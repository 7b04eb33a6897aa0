"""CHIP-CDN, official CBLUE JSON array: {text, normalized_result} with the ICD-10 terms joined by '##'."""

from __future__ import annotations

from pathlib import Path

from ..records import Classification
from ._base import Peek, field, json_array

NAME = "cblue_cdn"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("text", "normalized_result")


def read(path: Path) -> list[Classification]:
    records = []
    for i, row in enumerate(json_array(path)):
        terms = field(row, "normalized_result", path, f"record {i}", str)
        records.append(
            Classification(
                id=str(row.get("id", i)),
                text=field(row, "text", path, f"record {i}", str),
                labels=tuple(dict.fromkeys(t.strip() for t in terms.split("##") if t.strip())),
                multi_label=True,
            )
        )
    return records
