"""IOB / CoNLL token files: ``token<TAB>tag`` (or space-separated columns, tag last).

Accepts IOB1 and IOB2 (and S-/E- of IOBES), typed tags (``B-Disease``) or bare
``B``/``I`` (typed as ``entity``), and ``-DOCSTART-`` lines. Each sentence becomes a
Document whose text is its tokens joined by single spaces.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..records import Document, Entity
from ._base import FormatError, Peek

NAME = "iob"
UNTYPED = "entity"
_TAG = re.compile(r"^(O|([BIES])(?:-(.+))?)$")


def _columns(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def sniff(peek: Peek) -> bool:
    for line in peek.head.splitlines()[:20]:
        if line.strip() and not line.startswith("-DOCSTART-"):
            cols = _columns(line)
            return len(cols) >= 2 and bool(_TAG.match(cols[-1]))
    return False


def _sentence(rows: list[tuple[int, str, str]], doc_id: str) -> Document:
    text_parts, entities = [], []
    open_type, open_start, offset = None, 0, 0
    prev_end = 0

    def close():
        nonlocal open_type
        if open_type is not None:
            entities.append(Entity(open_start, prev_end, open_type, " ".join(text_parts)[open_start:prev_end]))
            open_type = None

    for _, token, tag in rows:
        start = offset
        match = _TAG.match(tag)
        prefix, kind = match.group(2), match.group(3) or UNTYPED
        if prefix is None:
            close()
        elif prefix in "BS" or open_type != kind:
            close()
            open_type, open_start = kind, start
        text_parts.append(token)
        offset = start + len(token) + 1
        prev_end = start + len(token)
        if prefix in ("S", "E"):
            close()
    close()
    return Document(id=doc_id, text=" ".join(text_parts), entities=entities)


def read(path: Path) -> list[Document]:
    docs, rows = [], []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.rstrip("\n\r")
            if line.startswith("-DOCSTART-"):
                continue
            if not line.strip():
                if rows:
                    docs.append(_sentence(rows, f"{path.stem}-{len(docs)}"))
                    rows = []
                continue
            cols = _columns(line)
            if len(cols) < 2:
                raise FormatError(path, lineno, f"expected 'token<TAB>tag', got {line!r}")
            if not _TAG.match(cols[-1]):
                raise FormatError(path, lineno, f"tag {cols[-1]!r} is not O, B-X, I-X, S-X or E-X")
            rows.append((lineno, cols[0], cols[-1]))
    if rows:
        docs.append(_sentence(rows, f"{path.stem}-{len(docs)}"))
    return docs
