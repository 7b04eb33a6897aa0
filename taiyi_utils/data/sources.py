"""The local corpora of ``sources.yaml``: resolve their files under a data root and read a split."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from . import formats
from .records import Record

SOURCES_FILE = Path(__file__).with_name("sources.yaml")


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

    def paths(self, split: str, data_root: Path) -> list[Path]:
        if split not in self.files:
            raise KeyError(f"source {self.key!r} has no split {split!r}; it has {sorted(self.files)}")
        pattern = self.files[split]
        paths = sorted(data_root.glob(pattern)) if any(c in pattern for c in "*?[") else [data_root / pattern]
        missing = [p for p in paths if not p.exists()]
        if not paths or missing:
            raise FileNotFoundError(f"source {self.key!r} split {split!r}: {missing or pattern} not found under {data_root}")
        return paths


@cache
def load_sources() -> dict[str, Source]:
    raw = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    return {key: Source(key=key, **{**spec, "tasks": tuple(spec["tasks"])}) for key, spec in raw.items()}


def get_source(key: str) -> Source:
    sources = load_sources()
    if key not in sources:
        raise KeyError(f"unknown source {key!r}; known: {', '.join(sources)}")
    return sources[key]


def read_split(key: str, split: str, data_root: Path) -> list[Record]:
    source = get_source(key)
    records: list[Record] = []
    for path in source.paths(split, Path(data_root)):
        records.extend(formats.read(path, source.format))
    return records
