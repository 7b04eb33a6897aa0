"""Evaluate a run's models on its curated suites: answers through the cache, scores, metrics, comparisons.

Notebook 04 and ``python -m taiyi_utils.evaluation run`` call the same steps: ``run_inputs`` (the run's
adapters and suites), ``evaluate_models`` (every model answers and is scored; ``answer_shard`` first when
several processes share the answering) and ``write_comparison``.
"""

from __future__ import annotations

from pathlib import Path

from ..files import write_json, write_jsonl
from ..settings import EvalConfig
from .compare import compare
from .engines import load_for_answering
from .limits import suite_limits
from .predict import cache_path, item_key, model_identity, predict
from .runs import first_records, load_eval_rows, run_adapters
from .score import score_row
from .summary import suite_metric, summarize


def evaluate(
    engine,
    tokenizer,
    suites: dict[str, list[dict]],
    out_dir: str | Path,
    label: str,
    *,
    identity: str,
    chat_format: str = "template",
    limits: dict[str, int] | None = None,
) -> tuple[list[dict], list[dict]]:
    """(suite summaries, scored rows) for one model over every suite; rows carry ``model``.

    Each summary gives the suite's ``answer_limit`` (from ``limits``, the same for every model compared) and
    how many gold answers are longer than it (``gold_over_limit``: no model could give those in full; only a
    cap makes it more than 0). ``identity`` (``model_identity``) names the answer cache, so answers of
    another model are never reused.
    """
    rows = [{**r, "suite": suite} for suite, items in suites.items() for r in items]
    outputs = predict(
        engine, tokenizer, rows, cache_path(out_dir, label, identity), chat_format=chat_format, label=label,
        limits=limits,
    )  # fmt: skip
    summaries, scored_rows = [], []
    for suite in suites:
        suite_rows = [r for r in rows if r["suite"] == suite]
        answers = [outputs[item_key(r)] for r in suite_rows]
        scored = [{**score_row(r, a["output"]), "cut": a["cut"], "model": label} for r, a in zip(suite_rows, answers)]
        summary = summarize(suite, scored, suite_metric(suite, suite_rows))
        summary.update(
            answer_limit=answers[0]["limit"] if answers else 0,
            gold_over_limit=sum(a["gold_over_limit"] for a in answers),
        )
        summaries.append({"model": label, **summary})
        scored_rows += scored
    return summaries, scored_rows


def run_inputs(config: EvalConfig, run_dir: str | Path) -> dict[str, list[dict]]:
    """The run's curated suites (``config.suites``, ``config.records_per_suite``); ``config.adapters`` becomes
    the run's own adapters, or the given ones with relative folders taken inside the run."""
    config.adapters = run_adapters(config.adapters, run_dir)
    return load_eval_rows(Path(run_dir) / "data" / "eval", config.suites or None, config.records_per_suite)


def load_engine(config: EvalConfig) -> tuple:
    """(an engine with every adapter on ``config.backend``, tokenizer)."""
    from .. import model as models

    return load_for_answering(config, config.adapters), models.load_tokenizer(
        config.base_model, config.trust_remote_code
    )


def _each_model(config: EvalConfig, suites: dict[str, list[dict]], engine):
    """(label, its records, its cache identity) for the base model and each adapter, the engine acting as it.
    A model with fewer records (``config.records_per_model``) answers the first ones."""
    for label in config.labels():
        identity = model_identity(config.base_model, config.adapters.get(label), engine, config.chat_format)
        with engine.acting_as(label):
            yield label, first_records(suites, config.records_for(label)), identity


def evaluate_models(
    config: EvalConfig, suites: dict[str, list[dict]], out_dir: str | Path, engine: tuple | None = None
) -> tuple[list[dict], list[dict]]:
    """Base model (adapter switched off) and each of ``config.adapters`` on one loaded base, every model under
    the same answer limits (taken from all of ``suites``). Writes ``metrics.json`` (one summary per model and
    suite) and ``predictions.jsonl`` (every scored answer) in ``out_dir``. ``engine``: an already loaded
    (engine, tokenizer)."""
    engine, tokenizer = engine or load_engine(config)
    limits = suite_limits(config, suites, tokenizer)
    summaries, rows = [], []
    for label, chosen, identity in _each_model(config, suites, engine):
        s, r = evaluate(engine, tokenizer, chosen, out_dir, label, identity=identity,
                        chat_format=config.chat_format, limits=limits)  # fmt: skip
        summaries += s
        rows += r
    write_json(Path(out_dir) / "metrics.json", summaries)
    write_jsonl(Path(out_dir) / "predictions.jsonl", rows)
    return summaries, rows


def answer_shard(config: EvalConfig, suites: dict[str, list[dict]], out_dir: str | Path, rank: int, world: int,
                 engine: tuple) -> None:  # fmt: skip
    """Data parallelism: this process answers every ``world``-th prompt (from ``rank``) of each model into its
    own part of the answer cache; ``merge_shards`` then joins the parts and ``evaluate_models`` scores from the
    cache alone, so the result equals one process's."""
    engine, tokenizer = engine
    limits = suite_limits(config, suites, tokenizer)
    for label, chosen, identity in _each_model(config, suites, engine):
        rows = [{**r, "suite": suite} for suite, items in chosen.items() for r in items]
        part = cache_path(out_dir, label, identity).with_suffix(f".part{rank}")
        predict(engine, tokenizer, rows[rank::world], part, chat_format=config.chat_format,
                label=f"{label} [{rank + 1}/{world}]", limits=limits)  # fmt: skip


def merge_shards(out_dir: str | Path) -> int:
    """Append every cache part (``answer_shard``) to its model's cache file and remove it; returns the parts."""
    parts = sorted((Path(out_dir) / "cache").glob("*.part*"))
    for part in parts:
        target = part.with_suffix(".jsonl")
        with target.open("a", encoding="utf-8") as handle:
            handle.write(part.read_text(encoding="utf-8"))
        part.unlink()
    return len(parts)


def write_comparison(config: EvalConfig, summaries: list[dict], scored: list[dict], registry: dict,
                     out_dir: str | Path) -> list[dict]:  # fmt: skip
    """Paired differences for ``config.comparisons`` (default: each stage against the base and the one
    before it), written to ``comparison.json``."""
    metrics = {s["suite"]: s["metric"] for s in summaries}
    comparison = compare(scored, metrics, config.comparisons or None, suites=registry)
    write_json(Path(out_dir) / "comparison.json", comparison)
    return comparison
