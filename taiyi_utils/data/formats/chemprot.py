"""ChemProt (SciBERT JSON lines): protein marked ``<< >>``, chemical ``[[ ]]``, one relation label.

Markers are removed; both arguments become entities with offsets in the clean text
and the label becomes a (chemical -> protein) relation.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..records import Document, Entity, Relation
from ._base import FormatError, Peek, field, iter_jsonl

NAME = "chemprot"
_MARK = re.compile(r"<< (.+?) >>|\[\[ (.+?) \]\]")


def sniff(peek: Peek) -> bool:
    return peek.has_keys("text", "label", "metadata")


def read(path: Path) -> list[Document]:
    docs = []
    for lineno, row in iter_jsonl(path):
        marked = field(row, "text", path, lineno, str)
        parts, entities, cursor = [], {}, 0
        for match in _MARK.finditer(marked):
            parts.append(marked[cursor:match.start()])
            start = sum(map(len, parts))
            mention = match.group(1) or match.group(2)
            kind = "protein" if match.group(1) else "chemical"
            entities[kind] = Entity(start, start + len(mention), kind, mention)
            parts.append(mention)
            cursor = match.end()
        parts.append(marked[cursor:])
        if set(entities) != {"protein", "chemical"}:
            raise FormatError(path, lineno, "text should mark one protein << >> and one chemical [[ ]]")
        relation = Relation(field(row, "label", path, lineno, str), entities["chemical"].text, entities["protein"].text)
        docs.append(Document(id=f"{path.stem}-{lineno}", text="".join(parts),
                             entities=sorted(entities.values(), key=lambda e: e.start), relations=[relation]))
    return docs
