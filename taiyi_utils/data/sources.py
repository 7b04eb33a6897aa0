"""The local corpora of ``sources.yaml``: resolve their files under a data root and read a split.

A source with only a dev split locally (CMeEE-V2, CMeIE) declares ``holdout``: its splits
``<split>-train`` and ``<split>-eval`` partition that split by a hash of each record's id, so
the parts never share a record and do not depend on file order or on the sample drawn later.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

from ..names import check_name
from ..registry import read_registry
from . import formats
from .records import Record

SOURCES_FILE = Path(__file__).with_name("sources.yaml")
HOLDOUT_PARTS = ("train", "eval")


@dataclass(frozen=True)
class Source:
    key: str
    format: str
    files: dict[str, str]
    language: str
    tasks: tuple[str, ...]
    types: dict[str, str] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    family: str = ""
    catalog: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # classification / text-pair label -> name shown
    options: dict = field(default_factory=dict)  # keyword options of the reader (generic: task, columns, ...)
    holdout: dict = field(default_factory=dict)  # {split: dev, eval: N}: dev-train / dev-eval parts
    obtain: str = ""  # where to get the files when the data root lacks them

    def paths(self, split: str, data_root: Path) -> list[Path]:
        if split not in self.files:
            raise KeyError(f"source {self.key!r} has no split {split!r}; it has {self.splits()}")
        pattern = self.files[split]
        paths = sorted(data_root.glob(pattern)) if any(c in pattern for c in "*?[") else [data_root / pattern]
        missing = [str(p) for p in paths if not p.exists()] or ([] if paths else [str(data_root / pattern)])
        if missing:
            hint = f"; {self.obtain}" if self.obtain else ""
            raise FileNotFoundError(f"source {self.key!r} split {split!r}: {', '.join(missing)} not found{hint}")
        return paths

    def splits(self) -> list[str]:
        held = [f"{self.holdout['split']}-{part}" for part in HOLDOUT_PARTS] if self.holdout else []
        return sorted(self.files) + held


def load_sources(files: tuple[str, ...] = ()) -> dict[str, Source]:
    """The shipped sources with those of the user's ``files`` (same schema) merged over them."""
    return _sources(files)[0]


def replaced_sources(files: tuple[str, ...] = ()) -> dict[str, str]:
    """Shipped source names that the user's ``files`` replace, with the file that did."""
    return _sources(files)[1]


@cache
def _sources(files: tuple[str, ...]) -> tuple[dict[str, Source], dict[str, str]]:
    raw, replaced = read_registry(SOURCES_FILE, files)
    known = {f.name for f in fields(Source)} - {"key"}
    sources = {}
    for key, spec in raw.items():
        check_name("source", key, f"{spec['_file']}: ")
        where = f"{spec.pop('_file')}: source {key!r}"
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
        missing = [f for f in ("format", "files", "language", "tasks") if f not in spec]
        if missing:
            raise ValueError(f"{where}: missing field(s) {missing}")
        if not isinstance(spec["tasks"], list) or not all(isinstance(t, str) for t in spec["tasks"]):
            raise ValueError(f"{where}: tasks must be a list of task names, e.g. [cls], got {spec['tasks']!r}")
        if spec["format"] not in formats.FORMATS:
            raise ValueError(f"{where}: unknown format {spec['format']!r}; known: {', '.join(formats.FORMATS)}")
        accepted = set(inspect.signature(formats.FORMATS[spec["format"]].read).parameters) - {"path"}
        bad = sorted(set(spec.get("options") or {}) - accepted)
        if bad:
            raise ValueError(
                f"{where}: reader {spec['format']!r} has no option(s) {bad}; it accepts {sorted(accepted) or 'none'}"
            )
        sources[key] = Source(key=key, **{**spec, "tasks": tuple(spec["tasks"]), "labels": _label_map(spec, where)})
    return sources, replaced


def _label_map(spec: dict, where: str) -> dict[str, str]:
    """``labels:`` as corpus label -> name shown: a list names itself; keys are strings whatever YAML read
    (``{1: related}`` means the corpus label ``"1"``)."""
    labels = spec.get("labels") or {}
    if isinstance(labels, list):
        labels = {x: x for x in labels}
    if not isinstance(labels, dict):
        raise ValueError(f"{where}: labels must be a list or a map of corpus label -> name, got {labels!r}")
    return {str(k): str(v) for k, v in labels.items()}


def get_source(key: str, sources: dict[str, Source] | None = None) -> Source:
    sources = load_sources() if sources is None else sources
    if key not in sources:
        raise KeyError(f"unknown source {key!r}; known: {', '.join(sources)}")
    return sources[key]


def holdout_part(records: list[Record], key: str, eval_records: int, part: str) -> list[Record]:
    """The ``eval`` part (``eval_records`` records chosen by id hash) or the ``train`` rest, in file order."""
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError(f"source {key!r}: record ids repeat, so a holdout split cannot be made")
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{key}:{i}".encode()).hexdigest())
    held = set(ranked[:eval_records])
    return [r for r in records if (r.id in held) == (part == "eval")]


def read_split(
    key: str,
    split: str,
    data_root: Path,
    holdout: dict[str, int] | None = None,
    sources: dict[str, Source] | None = None,
) -> list[Record]:
    """Records of ``split``; ``holdout`` overrides a source's held-out size (source key -> eval records).

    A reader's error is raised again naming the source entry (the file and line are in its message).
    """
    source = get_source(key, sources)
    base, _, part = split.rpartition("-")
    if source.holdout and base == source.holdout["split"] and part in HOLDOUT_PARTS:
        size = (holdout or {}).get(key, source.holdout["eval"])
        return holdout_part(read_split(key, base, data_root, sources=sources), key, size, part)
    records: list[Record] = []
    for path in source.paths(split, Path(data_root)):
        try:
            records.extend(formats.read(path, source.format, **source.options))
        except ValueError as err:  # FormatError included: keep its type, name the entry first
            err.args = (f"source {key!r}: {err}",)
            raise
    return records
