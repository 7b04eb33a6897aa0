"""BioASQ golden JSON: {"questions": [{id, body, type, exact_answer, ideal_answer, snippets}]}.

factoid keeps the first synonym of the first answer; list joins the first synonym
of each answer with '; '; summary questions become open QA with the ideal answer.
"""

from __future__ import annotations

from pathlib import Path

from ..records import QA
from ._base import FormatError, Peek, field, load_json

NAME = "bioasq"
_KIND = {"factoid": "factoid", "list": "list", "yesno": "yesno", "summary": "open"}


def sniff(peek: Peek) -> bool:
    return peek.has_keys("questions")


def _first(value):
    while isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def _answer(question: dict, kind: str, path: Path, where: str) -> str:
    if kind == "open":
        return _first(question.get("ideal_answer", ""))
    exact = field(question, "exact_answer", path, where)
    if kind == "list":
        return "; ".join(_first(item) for item in exact)
    return _first(exact)


def read(path: Path) -> list[QA]:
    data = load_json(path)
    records = []
    for index, question in enumerate(field(data, "questions", path, "top level", list)):
        where = f"question {index}"
        qtype = field(question, "type", path, where, str)
        if qtype not in _KIND:
            raise FormatError(path, where, f"type {qtype!r} is not one of {sorted(_KIND)}")
        kind = _KIND[qtype]
        context = " ".join(s.get("text", "") for s in question.get("snippets", []))
        records.append(
            QA(
                id=field(question, "id", path, where, str),
                question=field(question, "body", path, where, str),
                answer=_answer(question, kind, path, where),
                kind=kind,
                context=context,
            )
        )
    return records
