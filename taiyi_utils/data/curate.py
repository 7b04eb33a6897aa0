"""The curation step end to end: read sources -> instruction pairs -> quality gates -> stage mixtures -> files.

``curate`` is what notebook 01 calls; it writes ``<out_dir>/stage1.jsonl``,
``stage2.jsonl``, ``eval/<suite>.jsonl`` and, last, ``data_card.json``.
"""
from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..eval.suites import load_suites, replaced_suites
from ..files import write_json, write_jsonl
from ..model import token_counter
from ..paths import shared_data_root
from . import mix, quality
from .instruct import build_pairs, inventory
from .sources import get_source, load_sources, read_split, replaced_sources
from .tiny import write_tiny_corpus

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
    print("../shared/data/raw not found: using the tiny built-in corpus (smoke runs only; results are not real)")
    return write_tiny_corpus(Path(run_dir) / "tiny_raw")


def _sample(records: list, limit: int, seed: str) -> list:
    """``limit`` records (all if negative); seeds name their purpose so train and eval draws differ."""
    if limit < 0 or len(records) <= limit:
        return records
    return random.Random(seed).sample(records, limit)


def _check_names(suite: str, task: str, source, records: list) -> None:
    """A suite whose type / relation names match none of its corpus' labels would score empty gold: refuse."""
    names = {"ner": source.types, "re": source.relations}.get(task)
    if names and records:
        found = inventory(records)["entities" if task == "ner" else "relations"]
        if found and not set(names) & set(found):
            raise ValueError(f"suite {suite!r}: its {task} names {sorted(names)} match none of the corpus' {found[:10]}")


def _counts(pairs: list[dict]) -> dict:
    tokens = [p["tokens"] for p in pairs]
    return {
        "pairs": len(pairs),
        "by_dataset": dict(Counter(p["dataset"] for p in pairs).most_common()),
        "by_category": dict(Counter(p["category"] for p in pairs).most_common()),
        "by_language": dict(Counter(p["language"] for p in pairs).most_common()),
        "tokens": {"total": sum(tokens), "mean": round(statistics.fmean(tokens), 1) if tokens else 0,
                   "max": max(tokens, default=0)},
    }


def curate(data_root: str | Path, out_dir: str | Path, *, train_sources: dict[str, str], eval_suites: list[str],
           max_records_per_source: int = -1, eval_samples: int = 200, split_ner_by_type: bool = True,
           cap_per_dataset: int = 10_000, caps: dict[str, int] | None = None, replay_fraction: float = 1.0,
           tokenizer: str = "embedded:smollm2-135m", max_tokens: int = 1024, remove_overlap: bool = True,
           holdout: dict[str, int] | None = None, sources_files: list[str] = (), suites_files: list[str] = (),
           seed: int = 0) -> Curation:
    """Build and write the stage mixtures and evaluation sets; returns them with the data card.

    ``holdout`` sets how many records a dev-only source (CMeEE-V2, CMeIE) holds out for evaluation
    (source key -> records; default in sources.yaml): its ``dev-train`` part trains, ``dev-eval`` evaluates.
    ``sources_files`` / ``suites_files`` are the user's registry YAMLs, merged over the shipped ones.
    """
    data_root, out_dir = Path(data_root), Path(out_dir)
    source_files, suite_files = tuple(map(str, sources_files)), tuple(map(str, suites_files))
    sources, suites = load_sources(source_files), load_suites(suite_files, source_files)
    unknown = [s for s in eval_suites if s not in suites]
    if unknown:
        raise KeyError(f"unknown eval suite(s) {unknown}; known: {', '.join(suites)}")

    train, read_counts = [], {}
    for key, split in tqdm(train_sources.items(), desc="read + instruct", unit="source"):
        records = _sample(read_split(key, split, data_root, holdout, sources), max_records_per_source,
                          f"train:{key}:{seed}")
        read_counts[key] = {"split": split, "records": len(records)}
        train += build_pairs(records, get_source(key, sources), seed=seed, split_ner_by_type=split_ner_by_type)

    evaluation, unavailable, eval_read = {}, {}, {}
    for name in tqdm(eval_suites, desc="eval suites", unit="suite"):
        suite = suites[name]
        try:
            records = suite.read(data_root, holdout, sources)
        except FileNotFoundError as err:
            unavailable[name] = str(err)
            continue
        source = suite.as_source(sources)
        _check_names(name, suite.task, source, records)
        records = _sample(records, eval_samples, f"eval:{name}:{seed}")
        eval_read[name] = len(records)
        pairs = build_pairs(records, source, tasks=(suite.task,),
                            seed=seed, template_index=0, split_ner_by_type=split_ner_by_type,
                            **({"relation_candidates": suite.candidates} if suite.candidates else {}))
        evaluation[name] = [{**p, "suite": name, "metric": suite.metric} for p in pairs]

    train, duplicates = quality.dedup(train)
    count = token_counter(tokenizer)
    quality.add_token_counts(train, count)
    for pairs in evaluation.values():
        quality.add_token_counts(pairs, count)
    train, too_long = quality.length_filter(train, max_tokens)
    train, overlap = quality.overlap(train, evaluation, remove=remove_overlap)
    overlap["eval_items_in_training_after_removal"] = quality.overlap(train, evaluation, remove=False)[1][
        "eval_items_in_training"]
    stage1, stage2 = mix.build_stages(train, cap_per_dataset=cap_per_dataset, caps=caps,
                                      replay_fraction=replay_fraction, seed=seed)

    write_jsonl(out_dir / "stage1.jsonl", ({k: p[k] for k in TRAIN_FIELDS} for p in stage1))
    write_jsonl(out_dir / "stage2.jsonl", ({k: p[k] for k in TRAIN_FIELDS} for p in stage2))
    for name, pairs in evaluation.items():
        write_jsonl(out_dir / "eval" / f"{name}.jsonl", pairs)
    card = {
        "data_root": str(data_root), "tokenizer": tokenizer, "max_tokens": max_tokens, "seed": seed,
        "sources": read_counts,
        "quality": {"duplicates_removed": {k: dict(v) for k, v in duplicates.items()},
                    "over_max_tokens_removed": dict(too_long), "overlap": overlap},
        "stage1": _counts(stage1), "stage2": _counts(stage2),
        "registries": {"sources_files": list(source_files), "suites_files": list(suite_files),
                       "replaced": {"sources": replaced_sources(source_files),
                                    "suites": replaced_suites(suite_files, source_files)}},
        "eval": {name: {"pairs": len(p), "records": eval_read[name], "metric": suites[name].metric,
                        "over_max_tokens": sum(x["tokens"] > max_tokens for x in p)} for name, p in evaluation.items()},
        "eval_unavailable": unavailable,
    }
    write_json(out_dir / "data_card.json", card)
    return Curation(stage1, stage2, evaluation, card, unavailable)
