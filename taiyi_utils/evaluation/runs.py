"""What a run folder holds for evaluation: its curated suites and its trained adapters."""

from __future__ import annotations

from pathlib import Path

from ..files import read_jsonl
from ..settings import STAGE_LABELS


def load_eval_rows(eval_dir: str | Path, suites: list[str] | None = None, records: int = -1) -> dict[str, list[dict]]:
    """Curated evaluation items per suite; ``records`` keeps the first N records (all their prompts)."""
    if not Path(eval_dir).is_dir():
        raise FileNotFoundError(f"{eval_dir}: no curated suites; run notebook 01 (curation) for this run folder first")
    found = {p.stem: p for p in sorted(Path(eval_dir).glob("*.jsonl"))}
    unknown = [s for s in suites or [] if s not in found]
    if unknown:
        raise KeyError(f"no curated items for suite(s) {unknown} in {eval_dir}; have {', '.join(found)}")
    return first_records({suite: read_jsonl(found[suite]) for suite in suites or list(found)}, records)


def first_records(suites: dict[str, list[dict]], records: int) -> dict[str, list[dict]]:
    """Each suite's items of its first ``records`` records (-1: all); curation wrote records in random order."""
    if records < 0:
        return suites
    chosen = {}
    for suite, rows in suites.items():
        keep = set(list(dict.fromkeys(r["record_id"] for r in rows))[:records])
        chosen[suite] = [r for r in rows if r["record_id"] in keep]
    return chosen


STAGE_FOLDERS = dict(zip(STAGE_LABELS, ("stage1", "stage2", "one_stage")))  # label -> its run subfolder


def stage_adapters(run_dir: str | Path) -> dict[str, str]:
    """The run's trained adapters that exist: "stage 1", "stage 2" and, where notebook 03 trained Taiyi's
    one-stage ablation, "one-stage"."""
    return {
        label: str(p) for label, folder in STAGE_FOLDERS.items() if (p := Path(run_dir) / folder / "adapter").exists()
    }


def run_adapters(adapters: dict[str, str], run_dir: str | Path) -> dict[str, str]:
    """``adapters`` with relative folders taken inside the run folder (``stage2/adapter``); empty: the run's own."""
    if not adapters:
        return stage_adapters(run_dir)
    return {
        label: str(Path(run_dir) / path) if not Path(path).is_absolute() else path for label, path in adapters.items()
    }
