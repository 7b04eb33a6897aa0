"""Taiyi's 140 training datasets (``catalog.yaml``) as a table the notebook can filter and plot."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from .sources import load_sources

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")


@cache
def _entries() -> tuple[dict, ...]:
    return tuple(yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8")))


def load_catalog() -> pd.DataFrame:
    """One row per dataset: language, task codes, split sizes, links, and how to read it.

    ``reader`` is the local source's format where the workbench has a copy, ``bigbio``
    where a BigBIO hub id exists, and empty where the user must supply the data.
    """
    sources = load_sources()
    rows = []
    for entry in _entries():
        splits = entry.get("splits", {})
        local = entry.get("local_sources", [])
        hub = entry.get("hub_id", "")
        rows.append(
            {
                "name": entry["name"],
                "language": entry["language"],
                "tasks": entry["tasks"],
                "task": entry["tasks"][0].split("-")[0],
                "train": splits.get("train", 0),
                "dev": splits.get("dev", 0),
                "test": splits.get("test", 0),
                "size": sum(splits.values()),
                "url": entry.get("url", ""),
                "hub_id": hub,
                "local_sources": local,
                "reader": sources[local[0]].format if local else ("bigbio" if hub.startswith("bigbio/") else ""),
                "note": entry.get("note", ""),
            }
        )
    return pd.DataFrame(rows)
