"""CMB-Clin: JSON array of clinical cases {id, title, description, QA_pairs: [{question, answer}]}.

Each case is a multi-turn dialogue whose shared context is the case description.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Dialogue
from ._base import Peek, field, json_array

NAME = "cmb_clin"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("QA_pairs")


def read(path: Path) -> list[Dialogue]:
    records = []
    for index, case in enumerate(json_array(path)):
        where = f"record {index}"
        turns = [
            (field(qa, "question", path, where, str), field(qa, "answer", path, where, str))
            for qa in field(case, "QA_pairs", path, where, list)
        ]
        records.append(
            Dialogue(
                id=str(case.get("id", index)),
                turns=turns,
                context=field(case, "description", path, where, str),
                category=case.get("title", ""),
            )
        )
    return records
