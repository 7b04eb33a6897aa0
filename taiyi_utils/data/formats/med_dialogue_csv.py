"""Chinese medical dialogue data: GB18030 CSV ``department,title,ask,answer``, one QA per row."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..records import Dialogue
from ._base import FormatError, Peek

NAME = "med_dialogue_csv"
HEADER = ["department", "title", "ask", "answer"]


def sniff(peek: Peek) -> bool:
    if peek.path.suffix.lower() != ".csv":
        return False
    with peek.path.open("rb") as handle:
        first = handle.readline().decode("gb18030", errors="replace").strip()
    return first.split(",") == HEADER


def read(path: Path) -> list[Dialogue]:
    raw = path.read_bytes()
    try:  # the corpus ships GB18030, but a UTF-8 copy would decode as GB18030 into mojibake: try UTF-8 first
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError as err:
            raise FormatError(path, raw[: err.start].count(b"\n") + 1, "neither UTF-8 nor GB18030 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    if next(reader, None) != HEADER:
        raise FormatError(path, 1, f"expected header {','.join(HEADER)}")
    records = []
    for row in reader:
        if len(row) != 4:
            raise FormatError(path, reader.line_num, f"expected 4 columns, got {len(row)}")
        department, title, ask, answer = row
        records.append(
            Dialogue(
                id=f"{path.stem}-{reader.line_num}", turns=[(ask.strip() or title, answer.strip())], category=department
            )
        )
    return records
