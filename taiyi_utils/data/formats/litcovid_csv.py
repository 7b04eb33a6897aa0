"""BioCreative VII LitCovid track CSV: pmid, journal, title, abstract, keywords, pub_type, authors, doi, label.

``label`` holds the topics joined by ``;`` (Treatment, Diagnosis, Prevention, Mechanism,
Transmission, Epidemic Forecasting, Case Report). One multi-label record per article, text
``title + " " + abstract``.
"""
from __future__ import annotations

import csv
from pathlib import Path

from ..records import Classification
from ._base import FormatError, Peek

NAME = "litcovid_csv"
_REQUIRED = ("pmid", "title", "abstract", "label")


def sniff(peek: Peek) -> bool:
    header = peek.first_line.split(",")
    return all(col in header for col in _REQUIRED)


def read(path: Path) -> list[Classification]:
    csv.field_size_limit(10**8)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise FormatError(path, 1, f"header lacks column(s) {missing}; found {reader.fieldnames}")
        records = []
        for row in reader:
            labels = tuple(label.strip() for label in (row["label"] or "").split(";") if label.strip())
            if not labels:
                raise FormatError(path, reader.line_num, f"PMID {row['pmid']}: empty label")
            records.append(Classification(id=row["pmid"], text=f"{row['title']} {row['abstract']}".strip(),
                                          labels=labels, multi_label=True))
    return records
