"""What every reader shares: clear errors that name the place, and a cheap peek for sniffing."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any


class FormatError(ValueError):
    """Malformed input. The message starts with ``file:place:`` so a user can open it there."""

    def __init__(self, path: str | Path, where: str | int, message: str):
        where = f"line {where}" if isinstance(where, int) else where
        if len(message) > MAX_QUOTE:  # a bad line can be megabytes: quote its start
            message = message[:MAX_QUOTE] + "…"
        super().__init__(f"{path}: {where}: {message}")


MAX_QUOTE = 400  # characters of a message; quotes of bad input within it stay short


def check_span(path: Path, where: str | int, start: int, end: int, text: str, mention: str) -> None:
    """A mention's offsets: 0 <= start < end <= len(text), and the text there is the mention."""
    if not 0 <= start < end <= len(text):
        raise FormatError(path, where, f"offsets {start}-{end} of {mention!r} are outside 0-{len(text)} or reversed")
    if text[start:end] != mention:
        raise FormatError(path, where, f"mention {mention!r} does not match text[{start}:{end}] = {text[start:end]!r}")


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise FormatError(path, err.lineno, f"invalid JSON ({err.msg}, column {err.colno})") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a bad line is an error, not a skip."""
    if path.is_dir():
        raise FormatError(path, "-", "is a folder; give a JSON-lines file")
    with path.open(encoding="utf-8-sig") as handle:
        lines = enumerate(handle, 1)
        while True:
            try:
                lineno, line = next(lines)
            except StopIteration:
                return
            except UnicodeDecodeError as err:
                raise FormatError(path, "-", f"not UTF-8 text ({err.reason}); re-encode it as UTF-8") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise FormatError(path, lineno, f"invalid JSON ({err.msg})") from None
            if not isinstance(obj, dict):
                raise FormatError(path, lineno, f"expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def field(obj: dict, key: str, path: Path, where: str | int, kind: type | tuple = object) -> Any:
    """obj[key], or a FormatError naming the missing or ill-typed field."""
    if key not in obj:
        raise FormatError(path, where, f"missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise FormatError(path, where, f"field {key!r} should be {expected}, got {type(value).__name__}")
    return value


def header_rows(path: Path, required: tuple[str, ...], delimiter: str) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a CSV/TSV with a header; a header without ``required`` columns is an error."""
    csv.field_size_limit(10**8)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise FormatError(path, 1, f"header lacks column(s) {missing}; found {reader.fieldnames}")
        for row in reader:
            yield reader.line_num, row


def has_header(peek: Peek, required: tuple[str, ...], delimiter: str) -> bool:
    return all(col in peek.first_line.split(delimiter) for col in required)


def json_array(path: Path) -> list:
    data = load_json(path)
    if not isinstance(data, list):
        raise FormatError(path, 1, f"expected a JSON array of records, got {type(data).__name__}")
    return data


@dataclass
class Peek:
    """Just enough of a file to decide its format without reading it twice."""

    path: Path

    @cached_property
    def head(self) -> str:
        if self.path.is_dir():
            return ""
        with self.path.open("rb") as handle:
            return handle.read(8192).decode("utf-8", errors="replace").lstrip("\ufeff")

    @property
    def first_line(self) -> str:
        return self.head.split("\n", 1)[0].rstrip("\r")

    @cached_property
    def first_object(self) -> Any:
        """First record of a JSON array, the object of a JSON document, or the first JSONL line."""
        if self.path.is_dir() or self.head.lstrip()[:1] not in ("[", "{"):
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            try:
                return json.loads(self.first_line)
            except json.JSONDecodeError:
                return None
        if isinstance(data, list):
            return data[0] if data else None
        return data

    def has_keys(self, *keys: str) -> bool:
        obj = self.first_object
        return isinstance(obj, dict) and all(k in obj for k in keys)
