"""Firefly / Taiyi instruction JSON lines: {conversation_id, dataset, category, conversation: [{human, assistant}]}."""

from __future__ import annotations

from pathlib import Path

from ..records import Dialogue
from ._base import FormatError, Peek, field, iter_jsonl

NAME = "firefly"


def sniff(peek: Peek) -> bool:
    return peek.has_keys("conversation")


def read(path: Path) -> list[Dialogue]:
    records = []
    for lineno, row in iter_jsonl(path):
        turns = []
        for turn in field(row, "conversation", path, lineno, list):
            if not isinstance(turn, dict) or not {"human", "assistant"} <= set(turn):
                raise FormatError(path, lineno, "each conversation turn needs 'human' and 'assistant'")
            turns.append((turn["human"], turn["assistant"]))
        records.append(
            Dialogue(id=str(row.get("conversation_id", lineno)), turns=turns, category=row.get("category", ""))
        )
    return records
