"""PubMedQA: JSON object keyed by PMID with QUESTION, CONTEXTS and final_decision (yes/no/maybe)."""

from __future__ import annotations

from pathlib import Path

from ..records import QA
from ._base import FormatError, Peek, field, load_json

NAME = "pubmedqa"
ANSWERS = ("yes", "no", "maybe")


def sniff(peek: Peek) -> bool:
    obj = peek.first_object
    return (
        isinstance(obj, dict)
        and bool(obj)
        and isinstance(next(iter(obj.values())), dict)
        and "QUESTION" in next(iter(obj.values()))
    )


def read(path: Path) -> list[QA]:
    data = load_json(path)
    if not isinstance(data, dict):
        raise FormatError(path, 1, "expected a JSON object keyed by PMID")
    records = []
    for pmid, item in data.items():
        where = f"PMID {pmid}"
        if not isinstance(item, dict):
            raise FormatError(
                path,
                where,
                "expected an object with QUESTION, CONTEXTS, final_decision "
                "(a label-only map such as test_ground_truth.json has no questions)",
            )
        answer = field(item, "final_decision", path, where, str)
        if answer not in ANSWERS:
            raise FormatError(path, where, f"final_decision {answer!r} is not one of {ANSWERS}")
        contexts = field(item, "CONTEXTS", path, where, list)
        if not all(isinstance(c, str) for c in contexts):
            raise FormatError(path, where, "field 'CONTEXTS' should be a list of strings")
        context = " ".join(contexts)
        records.append(
            QA(
                id=pmid,
                question=field(item, "QUESTION", path, where, str),
                answer=answer,
                kind="yesnomaybe",
                context=context,
            )
        )
    return records
