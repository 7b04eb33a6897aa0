"""The paper's test sets as declarations (suites.yaml): what is scored, how, and against which published numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path

from ..data.records import Record, group_sentences
from ..data.sources import Source, get_source, load_sources, read_split
from ..names import check_name
from ..registry import read_registry

SUITES_FILE = Path(__file__).with_name("suites.yaml")
METRICS = ("micro_f1", "macro_f1", "accuracy")
COMPARABLE = ("yes", "no", "unverified")
PAPER_AVERAGE = {"taiyi": 65.1, "chatgpt": 49.3, "sota": 73.5}  # the paper's AVG row, over its 13 test sets
PAPER_SUITES = 13


@dataclass(frozen=True)
class Reference:
    """One published number beside ours: its metric, and whether our score can be set beside it."""

    score: float
    metric: str
    comparable: str
    why: str = ""
    model: str = ""


@dataclass(frozen=True)
class Suite:
    name: str
    task: str
    metric: str
    source: str
    split: str
    unit: str = "record"
    note: str = ""
    types: dict = field(default_factory=dict)
    relations: dict = field(default_factory=dict)
    group: str = ""
    candidates: int = 0
    average: bool = False
    reference: dict[str, Reference] = field(default_factory=dict)
    ablation: dict = field(default_factory=dict)  # Taiyi's one-stage / two-stage scores (%) and the row they are

    def as_source(self, sources: dict[str, Source] | None = None) -> Source:
        """The Source whose language and names build this suite's prompts (with the suite's overrides)."""
        overrides = {k: v for k, v in (("types", self.types), ("relations", self.relations)) if v}
        return replace(get_source(self.source, sources), **overrides)

    def read(
        self, data_root: Path, holdout: dict[str, int] | None = None, sources: dict[str, Source] | None = None
    ) -> list[Record]:
        records = read_split(self.source, self.split, data_root, holdout, sources)
        return group_sentences(records) if self.group else records


def _suite(name: str, spec: dict, sources: dict[str, Source]) -> Suite:
    check_name("suite", name, f"{spec['_file']}: ")
    where = f"{spec.pop('_file')}: suite {name!r}"
    known = {f.name for f in fields(Suite)} - {"name"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    if spec.get("source") not in sources:
        raise ValueError(f"{where}: source {spec.get('source')!r} is not in the sources registry")
    if spec.get("split") not in sources[spec["source"]].splits():
        raise ValueError(
            f"{where}: source {spec['source']!r} has no split {spec.get('split')!r}; "
            f"it has {sources[spec['source']].splits()}"
        )
    if spec.get("metric") not in METRICS:
        raise ValueError(f"{where}: metric {spec.get('metric')!r} is not one of {METRICS}")
    references = {}
    for column, ref in (spec.pop("reference", None) or {}).items():
        if ref.get("metric") not in METRICS or ref.get("comparable") not in COMPARABLE:
            raise ValueError(f"{where}: reference {column!r} needs metric in {METRICS} and comparable in {COMPARABLE}")
        references[column] = Reference(**ref)
    return Suite(name=name, reference=references, **spec)


def load_suites(files: tuple[str, ...] = (), source_files: tuple[str, ...] = ()) -> dict[str, Suite]:
    """The shipped suites with the user's ``files`` merged over them; sources from ``source_files`` too."""
    return _suites(files, source_files)[0]


def run_suites(run_dir: str | Path) -> dict[str, Suite]:
    """The suites a run's curation used: the shipped ones with the user's files its data card names."""
    card = Path(run_dir) / "data" / "data_card.json"
    registries = json.loads(card.read_text(encoding="utf-8")).get("registries", {}) if card.exists() else {}
    return load_suites(tuple(registries.get("suites_files", ())), tuple(registries.get("sources_files", ())))


def replaced_suites(files: tuple[str, ...] = (), source_files: tuple[str, ...] = ()) -> dict[str, str]:
    return _suites(files, source_files)[1]


@cache
def _suites(files: tuple[str, ...], source_files: tuple[str, ...]) -> tuple[dict[str, Suite], dict[str, str]]:
    raw, replaced = read_registry(SUITES_FILE, files)
    sources = load_sources(source_files)
    return {name: _suite(name, dict(spec), sources) for name, spec in raw.items()}, replaced
