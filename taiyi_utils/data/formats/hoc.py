"""Hallmarks of Cancer, BLURB TSV: ``labels<TAB>sentence<TAB>index`` with labels like ``0_0,1_1,...``.

Sentence level (BLURB scores the union per abstract; ``index`` is PMID_sN). Flag k
maps to the k-th hallmark in alphabetical order, the order BLURB's label files use.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..records import Classification
from ._base import FormatError, Peek

NAME = "hoc"
HALLMARKS = (
    "activating invasion and metastasis",
    "avoiding immune destruction",
    "cellular energetics",
    "enabling replicative immortality",
    "evading growth suppressors",
    "genomic instability and mutation",
    "inducing angiogenesis",
    "resisting cell death",
    "sustaining proliferative signaling",
    "tumor promoting inflammation",
)


def sniff(peek: Peek) -> bool:
    return peek.first_line.split("\t")[:2] == ["labels", "sentence"]


def _labels(flags: str, path: Path, lineno: int) -> tuple[str, ...]:
    labels = []
    for flag in flags.split(","):
        key, _, value = flag.partition("_")
        if not (key.isdigit() and int(key) < len(HALLMARKS) and value in ("0", "1")):
            raise FormatError(path, lineno, f"label flag {flag!r} is not k_0/k_1 with k in 0..9")
        if value == "1":
            labels.append(HALLMARKS[int(key)])
    return tuple(labels)


def read(path: Path) -> list[Classification]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise FormatError(path, 1, "empty file; expected header 'labels<TAB>sentence<TAB>index'")
        if header[:2] != ["labels", "sentence"]:
            raise FormatError(path, 1, f"expected header 'labels<TAB>sentence<TAB>index', got {header}")
        records = []
        for row in reader:
            if len(row) != 3:
                raise FormatError(path, reader.line_num, f"expected 3 tab-separated columns, got {len(row)}")
            records.append(
                Classification(id=row[2], text=row[1], labels=_labels(row[0], path, reader.line_num), multi_label=True)
            )
    return records
