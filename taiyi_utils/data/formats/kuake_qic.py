"""KUAKE-QIC (CBLUE intent classification): JSON array of {id, query, label}."""

from __future__ import annotations

from pathlib import Path

from ..records import Classification
from ._base import Peek, field, json_array

NAME = "kuake_qic"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("query", "label") and not peek.has_keys("title")  # KUAKE-QTR pairs a query with a title


def read(path: Path) -> list[Classification]:
    return [
        Classification(
            id=str(row.get("id", i)),
            text=field(row, "query", path, f"record {i}", str),
            labels=(field(row, "label", path, f"record {i}", str),),
        )
        for i, row in enumerate(json_array(path))
    ]
