"""CMeIE (CBLUE RE): JSON lines of {text, spo_list: [{subject, predicate, object: {"@value"}}]}."""

from __future__ import annotations

from pathlib import Path

from ..records import Document, Relation
from ._base import FormatError, Peek, field, iter_jsonl

NAME = "cmeie"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("text", "spo_list")


def _value(value, path: Path, lineno: int) -> str:
    value = value.get("@value") if isinstance(value, dict) else value
    if not isinstance(value, str):
        raise FormatError(path, lineno, "spo object should be a string or {'@value': string}")
    return value


def read(path: Path) -> list[Document]:
    docs = []
    for lineno, row in iter_jsonl(path):
        relations = [
            Relation(
                field(spo, "predicate", path, lineno, str),
                field(spo, "subject", path, lineno, str),
                _value(field(spo, "object", path, lineno), path, lineno),
            )
            for spo in field(row, "spo_list", path, lineno, list)
        ]
        docs.append(
            Document(id=f"{path.stem}-{lineno}", text=field(row, "text", path, lineno, str), relations=relations)
        )
    return docs
