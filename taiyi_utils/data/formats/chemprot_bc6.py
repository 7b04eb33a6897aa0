"""ChemProt, BioCreative VI release: abstracts, typed entities with offsets, directed chemical -> gene relations.

Point it at a split's ``chemprot_<split>_abstracts[_gs].tsv``; the sibling ``_entities``
file and the split's ``_gold_standard`` file are found beside it. One Document per abstract,
text ``title + " " + abstract`` (the entity offsets count one separator character). Entities
keep the release's types (CHEMICAL, GENE-Y, GENE-N); relations are the gold standard's five
evaluated groups (CPR:3, 4, 5, 6, 9), always chemical (Arg1) -> gene (Arg2).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..records import Document, Entity, Relation
from ._base import FormatError, Peek, check_span

NAME = "chemprot_bc6"
_ABSTRACTS = re.compile(r"chemprot_(\w+?)_abstracts(_gs)?\.tsv")
CHEMICAL, GENES = "CHEMICAL", ("GENE-Y", "GENE-N")


def sniff(peek: Peek) -> bool:
    return bool(_ABSTRACTS.fullmatch(peek.path.name))


def _rows(path: Path, columns: int):
    if not path.exists():
        raise FileNotFoundError(f"{path}: the ChemProt release file beside the abstracts is missing")
    with path.open(encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if len(row) != columns:
                raise FormatError(path, lineno, f"expected {columns} tab-separated columns, got {len(row)}")
            yield lineno, row


def read(path: Path) -> list[Document]:
    match = _ABSTRACTS.fullmatch(path.name)
    if not match:
        raise FormatError(path, "name", "expected chemprot_<split>_abstracts[_gs].tsv")
    split, suffix = match.group(1), match.group(2) or ""
    docs = {
        pmid: Document(id=pmid, text=f"{title} {abstract}", title=title)
        for _, (pmid, title, abstract) in _rows(path, 3)
    }
    entities: dict[tuple[str, str], Entity] = {}
    entity_path = path.with_name(f"chemprot_{split}_entities{suffix}.tsv")
    for lineno, (pmid, tid, kind, start, end, mention) in _rows(entity_path, 6):
        doc = docs.get(pmid)
        if doc is None:
            raise FormatError(entity_path, lineno, f"PMID {pmid} is not in {path.name}")
        if not (start.lstrip("-").isdigit() and end.lstrip("-").isdigit()):
            raise FormatError(entity_path, lineno, f"offsets {start!r}, {end!r} are not integers")
        check_span(entity_path, lineno, int(start), int(end), doc.text, mention)
        entities[pmid, tid] = Entity(int(start), int(end), kind, mention)
        doc.entities.append(entities[pmid, tid])
    gold_path = path.with_name(f"chemprot_{split}_gold_standard.tsv")
    for lineno, (pmid, group, arg1, arg2) in _rows(gold_path, 4):
        head, tail = (entities.get((pmid, arg.partition(":")[2])) for arg in (arg1, arg2))
        if head is None or tail is None or head.type != CHEMICAL or tail.type not in GENES:
            raise FormatError(gold_path, lineno, f"{arg1} -> {arg2} in PMID {pmid} is not a chemical -> gene pair")
        docs[pmid].relations.append(Relation(group, head.text, tail.text))
    for doc in docs.values():
        doc.entities.sort(key=lambda e: (e.start, e.end))
    return list(docs.values())
