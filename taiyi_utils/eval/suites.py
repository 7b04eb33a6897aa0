"""The paper's test sets as named suites: where each comes from, its task, metric and reference numbers."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from ..data.formats import bigbio
from ..data.records import Record
from ..data.sources import Source, get_source, read_split

SUITES_FILE = Path(__file__).with_name("suites.yaml")


@dataclass(frozen=True)
class Suite:
    name: str
    task: str
    metric: str
    source: str = ""
    split: str = ""
    hub: dict = field(default_factory=dict)
    language: str = ""
    types: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)

    def as_source(self) -> Source:
        """The Source whose language and label names build this suite's prompts."""
        if self.source:
            return get_source(self.source)
        return Source(key=self.name, format="bigbio", files={}, language=self.language, tasks=(self.task,),
                      types=self.types)

    def read(self, data_root: Path, trust_remote_code: bool = False) -> list[Record]:
        if self.source:
            return read_split(self.source, self.split, data_root)
        return bigbio.load_hub(self.hub["id"], self.hub.get("config"), self.hub.get("split", "test"), trust_remote_code)


@cache
def load_suites() -> dict[str, Suite]:
    raw = yaml.safe_load(SUITES_FILE.read_text(encoding="utf-8"))
    return {name: Suite(name=name, **spec) for name, spec in raw.items()}
