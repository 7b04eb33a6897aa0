"""SQuAD v1 JSON (BioASQ factoid test files): one QA per (context, question); answers may be absent."""

from __future__ import annotations

from pathlib import Path

from ..records import QA
from ._base import Peek, field, load_json

NAME = "squad"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("data", "version")


def read(path: Path) -> list[QA]:
    data = load_json(path)
    records = []
    for article in field(data, "data", path, "top level", list):
        for paragraph in field(article, "paragraphs", path, f"article {article.get('title', '')}", list):
            context = field(paragraph, "context", path, "paragraph", str)
            for qa in field(paragraph, "qas", path, "paragraph", list):
                answers = qa.get("answers") or [{}]
                records.append(
                    QA(
                        id=field(qa, "id", path, "question", str),
                        question=field(qa, "question", path, qa["id"], str),
                        answer=answers[0].get("text", ""),
                        kind="factoid",
                        context=context,
                    )
                )
    return records
