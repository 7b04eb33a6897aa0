"""CBLUE text-pair tasks, official JSON arrays: CHIP-STS {text1, text2, label}, KUAKE-QQR {query1, query2,
label}, KUAKE-QTR {query, title, label}. Labels stay the corpus' codes; sources.yaml names them."""

from __future__ import annotations

from pathlib import Path

from ..records import TextPair
from ._base import FormatError, Peek, field, json_array

NAME = "cblue_pairs"
KEYS = (("text1", "text2"), ("query1", "query2"), ("query", "title"))


def sniff(peek: Peek) -> bool:
    return any(peek.has_keys(*pair, "label") for pair in KEYS)


def read(path: Path) -> list[TextPair]:
    rows = json_array(path)
    first = rows[0] if rows and isinstance(rows[0], dict) else {}
    keys = next((pair for pair in KEYS if all(k in first for k in pair)), None)
    if keys is None:
        raise FormatError(path, "record 0", f"expected one of the key pairs {KEYS} and 'label'")
    records = []
    for index, row in enumerate(rows):
        where = f"record {index}"
        label = str(field(row, "label", path, where, (str, int)))
        if label in ("", "NA"):  # unlabelled rows teach nothing
            continue
        records.append(
            TextPair(
                id=str(row.get("id", index)),
                text_1=field(row, keys[0], path, where, str),
                text_2=field(row, keys[1], path, where, str),
                label=label,
            )
        )
    return records
