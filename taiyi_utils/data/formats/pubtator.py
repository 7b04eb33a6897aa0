"""PubTator (BC5CDR): title/abstract lines, mention lines, document-level CID relation lines."""

from __future__ import annotations

import re
from pathlib import Path

from ..records import Document, Entity, Relation
from ._base import FormatError, Peek, check_span

NAME = "pubtator"
_TEXT_LINE = re.compile(r"^(\d+)\|([ta])\|(.*)$")


def sniff(peek: Peek) -> bool:
    return bool(_TEXT_LINE.match(peek.first_line))


def ids_of(value: str) -> tuple[str, ...]:
    """MeSH ids of a mention; '-1' means none, '|' separates a composite mention's ids."""
    return tuple(i for i in value.split("|") if i and i != "-1")


def name_relations(
    doc_id: str,
    entities: list[Entity],
    pairs: list[tuple[str, str, str]],
    path: Path,
    where: str | int,
    parts: dict[str, str] | None = None,
) -> list[Relation]:
    """Turn (type, head id, tail id) into relations named by each id's first mention of that id alone.

    A composite mention ("end-stage or malignant liver disease", two ids) names neither of its ids
    while another mention or ``parts`` (id -> the composite's own name for that part) does, so two
    pairs never share a name and collapse into one triple.
    """
    first_mention: dict[str, str] = {}
    for entity in sorted(entities, key=lambda e: (len(e.ids) > 1, e.start, e.end)):
        for mesh in entity.ids:
            if len(entity.ids) == 1 or mesh not in (parts or {}):
                first_mention.setdefault(mesh, entity.text)
    for mesh, name in (parts or {}).items():
        first_mention.setdefault(mesh, name)
    relations = []
    for rel_type, head_id, tail_id in pairs:
        for mesh in (head_id, tail_id):
            if mesh not in first_mention:
                raise FormatError(path, where, f"document {doc_id}: relation names {mesh}, which no mention carries")
        relations.append(Relation(rel_type, first_mention[head_id], first_mention[tail_id], head_id, tail_id))
    return relations


def _document(block: list[tuple[int, str]], path: Path) -> Document:
    title = abstract = None
    doc_id = None
    entities, pairs, parts = [], [], {}
    for lineno, line in block:
        match = _TEXT_LINE.match(line)
        if match:
            doc_id, kind, text = match.groups()
            if kind == "t":
                title = text
            else:
                abstract = text
            continue
        if title is None or abstract is None:
            raise FormatError(path, lineno, "annotation before the title (|t|) and abstract (|a|) lines")
        cols = line.split("\t")
        if cols[0] != doc_id:
            raise FormatError(path, lineno, f"PMID {cols[0]!r} inside the block of document {doc_id}")
        if len(cols) == 4:
            pairs.append((cols[1], cols[2], cols[3]))
            continue
        if len(cols) < 6:
            raise FormatError(
                path, lineno, f"expected a mention (6+ tab-separated columns) or relation (4), got {len(cols)}"
            )
        try:
            start, end = int(cols[1]), int(cols[2])
        except ValueError:
            raise FormatError(path, lineno, f"offsets {cols[1]!r}, {cols[2]!r} are not integers") from None
        check_span(path, lineno, start, end, f"{title} {abstract}", cols[3])
        entities.append(Entity(start, end, cols[4], cols[3], ids_of(cols[5])))
        names = cols[6].split("|") if len(cols) > 6 else []
        if len(entities[-1].ids) > 1 and len(names) == len(cols[5].split("|")):  # a composite's part names
            for mesh, name in zip(cols[5].split("|"), names):
                parts.setdefault(mesh, name.strip())
    if title is None or abstract is None:
        raise FormatError(path, block[0][0], "document block lacks its |t| or |a| line")
    relations = name_relations(doc_id, entities, pairs, path, block[0][0], parts)
    return Document(id=doc_id, text=f"{title} {abstract}", entities=entities, relations=relations, title=title)


def read(path: Path) -> list[Document]:
    docs, block = [], []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.rstrip("\n\r")
            if line.strip():
                block.append((lineno, line))
            elif block:
                docs.append(_document(block, path))
                block = []
    if block:
        docs.append(_document(block, path))
    return docs
