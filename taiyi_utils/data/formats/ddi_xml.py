"""DDI-2013 XML: a file or a folder of ``<document>`` files; one Document per sentence.

Positive pairs (ddi="true") become relations typed effect/mechanism/advise/int;
negative pairs are not kept. A discontinuous drug mention (charOffset "a-b;c-d")
spans from its first to its last character, with the corpus's own text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..records import Document, Entity, Relation
from ._base import FormatError, Peek

NAME = "ddi_xml"
READS_FOLDERS = True  # a folder of DDI-2013 XML documents reads as one corpus


def _files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.xml")) if path.is_dir() else [path]


def sniff(peek: Peek) -> bool:
    files = _files(peek.path)
    if not files or files[0].suffix.lower() != ".xml":
        return False
    if peek.path.is_dir() and any(p.is_file() and p.suffix.lower() != ".xml" for p in peek.path.rglob("*")):
        return False  # a folder mixing other files is not one DDI corpus
    return "<sentence" in Peek(files[0]).head and "<collection" not in Peek(files[0]).head


def _span(offsets: str, path: Path, where: str) -> tuple[int, int]:
    try:
        pieces = [tuple(int(x) for x in piece.split("-")) for piece in offsets.split(";")]
        return pieces[0][0], pieces[-1][1] + 1
    except (ValueError, IndexError):
        raise FormatError(path, where, f"charOffset {offsets!r} is not 'a-b' or 'a-b;c-d'") from None


def _sentence(node: ET.Element, path: Path) -> Document:
    sid = node.get("id", "")
    entities, by_id = [], {}
    for ent in node.findall("entity"):
        start, end = _span(ent.get("charOffset", ""), path, f"entity {ent.get('id')}")
        entity = Entity(start, end, ent.get("type", ""), ent.get("text", ""))
        entities.append(entity)
        by_id[ent.get("id")] = entity
    relations = []
    for pair in node.findall("pair"):
        if pair.get("ddi") != "true":
            continue
        if pair.get("e1") not in by_id or pair.get("e2") not in by_id:
            raise FormatError(path, f"pair {pair.get('id')}", "names an entity the sentence does not have")
        relations.append(Relation(pair.get("type", "int"), by_id[pair.get("e1")].text, by_id[pair.get("e2")].text))
    return Document(id=sid, text=node.get("text", ""), entities=entities, relations=relations)


def read(path: Path) -> list[Document]:
    docs = []
    for file in _files(path):
        try:
            root = ET.parse(file).getroot()
        except ET.ParseError as err:
            raise FormatError(file, err.position[0], f"invalid XML ({err})") from None
        docs.extend(_sentence(node, file) for node in root.iter("sentence"))
    return docs
