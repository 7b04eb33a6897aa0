"""Unified record types: every reader returns these, every later step consumes them.

Offsets are character offsets into ``Document.text`` with an exclusive end, so
``text[e.start:e.end] == e.text`` holds for every entity a reader produces.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    type: str
    text: str
    ids: tuple[str, ...] = ()  # normalisation ids (MeSH, ...) where the corpus has them


@dataclass(frozen=True)
class Relation:
    """A directed relation between two entities, named by surface text.

    ``head_id``/``tail_id`` carry database ids for document-level corpora (BC5CDR
    CID pairs are given by MeSH id), so scoring can accept any mention of the entity.
    """

    type: str
    head: str
    tail: str
    head_id: str = ""
    tail_id: str = ""


@dataclass(frozen=True)
class Event:
    type: str
    trigger: str
    arguments: tuple[tuple[str, str], ...] = ()  # (role, argument text)


@dataclass
class Document:
    """Entity / relation / event annotated text (NER, RE, EE)."""

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    title: str = ""  # set where the corpus separates a title (PubTator, BioC)


@dataclass
class Classification:
    id: str
    text: str
    labels: tuple[str, ...]
    multi_label: bool = False


@dataclass
class QA:
    """Question answering: ``kind`` is yesno, yesnomaybe, mc (multiple choice), factoid, list or open.

    For ``mc`` the answer is the option letter and ``choices`` maps letter -> text.
    """

    id: str
    question: str
    answer: str
    kind: str
    choices: dict[str, str] = field(default_factory=dict)
    context: str = ""


@dataclass
class TextPair:
    id: str
    text_1: str
    text_2: str
    label: str


@dataclass
class Dialogue:
    """Turns of (human, assistant); ``context`` is shared background (a clinical case)."""

    id: str
    turns: list[tuple[str, str]]
    context: str = ""
    category: str = ""


@dataclass
class Translation:
    id: str
    source: str
    target: str
    source_lang: str
    target_lang: str


Record = Document | Classification | QA | TextPair | Dialogue | Translation


def main_text(record: Record) -> str:
    """The text a record is about: what train/test overlap is checked on."""
    if isinstance(record, (Document, Classification)):
        return record.text
    if isinstance(record, QA):
        return record.question + ("\n" + record.context if record.context else "")
    if isinstance(record, TextPair):
        return record.text_1 + "\n" + record.text_2
    if isinstance(record, Dialogue):
        return record.context + "\n" + record.turns[0][0] if record.turns else record.context
    return record.source


def group_sentences(records: list[Classification]) -> list[Classification]:
    """Sentence records ``<doc>_<n>`` joined into one record per document, labels unioned (HoC abstracts)."""
    grouped: dict[str, list[Classification]] = {}
    for record in records:
        grouped.setdefault(record.id.rpartition("_")[0] or record.id, []).append(record)
    return [
        Classification(
            id=doc,
            text=" ".join(s.text for s in sentences),
            labels=tuple(sorted(set().union(*(s.labels for s in sentences)))),
            multi_label=sentences[0].multi_label,
        )
        for doc, sentences in grouped.items()
    ]


def annotation_counts(records: list[Record]) -> dict[str, Counter]:
    """Entity types, relation types and class labels, counted over the records."""
    counts = {"entities": Counter(), "relations": Counter(), "labels": Counter()}
    for record in records:
        if isinstance(record, Document):
            counts["entities"].update(e.type for e in record.entities)
            counts["relations"].update(r.type for r in record.relations)
        elif isinstance(record, Classification):
            counts["labels"].update(record.labels)
        elif isinstance(record, TextPair):
            counts["labels"][record.label] += 1
    return counts
