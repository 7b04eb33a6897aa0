"""BigBIO schemas (kb, text, qa, pairs, t2t) from a local export: JSON lines or parquet.

BigBIO's hub loaders are scripts, which ``datasets`` 4 no longer runs; export a dataset once
(or use its parquet conversion) and read the file.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from pathlib import Path

from ..records import QA, Classification, Document, Entity, Event, Record, Relation, TextPair, Translation
from ._base import FormatError, Peek, field, iter_jsonl

NAME = "bigbio"


_SCHEMA_KEYS = (
    ("passages", "entities"),
    ("question_id", "choices"),
    ("document_id", "text", "labels"),
    ("text_1", "text_2"),
)


def sniff(peek: Peek) -> bool:
    if peek.path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        names = set(pq.read_schema(peek.path).names)
        return any(set(keys) <= names for keys in _SCHEMA_KEYS)
    return any(peek.has_keys(*keys) for keys in _SCHEMA_KEYS)


def _kb(row: dict, path, where) -> Document:
    where = f"line {where}" if isinstance(where, int) else where
    text = ""
    for k, passage in enumerate(field(row, "passages", path, where, list)):
        at = f"{where} passage {k}"
        pieces, offsets = field(passage, "text", path, at, list), field(passage, "offsets", path, at, list)
        if len(pieces) != len(offsets) or not all(isinstance(o, list) and len(o) == 2 for o in offsets):
            raise FormatError(path, at, "offsets should hold one [start, end] pair per text piece")
        for piece, (start, _) in zip(pieces, offsets):
            text = text.ljust(start) + piece
    entities, by_id = [], {}
    for k, ent in enumerate(field(row, "entities", path, where, list)):
        at = f"{where} entity {k}"
        offsets = field(ent, "offsets", path, at, list)
        if not offsets or not all(isinstance(o, list) and len(o) == 2 for o in offsets):
            raise FormatError(path, at, "offsets should be a list of [start, end] pairs")
        ids = tuple(f"{n['db_name']}:{n['db_id']}" for n in ent.get("normalized", []))
        entity = Entity(
            offsets[0][0],
            offsets[-1][1],
            field(ent, "type", path, at, str),
            " ".join(field(ent, "text", path, at, list)),
            ids,
        )
        if not 0 <= entity.start < entity.end <= len(text):
            raise FormatError(path, at, f"offsets {entity.start}-{entity.end} are outside 0-{len(text)} or reversed")
        entities.append(entity)
        by_id[ent["id"]] = entity
    relations = []
    for rel in row.get("relations", []):
        if rel["arg1_id"] not in by_id or rel["arg2_id"] not in by_id:
            raise FormatError(path, where, f"relation {rel['id']} names an unknown entity")
        relations.append(Relation(rel["type"], by_id[rel["arg1_id"]].text, by_id[rel["arg2_id"]].text))
    events = [
        Event(
            ev["type"],
            " ".join(ev["trigger"]["text"]),
            tuple(
                (arg["role"], by_id[arg["ref_id"]].text) for arg in ev.get("arguments", []) if arg["ref_id"] in by_id
            ),
        )
        for ev in row.get("events", [])
    ]
    return Document(
        id=str(row.get("document_id", row.get("id"))), text=text, entities=entities, relations=relations, events=events
    )


def _qa(row: dict, path, where) -> QA:
    answers = field(row, "answer", path, where, list)
    answer = str(answers[0]) if answers else ""
    choices = row.get("choices") or []
    if row.get("type") == "multiple_choice" and choices:
        letters = dict(zip(string.ascii_uppercase, choices))
        letter = next((k for k, v in letters.items() if v == answer), None)
        if letter is None:
            raise FormatError(path, where, f"answer {answer!r} is not among the choices")
        return QA(
            id=str(row["id"]),
            question=row["question"],
            answer=letter,
            kind="mc",
            choices=letters,
            context=row.get("context", ""),
        )
    kind = "yesno" if row.get("type") == "yesno" else "open"
    return QA(id=str(row["id"]), question=row["question"], answer=answer, kind=kind, context=row.get("context", ""))


def from_rows(rows: Iterable[tuple[int | str, dict]], path) -> list[Record]:
    records = []
    for where, row in rows:
        if "passages" in row:
            records.append(_kb(row, path, where))
        elif "question" in row:
            records.append(_qa(row, path, where))
        elif "labels" in row:
            labels = tuple(field(row, "labels", path, where, list))
            records.append(
                Classification(id=str(row["id"]), text=row["text"], labels=labels, multi_label=len(labels) != 1)
            )
        elif "text_1" in row and "label" in row:
            records.append(
                TextPair(id=str(row["id"]), text_1=row["text_1"], text_2=row["text_2"], label=str(row["label"]))
            )
        elif "text_1" in row:
            records.append(
                Translation(
                    id=str(row["id"]),
                    source=row["text_1"],
                    target=row["text_2"],
                    source_lang=row.get("text_1_name", ""),
                    target_lang=row.get("text_2_name", ""),
                )
            )
        else:
            raise FormatError(path, where, "row matches no BigBIO schema (kb, qa, text, pairs, t2t)")
    return records


def read(path: Path) -> list[Record]:
    """A local BigBIO export: JSON lines (errors name the line) or parquet (read through ``datasets``)."""
    if path.suffix.lower() == ".parquet":
        import datasets

        table = datasets.load_dataset("parquet", data_files=str(path), split="train")
        return from_rows(((f"row {i}", row) for i, row in enumerate(table)), path)
    return from_rows(iter_jsonl(path), path)
