"""Any CSV / TSV / JSON-lines table, driven by a column map, so a dataset needs no code.

``columns`` maps record fields to the table's columns, by name, or by 0-based position when
the file has no header row (``header: false``). Fields per ``task``:
classification: text, label (``label_sep`` splits multi-label cells); qa: question, answer
(+ context, choices as a list column; ``kind`` yesno / yesnomaybe / choice / open); textpair:
text_1, text_2, label; translation: source, target (+ ``source_lang``, ``target_lang``);
dialogue: human, assistant. ``id`` is optional everywhere. ``delimiter`` defaults to a tab for
.tsv files and a comma otherwise.
"""

from __future__ import annotations

import csv
import string
from collections.abc import Iterator
from pathlib import Path

from ..records import QA, Classification, Dialogue, Record, TextPair, Translation
from ._base import FormatError, iter_jsonl

NAME = "generic"
REQUIRED = {
    "classification": ("text", "label"),
    "qa": ("question", "answer"),
    "textpair": ("text_1", "text_2", "label"),
    "translation": ("source", "target"),
    "dialogue": ("human", "assistant"),
}
OPTIONAL = {"id", "context", "choices"}
KINDS = {"yesno": "yesno", "yesnomaybe": "yesnomaybe", "choice": "mc", "open": "open"}


def sniff(peek) -> bool:
    return False  # needs a column map, so never chosen by auto-detection


def _rows(path: Path, header: bool, delimiter: str | None) -> Iterator[tuple[int, dict | list, list]]:
    """(line, row, the columns found) per record; rows are dicts by header name, or lists without a header."""
    if path.suffix.lower() in (".jsonl", ".json"):
        for lineno, row in iter_jsonl(path):
            yield lineno, row, list(row)
        return
    csv.field_size_limit(10**9)  # an abstract or a clinical note may well be longer than csv's 128 KB default
    with path.open(encoding="utf-8-sig", newline="") as handle:
        delimiter = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            yield from _csv_rows(reader, header, path)
        except csv.Error as err:
            raise FormatError(path, reader.line_num, f"not readable as CSV/TSV ({err})") from None


def _csv_rows(reader, header: bool, path: Path) -> Iterator[tuple[int, dict | list, list]]:
    names = next(reader, []) if header else None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if names is None:
            yield reader.line_num, row, list(range(len(row)))
        elif len(row) < len(names):
            raise FormatError(
                path,
                reader.line_num,
                f"the row has {len(row)} columns, fewer than the header's {len(names)} ({names})",
            )
        else:
            yield reader.line_num, dict(zip(names, row)), names


def read(
    path: Path,
    task: str | None = None,
    columns: dict | None = None,
    header: bool = True,
    delimiter: str | None = None,
    kind: str | None = None,
    label_sep: str | None = None,
    source_lang: str = "",
    target_lang: str = "",
) -> list[Record]:
    if task not in REQUIRED:
        raise ValueError(f"{path}: the generic reader needs task= one of {sorted(REQUIRED)}, got {task!r}")
    columns = dict(columns or {})
    missing = [f for f in REQUIRED[task] if f not in columns]
    if missing:
        raise ValueError(f"{path}: the generic reader for task {task!r} needs a column for {missing} in columns")
    unknown = sorted(set(columns) - {*REQUIRED[task], *OPTIONAL})
    if unknown:
        raise ValueError(
            f"{path}: unknown column-map key(s) {unknown} for task {task!r}; "
            f"known: {sorted({*REQUIRED[task], *OPTIONAL})}"
        )
    if not header and not all(isinstance(c, int) for c in columns.values()):
        raise ValueError(f"{path}: with header: false, columns are 0-based positions, got {columns}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"{path}: kind {kind!r} is not one of {sorted(KINDS)}")
    records = []
    for lineno, row, found in _rows(path, header, delimiter):
        get = _getter(path, lineno, row, found, columns, header)
        rid = str(get("id")) if "id" in columns else str(lineno)
        if task == "classification":
            label = get("label")
            if isinstance(label, list):  # a JSON list of labels is already split
                labels = tuple(str(x).strip() for x in label if str(x).strip())
            else:
                label = str(label)
                labels = (
                    tuple(x.strip() for x in label.split(label_sep) if x.strip()) if label_sep else (label.strip(),)
                )
            records.append(Classification(rid, get("text"), labels, multi_label=bool(label_sep)))
        elif task == "qa":
            records.append(_qa(rid, get, columns, kind, path, lineno))
        elif task == "textpair":
            records.append(TextPair(rid, get("text_1"), get("text_2"), get("label").strip()))
        elif task == "translation":
            records.append(Translation(rid, get("source"), get("target"), source_lang, target_lang))
        else:
            records.append(Dialogue(rid, [(get("human"), get("assistant"))]))
    return records


def _getter(path: Path, lineno: int, row: dict | list, found: list, columns: dict, header: bool):
    """``get(field)``: the row's value for a record field through the column map, or an error naming the line."""

    def get(name: str):
        column = columns[name]
        present = column < len(row) if isinstance(row, list) and isinstance(column, int) else column in row
        if not present:
            hint = (
                " (the first line was read as the header; set header: false for a file without one)"
                if header and not isinstance(row, list)
                else ""
            )
            shown = [c[:30] + "…" if isinstance(c, str) and len(c) > 30 else c for c in found[:12]]
            raise FormatError(
                path, lineno, f"column {column!r} (for {name}) is not among the columns found{hint}: {shown}"
            )
        value = row[column]
        if value is None:
            raise FormatError(path, lineno, f"the row has fewer columns than the header: no {column!r}")
        return value if isinstance(value, (str, list)) else str(value)

    return get


def _qa(rid: str, get, columns: dict, kind: str | None, path: Path, lineno: int) -> QA:
    listed = get("choices") if "choices" in columns else []
    if not isinstance(listed, list):
        raise FormatError(
            path,
            lineno,
            f"column {columns['choices']!r} (choices) should hold a list "
            f"(a JSON-lines array), got text {listed[:60]!r}",
        )
    choices = dict(zip(string.ascii_uppercase, listed))
    record_kind = KINDS[kind] if kind else ("mc" if choices else "open")
    answer = get("answer").strip()
    if record_kind in ("yesno", "yesnomaybe"):
        answer = answer.lower()
        allowed = ("yes", "no") if record_kind == "yesno" else ("yes", "no", "maybe")
        if answer not in allowed:
            raise FormatError(path, lineno, f"answer {answer!r} is not one of {allowed} (kind {kind})")
    if record_kind == "mc" and answer not in choices:
        raise FormatError(path, lineno, f"answer {answer!r} is not an option letter of {sorted(choices)}")
    return QA(rid, get("question"), answer, record_kind, choices, get("context") if "context" in columns else "")
