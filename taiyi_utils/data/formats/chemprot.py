"""ChemProt as SciBERT ships it (JSON lines): two arguments marked ``<< >>`` and ``[[ ]]``, one relation label.

The markers give the arguments' order in the sentence, not their types: ``<< >>`` is the
first argument, ``[[ ]]`` the second, whichever is the chemical. Markers are removed and the
arguments become untyped entities ("first argument", "second argument"); the label joins them
in sentence order. For typed, directed chemical -> gene pairs use the BioCreative VI release
(``chemprot_bc6``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..records import Document, Entity, Relation
from ._base import FormatError, Peek, field, iter_jsonl

NAME = "chemprot"
FIRST, SECOND = "first argument", "second argument"
_MARK = re.compile(r"<< (.+?) >>|\[\[ (.+?) \]\]")


def sniff(peek: Peek) -> bool:
    return peek.has_keys("text", "label", "metadata")


def read(path: Path) -> list[Document]:
    docs = []
    for lineno, row in iter_jsonl(path):
        marked = field(row, "text", path, lineno, str)
        parts, entities, cursor = [], {}, 0
        for match in _MARK.finditer(marked):
            parts.append(marked[cursor : match.start()])
            start = sum(map(len, parts))
            mention = match.group(1) or match.group(2)
            kind = FIRST if match.group(1) else SECOND
            entities[kind] = Entity(start, start + len(mention), kind, mention)
            parts.append(mention)
            cursor = match.end()
        parts.append(marked[cursor:])
        if set(entities) != {FIRST, SECOND}:
            raise FormatError(path, lineno, "text should mark one argument << >> and one [[ ]]")
        relation = Relation(field(row, "label", path, lineno, str), entities[FIRST].text, entities[SECOND].text)
        docs.append(
            Document(
                id=f"{path.stem}-{lineno}",
                text="".join(parts),
                entities=sorted(entities.values(), key=lambda e: e.start),
                relations=[relation],
            )
        )
    return docs
