"""Any CSV / TSV / JSON-lines table, driven by a column map, so a dataset needs no code.

``columns`` maps record fields to the table's column names, per ``task``:
classification: text, label (+ optional ``label_sep`` for multi-label);
qa: question, answer (+ context, choices as a list column, ``kind``);
textpair: text_1, text_2, label; translation: source, target (+ source_lang,
target_lang as constants); dialogue: human, assistant. ``id`` is optional.
"""
from __future__ import annotations

import csv
import string
from pathlib import Path
from typing import Iterator

from ..records import QA, Classification, Dialogue, Record, TextPair, Translation
from ._base import FormatError, iter_jsonl

NAME = "generic"
_REQUIRED = {
    "classification": ("text", "label"), "qa": ("question", "answer"), "textpair": ("text_1", "text_2", "label"),
    "translation": ("source", "target"), "dialogue": ("human", "assistant"),
}
_OPTIONS = {"label_sep", "kind", "source_lang", "target_lang"}
_OPTIONAL = {"id", "context", "choices"}


def sniff(peek) -> bool:
    return False  # needs a column map, so never chosen by auto-detection


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    if path.suffix.lower() in (".jsonl", ".json"):
        yield from iter_jsonl(path)
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        for row in reader:
            yield reader.line_num, row


def read(path: Path, columns: dict[str, str] | None = None, task: str | None = None) -> list[Record]:
    if task not in _REQUIRED:
        raise ValueError(f"generic reader needs task= one of {sorted(_REQUIRED)}, got {task!r}")
    columns = dict(columns or {})
    missing = [f for f in _REQUIRED[task] if f not in columns]
    if missing:
        raise ValueError(f"generic reader for task {task!r} needs a column for {missing} in columns=")
    known = {*_REQUIRED[task], *_OPTIONAL, *_OPTIONS}
    unknown = sorted(set(columns) - known)
    if unknown:
        raise ValueError(f"generic reader for task {task!r}: unknown column-map key(s) {unknown}; "
                         f"known: {sorted(known)}")
    records = []
    for lineno, row in _rows(path):
        def get(name: str) -> str:
            if columns[name] not in row:
                raise FormatError(path, lineno, f"column {columns[name]!r} (for {name}) is missing")
            value = row[columns[name]]
            if value is None:  # csv fills the columns a short row lacks with None
                raise FormatError(path, lineno, f"the row has fewer columns than the header: no {columns[name]!r}")
            return value if isinstance(value, (str, list)) else str(value)

        rid = str(row.get(columns.get("id", ""), lineno))
        if task == "classification":
            label = get("label")
            sep = columns.get("label_sep")
            labels = tuple(x.strip() for x in label.split(sep) if x.strip()) if sep else (label,)
            records.append(Classification(rid, get("text"), labels, multi_label=bool(sep)))
        elif task == "qa":
            listed = get("choices") if "choices" in columns else []
            if not isinstance(listed, list):
                raise FormatError(path, lineno, f"column {columns['choices']!r} (choices) should hold a list "
                                                f"(a JSON-lines array), got text {listed[:60]!r}")
            choices = dict(zip(string.ascii_uppercase, listed))
            records.append(QA(rid, get("question"), get("answer"), columns.get("kind", "mc" if choices else "open"),
                              choices, get("context") if "context" in columns else ""))
        elif task == "textpair":
            records.append(TextPair(rid, get("text_1"), get("text_2"), get("label")))
        elif task == "translation":
            records.append(Translation(rid, get("source"), get("target"), columns.get("source_lang", ""),
                                       columns.get("target_lang", "")))
        else:
            records.append(Dialogue(rid, [(get("human"), get("assistant"))]))
    return records
