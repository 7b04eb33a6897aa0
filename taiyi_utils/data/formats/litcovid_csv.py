"""BioCreative VII LitCovid track CSV: pmid, journal, title, abstract, keywords, pub_type, authors, doi, label.

``label`` holds the topics joined by ``;`` (Treatment, Diagnosis, Prevention, Mechanism,
Transmission, Epidemic Forecasting, Case Report). One multi-label record per article, text
``title + " " + abstract``.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Classification
from ._base import FormatError, Peek, has_header, header_rows

NAME = "litcovid_csv"
_REQUIRED = ("pmid", "title", "abstract", "label")


def sniff(peek: Peek) -> bool:
    return has_header(peek, _REQUIRED, ",")


def read(path: Path) -> list[Classification]:
    records = []
    for where, row in header_rows(path, _REQUIRED, ","):
        labels = tuple(label.strip() for label in (row["label"] or "").split(";") if label.strip())
        if not labels:
            raise FormatError(path, where, f"PMID {row['pmid']}: empty label")
        records.append(
            Classification(
                id=row["pmid"], text=f"{row['title']} {row['abstract']}".strip(), labels=labels, multi_label=True
            )
        )
    return records
