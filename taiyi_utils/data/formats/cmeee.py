"""CMeEE (CBLUE NER): JSON array of {text, entities: [{start_idx, end_idx (inclusive), type, entity}]}.

Entities may nest; test files carry empty entity lists.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Document, Entity
from ._base import Peek, check_span, field, json_array

NAME = "cmeee"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("text", "entities") and not peek.has_keys("passages")


def read(path: Path) -> list[Document]:
    docs = []
    for index, row in enumerate(json_array(path)):
        where = f"record {index}"
        text = field(row, "text", path, where, str)
        entities = []
        for ent in field(row, "entities", path, where, list):
            start, end = field(ent, "start_idx", path, where, int), field(ent, "end_idx", path, where, int) + 1
            mention = field(ent, "entity", path, where, str)
            check_span(path, where, start, end, text, mention)
            entities.append(Entity(start, end, field(ent, "type", path, where, str), mention))
        docs.append(Document(id=str(row.get("id", index)), text=text, entities=entities))
    return docs
