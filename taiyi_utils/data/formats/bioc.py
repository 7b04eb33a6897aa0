"""BioC XML (BC5CDR's other distribution): gives the same records as the PubTator files.

Composite mentions appear once, as in PubTator: the ``IndividualMention`` parts that
BioC adds for them are dropped.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..records import Document, Entity
from ._base import FormatError, Peek
from .pubtator import ids_of, name_relations

NAME = "bioc"


def sniff(peek: Peek) -> bool:
    return peek.path.suffix.lower() == ".xml" and "<collection" in peek.head


def _infons(element: ET.Element) -> dict[str, str]:
    return {i.get("key"): (i.text or "") for i in element.findall("infon")}


def _document(node: ET.Element, path: Path) -> Document:
    doc_id = node.findtext("id") or ""
    where = f"document {doc_id}"
    text, title = "", ""
    entities, pairs = [], []
    for passage in node.findall("passage"):
        offset = int(passage.findtext("offset") or 0)
        body = passage.findtext("text") or ""
        text = text.ljust(offset) + body
        if _infons(passage).get("type") == "title":
            title = body
        for ann in passage.findall("annotation"):
            info = _infons(ann)
            if info.get("CompositeRole") == "IndividualMention":
                continue
            locations = ann.findall("location")
            if not locations or "type" not in info:
                raise FormatError(path, where, f"annotation {ann.get('id')} lacks a location or type")
            start = int(locations[0].get("offset"))
            end = start + int(locations[0].get("length"))
            entities.append(Entity(start, end, info["type"], ann.findtext("text") or "", ids_of(info.get("MESH", ""))))
    for entity in entities:
        if text[entity.start:entity.end] != entity.text:
            raise FormatError(path, where, f"mention {entity.text!r} does not match its offsets {entity.start}-{entity.end}")
    for rel in node.findall("relation"):
        info = _infons(rel)
        pairs.append((info.get("relation", ""), info.get("Chemical", ""), info.get("Disease", "")))
    entities.sort(key=lambda e: (e.start, e.end))
    return Document(id=doc_id, text=text, entities=entities,
                    relations=name_relations(doc_id, entities, pairs, path, where), title=title)


def read(path: Path) -> list[Document]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise FormatError(path, err.position[0], f"invalid XML ({err})") from None
    return [_document(node, path) for node in root.iter("document")]
