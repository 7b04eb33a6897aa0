"""The curation step end to end: read sources -> instruction pairs -> quality gates -> stage mixtures -> files.

A pipeline step above ``data`` (readers, instructions, quality gates) and ``evaluation`` (the suite
registry): neither imports the other. ``curate`` is what notebook 01 calls; it writes
``<out_dir>/stage1.jsonl``, ``stage2.jsonl``, ``eval/<suite>.jsonl`` and, last, ``data_card.json``.
"""

from __future__ import annotations

import logging
import random
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from . import tasks
from .data import mix, quality
from .data.instruct import build_pairs, inventory
from .data.sources import get_source, load_sources, read_split, replaced_sources
from .data.tiny import write_tiny_corpus
from .evaluation.suites import load_suites, replaced_suites
from .files import write_json, write_jsonl
from .paths import shared_data_root
from .settings import CurationConfig

log = logging.getLogger(__name__)

TRAIN_FIELDS = ("conversation_id", "dataset", "category", "language", "task", "conversation", "tokens")


@dataclass
class Curation:
    stage1: list[dict]
    stage2: list[dict]
    eval: dict[str, list[dict]]
    card: dict
    unavailable: dict[str, str] = field(default_factory=dict)


def resolve_data_root(data_root: str, run_dir: str | Path) -> Path:
    """The given root, else the shared raw data, else a tiny corpus written into the run folder."""
    if data_root:
        if not Path(data_root).is_dir():
            raise FileNotFoundError(f"data_root {data_root!r} is not a folder")
        return Path(data_root)
    shared = shared_data_root()
    if shared is not None:
        return shared
    log.warning("../shared/data/raw not found: using the tiny built-in corpus (smoke runs only; results are not real)")
    return write_tiny_corpus(Path(run_dir) / "tiny_raw")


def _sample(records: list, limit: int, seed: str) -> list:
    """``limit`` records (all if negative); seeds name their purpose so train and eval draws differ."""
    if limit < 0 or len(records) <= limit:
        return records
    return random.Random(seed).sample(records, limit)


def _check_names(suite: str, task: str, source, records: list) -> None:
    """A suite whose type / relation names match none of its corpus' labels would score empty gold: refuse."""
    spec = tasks.TASKS.get(task)
    names = getattr(source, spec.names_from[0]) if spec and spec.names_from else None
    if names and records:
        found = inventory(records)[spec.names_from[1]]
        if found and not set(names) & set(found):
            raise ValueError(
                f"suite {suite!r}: its {task} names {sorted(names)} match none of the corpus' {found[:10]}"
            )


def _warn_unmapped(key: str, source, records: list) -> None:
    """A ``labels:`` map that misses classes of the data shows those classes as their raw codes: say which."""
    if source.labels:
        unmapped = sorted(set(inventory(records)["labels"]) - set(source.labels))
        if unmapped:
            log.warning("source %r: labels %s are not in its labels: map; prompts show them as written", key, unmapped)


def _counts(pairs: list[dict]) -> dict:
    tokens = [p["tokens"] for p in pairs]
    return {
        "pairs": len(pairs),
        "by_dataset": dict(Counter(p["dataset"] for p in pairs).most_common()),
        "by_category": dict(Counter(p["category"] for p in pairs).most_common()),
        "by_language": dict(Counter(p["language"] for p in pairs).most_common()),
        "tokens": {
            "total": sum(tokens),
            "mean": round(statistics.fmean(tokens), 1) if tokens else 0,
            "max": max(tokens, default=0),
        },
    }


def curate(
    data_root: str | Path,
    out_dir: str | Path,
    config: CurationConfig | None = None,
    *,
    count_tokens: Callable[[list[str]], list[int]] | None = None,
    **settings,
) -> Curation:
    """Build and write the stage mixtures and evaluation sets; returns them with the data card.

    ``config`` (or its fields as keywords) holds every setting; ``data_root`` is the resolved corpus
    root. ``count_tokens`` counts the tokens of texts (default: ``config.base_model``'s tokenizer).
    """
    config = config or CurationConfig(**settings)
    data_root, out_dir = Path(data_root), Path(out_dir)
    source_files, suite_files = tuple(map(str, config.sources_files)), tuple(map(str, config.suites_files))
    sources, suites = load_sources(source_files), load_suites(suite_files, source_files)
    unknown = [s for s in config.eval_suites if s not in suites]
    if unknown:
        raise KeyError(f"unknown eval suite(s) {unknown}; known: {', '.join(suites)}")
    train, read_counts = _train_pairs(config, data_root, sources)
    evaluation, eval_read, unavailable = _eval_pairs(config, data_root, sources, suites)

    train, duplicates = quality.dedup(train)
    if count_tokens is None:
        from .model import token_counter

        count_tokens = token_counter(config.base_model)
    for pairs in (train, *evaluation.values()):
        quality.add_token_counts(pairs, count_tokens)
    train, too_long = quality.length_filter(train, config.max_tokens)
    train, overlap = quality.overlap(train, evaluation, remove=config.remove_overlap)
    stage1, stage2 = mix.build_stages(
        train, cap_per_dataset=config.cap_per_dataset, caps=config.caps, replay_fraction=config.replay_fraction,
        seed=config.seed,
    )  # fmt: skip

    write_jsonl(out_dir / "stage1.jsonl", ({k: p[k] for k in TRAIN_FIELDS} for p in stage1))
    write_jsonl(out_dir / "stage2.jsonl", ({k: p[k] for k in TRAIN_FIELDS} for p in stage2))
    for name, pairs in evaluation.items():
        write_jsonl(out_dir / "eval" / f"{name}.jsonl", pairs)
    card = {
        "data_root": str(data_root),
        "tokenizer": config.base_model,
        "max_tokens": config.max_tokens,
        "seed": config.seed,
        "sources": read_counts,
        "quality": {
            "duplicates_removed": {k: dict(v) for k, v in duplicates.items()},
            "over_max_tokens_removed": dict(too_long),
            "overlap": overlap,
        },
        "stage1": _counts(stage1),
        "stage2": _counts(stage2),
        "registries": {
            "sources_files": list(source_files),
            "suites_files": list(suite_files),
            "replaced": {
                "sources": replaced_sources(source_files),
                "suites": replaced_suites(suite_files, source_files),
            },
        },
        "eval": {
            name: {
                "pairs": len(p),
                "records": eval_read[name],
                "metric": suites[name].metric,
                "over_max_tokens": sum(x["tokens"] > config.max_tokens for x in p),
            }
            for name, p in evaluation.items()
        },
        "eval_unavailable": unavailable,
    }
    write_json(out_dir / "data_card.json", card)
    return Curation(stage1, stage2, evaluation, card, unavailable)


def _train_pairs(config: CurationConfig, data_root: Path, sources: dict) -> tuple[list[dict], dict]:
    """Instruction pairs of every training source's sampled records, and what was read from each."""
    train, read_counts = [], {}
    for key, split in tqdm(config.train_sources.items(), desc="read + instruct", unit="source"):
        whole = read_split(key, split, data_root, config.holdout, sources)
        _warn_unmapped(key, get_source(key, sources), whole)
        records = _sample(whole, config.max_records_per_source, f"train:{key}:{config.seed}")
        read_counts[key] = {"split": split, "records": len(records)}
        train += build_pairs(
            records, get_source(key, sources), seed=config.seed, split_ner_by_type=config.split_ner_by_type,
            split=whole,
        )  # fmt: skip
    return train, read_counts


def _eval_pairs(config: CurationConfig, data_root: Path, sources: dict, suites: dict) -> tuple[dict, dict, dict]:
    """(items per suite, records sampled per suite, why each unavailable suite is): every suite's sample
    under its first template, with its metric on each item."""
    evaluation, eval_read, unavailable = {}, {}, {}
    for name in tqdm(config.eval_suites, desc="eval suites", unit="suite"):
        suite = suites[name]
        try:
            records = suite.read(data_root, config.holdout, sources)
        except FileNotFoundError as err:
            unavailable[name] = str(err)
            continue
        source = suite.as_source(sources)
        _check_names(name, suite.task, source, records)
        sample = _sample(records, config.eval_samples, f"eval:{name}:{config.seed}")
        eval_read[name] = len(sample)
        pairs = build_pairs(
            sample,
            source,
            tasks=(suite.task,),
            seed=config.seed,
            template_index=0,
            split_ner_by_type=config.split_ner_by_type,
            **({"relation_candidates": suite.candidates} if suite.candidates else {}),
            split=records,
        )
        evaluation[name] = [{**p, "suite": name, "metric": suite.metric} for p in pairs]
    return evaluation, eval_read, unavailable
