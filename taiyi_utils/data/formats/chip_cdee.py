"""CHIP-CDEE (clinical finding events): JSON array of {id, text, event: [{core_name, tendency, character, anatomy_list}]}.

One Document per text; each event's trigger is its core name (主体词), its arguments the
tendency (发生状态, stripped: the data has "不确定 " once with a trailing space), each
character word (描述词) and each anatomy (解剖部位), in the file's order.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Document, Event
from ._base import FormatError, Peek, field, json_array

NAME = "chip_cdee"
EVENT_TYPE = "临床发现"
ROLES = {"tendency": "发生状态", "character": "描述词", "anatomy_list": "解剖部位"}


def sniff(peek: Peek) -> bool:
    return peek.has_keys("text", "event")


def _event(raw: dict, path: Path, where: str) -> Event:
    if not isinstance(raw, dict):
        raise FormatError(path, where, f"event should be an object, got {type(raw).__name__}")
    arguments = []
    for key, role in ROLES.items():
        value = raw.get(key) or []
        for item in [value] if isinstance(value, str) else value:
            if item.strip():
                arguments.append((role, item.strip()))
    return Event(EVENT_TYPE, field(raw, "core_name", path, where, str), tuple(arguments))


def read(path: Path) -> list[Document]:
    docs = []
    for index, row in enumerate(json_array(path)):
        where = f"record {index}"
        events = [_event(e, path, f"{where} event {k}") for k, e in enumerate(field(row, "event", path, where, list))]
        docs.append(Document(id=str(row.get("id", index)), text=field(row, "text", path, where, str), events=events))
    return docs
