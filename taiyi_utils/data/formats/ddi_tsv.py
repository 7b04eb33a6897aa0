"""DDI in BLURB TSV: ``pair_id<TAB>sentence with @DRUG$ placeholders<TAB>DDI-label``, no header."""

from __future__ import annotations

import csv
from pathlib import Path

from ..records import Classification
from ._base import FormatError, Peek

NAME = "ddi_tsv"


def sniff(peek: Peek) -> bool:
    cols = peek.first_line.split("\t")
    return len(cols) == 3 and cols[2].startswith("DDI-")


def read(path: Path) -> list[Classification]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        records = []
        for row in reader:
            if len(row) != 3 or not row[2].startswith("DDI-"):
                raise FormatError(path, reader.line_num, "expected 'pair_id<TAB>sentence<TAB>DDI-label'")
            records.append(Classification(id=row[0], text=row[1].strip(), labels=(row[2],)))
    return records
