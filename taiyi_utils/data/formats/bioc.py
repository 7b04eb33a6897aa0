"""BioC XML (BC5CDR's other distribution): gives the same records as the PubTator files.

Composite mentions appear once, as in PubTator: the ``IndividualMention`` parts that
BioC adds for them are dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..records import Document, Entity
from ._base import FormatError, Peek, check_span
from .pubtator import ids_of, name_relations

NAME = "bioc"


def sniff(peek: Peek) -> bool:
    return peek.path.suffix.lower() == ".xml" and "<collection" in peek.head


def _int(value: str | None, path: Path, where: str, name: str) -> int:
    if value is None or not value.strip().lstrip("-").isdigit():
        raise FormatError(path, where, f"{name} {value!r} is not an integer")
    return int(value)


def _infons(element: ET.Element) -> dict[str, str]:
    return {i.get("key"): (i.text or "") for i in element.findall("infon")}


def _document(node: ET.Element, path: Path) -> Document:
    doc_id = node.findtext("id") or ""
    where = f"document {doc_id}"
    text, title = "", ""
    entities, pairs, parts = [], [], {}
    for passage in node.findall("passage"):
        offset = _int(passage.findtext("offset") or "0", path, where, "passage offset")
        body = passage.findtext("text") or ""
        text = text.ljust(offset) + body
        if _infons(passage).get("type") == "title":
            title = body
        for ann in passage.findall("annotation"):
            info = _infons(ann)
            if info.get("CompositeRole") == "IndividualMention":  # a composite's part: names its id only
                for mesh in ids_of(info.get("MESH", "")):
                    parts.setdefault(mesh, (ann.findtext("text") or "").strip())
                continue
            locations = ann.findall("location")
            if not locations or "type" not in info:
                raise FormatError(path, where, f"annotation {ann.get('id')} lacks a location or type")
            at = f"{where}, annotation {ann.get('id')}"
            start = _int(locations[0].get("offset"), path, at, "location offset")
            end = start + _int(locations[0].get("length"), path, at, "location length")
            entities.append(Entity(start, end, info["type"], ann.findtext("text") or "", ids_of(info.get("MESH", ""))))
    for entity in entities:
        check_span(path, where, entity.start, entity.end, text, entity.text)
    for rel in node.findall("relation"):
        info = _infons(rel)
        pairs.append((info.get("relation", ""), info.get("Chemical", ""), info.get("Disease", "")))
    entities.sort(key=lambda e: (e.start, e.end))
    return Document(
        id=doc_id,
        text=text,
        entities=entities,
        relations=name_relations(doc_id, entities, pairs, path, where, parts),
        title=title,
    )


def read(path: Path) -> list[Document]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise FormatError(path, err.position[0], f"invalid XML ({err})") from None
    return [_document(node, path) for node in root.iter("document")]
