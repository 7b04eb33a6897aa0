"""Evaluate models on the curated suites: cached generation, scoring, metrics with bootstrap intervals.

Prompts of every suite are generated together (fuller batches; each keeps its suite's
token limit), and outputs are cached as JSON lines, appended as each answer finishes: an
interrupted evaluation resumes without recomputing finished items (a line cut short by a
kill is ignored and regenerated). A cache file belongs to one model identity (base model,
adapter content, precision, chat format: ``cache/<label>-<digest>.jsonl``) and each line to one
prompt text and token limit, so a changed adapter or prompt is never answered from the cache.

A suite's answer limit comes from its gold answers under the evaluated tokenizer (the longest
plus ``LIMIT_SLACK``), over the suite's whole evaluated slice, so no gold answer would be cut off
and every model compared on the suite answers under the same limit, also one that answers fewer
records. A cap (``max_new_tokens``, or one per suite) may lower it; each prediction records whether
it stopped at the limit, summaries report that share and how many gold answers the cap cuts off.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import tasks
from ..files import content_digest, write_json, write_jsonl
from ..settings import STAGE_LABELS, EvalConfig
from .engines import load_for_answering
from .generate import generate
from .metrics import bootstrap_ci, by_record, item_statistics, macro_f1, micro, suite_labels, wilson
from .score import score_row
from .suites import load_suites

LIMIT_SLACK = 8  # tokens beyond the longest gold answer: room for a closing word, not for a second answer


def gold_lengths(rows: list[dict], tokenizer) -> list[int]:
    """Each row's gold answer in tokens of ``tokenizer``."""
    golds = [r["conversation"][0]["assistant"] for r in rows]
    return [len(ids) for ids in tokenizer(golds, add_special_tokens=False)["input_ids"]] if golds else []


def answer_limits(
    rows: list[dict], tokenizer, cap: int = -1, suite_caps: dict[str, int] | None = None
) -> dict[str, int]:
    """Max new tokens per suite: its longest gold answer under ``tokenizer`` plus ``LIMIT_SLACK``, at most
    the suite's cap in ``suite_caps``, else ``cap`` when one is set (-1: none)."""
    return _limits(rows, gold_lengths(rows, tokenizer), cap, suite_caps or {})


def _limits(rows: list[dict], lengths: list[int], cap: int, suite_caps: dict[str, int]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for row, length in zip(rows, lengths):
        limits[row.get("suite", "")] = max(limits.get(row.get("suite", ""), 0), length + LIMIT_SLACK)
    capped = {suite: suite_caps.get(suite, cap) for suite in limits}
    return {suite: min(limit, capped[suite]) if capped[suite] > 0 else limit for suite, limit in limits.items()}


def _read_cache(path: Path) -> dict[str, dict]:
    done = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of a killed run
            if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("output"), str):
                done[item["id"]] = item  # anything else (a hand-edited line) is answered again
    return done


def item_key(row: dict) -> str:
    """An item's key: conversation ids are unique within a suite, not across suites."""
    return f"{row.get('suite', '')}/{row['conversation_id']}"


def _request_key(row: dict, limit: int) -> str:
    """What a cached answer answered: the item, its prompt text and its token limit."""
    digest = hashlib.sha256(f"{row['conversation'][0]['human']}\0{limit}".encode()).hexdigest()[:12]
    return f"{item_key(row)}#{digest}"


def model_identity(base_model: str, adapter: str | None, model, chat_format: str) -> str:
    """A digest of what makes a model's answers: base, adapter content, precision and chat format."""
    parts = {
        "base": base_model,
        "adapter": content_digest(adapter) if adapter else None,
        "chat_format": chat_format,
        "dtype": str(getattr(model, "dtype", "")),
        "4bit": bool(getattr(model, "is_loaded_in_4bit", False)),
        "backend": getattr(model, "backend", "transformers"),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def predict(
    model,
    tokenizer,
    rows: list[dict],
    cache: str | Path,
    *,
    chat_format: str = "template",
    batch_size: int = 64,
    label: str = "",
    limits: dict[str, int] | None = None,
) -> dict[str, dict]:
    """``{"output", "cut", "limit", "gold_over_limit"}`` for ``rows`` by ``item_key``, generating only what
    ``cache`` lacks.

    ``limit`` is the item's suite's token limit from ``limits`` (default: ``answer_limits`` of ``rows``),
    ``cut`` is true when the answer stopped there, and ``gold_over_limit`` when the gold answer is longer.
    """
    cache = Path(cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = _read_cache(cache)
    lengths = gold_lengths(rows, tokenizer)
    limits = limits or _limits(rows, lengths, -1, {})
    keys = {item_key(r): _request_key(r, limits[r.get("suite", "")]) for r in rows}
    todo = [r for r in rows if keys[item_key(r)] not in done]
    budget = [limits[r.get("suite", "")] for r in todo]
    with cache.open("a", encoding="utf-8") as handle:

        def save(indices: list[int], outputs: list[str], lengths: list[int]) -> None:
            for i, output, length in zip(indices, outputs, lengths):
                key = keys[item_key(todo[i])]
                done[key] = item = {"id": key, "output": output, "cut": length >= budget[i]}
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
            handle.flush()

        generate(
            model,
            tokenizer,
            [r["conversation"][0]["human"] for r in todo],
            chat_format=chat_format,
            max_new_tokens=budget,
            batch_size=batch_size,
            desc=label or "generate",
            on_batch=save,
        )
    return {
        item_key(r): {
            **done[keys[item_key(r)]],
            "limit": limits[r.get("suite", "")],
            "gold_over_limit": length > limits[r.get("suite", "")],
        }
        for r, length in zip(rows, lengths)
    }


def summarize(suite: str, scored: list[dict], metric: str, n_resamples: int = 1000, seed: int = 0) -> dict:
    """``metric`` (the suite's score) with a 95% interval, plus P/R/F1, macro-F1 or accuracy, format and cut rates.

    Accuracies get a Wilson interval; F1 scores a percentile bootstrap over records (a record's
    prompts, such as one per entity type, are drawn together), Wilson's over records where the score
    is 0 or 1 (``metrics.bootstrap_ci``). Macro-F1 averages per-label F1 over the labels the prompts
    offered (BLURB's HoC score, PromptCBLUE's KUAKE-QIC score), leaving out a label with nothing to find
    and nothing predicted. ``gold`` counts the gold items an F1 rests on (tp + fn).
    """
    summary = {
        "suite": suite,
        "metric": metric,
        "items": len(scored),
        "records": len({s["record_id"] for s in scored}),
        "format_rate": sum(s["format_ok"] for s in scored) / len(scored) if scored else 0.0,
        "cut_rate": sum(s.get("cut", False) for s in scored) / len(scored) if scored else 0.0,
    }
    labels = suite_labels(scored)
    if "correct" in (scored[0] if scored else {}):
        correct = sum(bool(s["correct"]) for s in scored)
        summary["accuracy"] = correct / len(scored)
        low, high = wilson(correct, len(scored))
    else:
        summary.update(
            {
                k: v
                for k, v in micro([s["counts"] for s in scored]).items()
                if k in ("precision", "recall", "f1", "tp", "fp", "fn")
            }
        )
        summary.update(micro_f1=summary["f1"], gold=summary["tp"] + summary["fn"])
        if labels:
            summary["macro_f1"] = macro_f1([set(s["gold"]) for s in scored], [set(s["pred"]) for s in scored], labels)
    if metric not in summary:
        raise ValueError(f"suite {suite!r}: metric {metric!r} does not apply to {scored[0]['task']!r} items")
    if metric != "accuracy":
        _, per_record = by_record(item_statistics(scored, metric, labels), [s["record_id"] for s in scored])
        low, high = bootstrap_ci(per_record, metric, n_resamples, seed)
    summary.update(score=summary[metric], ci_low=low, ci_high=high)
    return summary


def suite_metric(suite: str, rows: list[dict]) -> str:
    """The metric a suite declares (curation writes it on each item; else the shipped registry; else its task's)."""
    if rows and rows[0].get("metric"):
        return rows[0]["metric"]
    spec = load_suites().get(suite)
    return spec.metric if spec else tasks.get_task(rows[0]["task"]).metric if rows else "micro_f1"


def evaluate(
    model,
    tokenizer,
    suites: dict[str, list[dict]],
    out_dir: str | Path,
    label: str,
    *,
    identity: str,
    chat_format: str = "template",
    batch_size: int = 64,
    limits: dict[str, int] | None = None,
) -> tuple[list[dict], list[dict]]:
    """(suite summaries, scored rows) for one model over every suite; rows carry ``model``.

    Each summary gives the suite's ``answer_limit`` (from ``limits``, the same for every model compared) and
    how many gold answers are longer than it (``gold_over_limit``: no model could give those in full; only a
    cap makes it more than 0).

    ``identity`` (``model_identity``) names the answer cache, so answers of another model are never reused.
    """
    rows = [{**r, "suite": suite} for suite, items in suites.items() for r in items]
    cache = _cache_path(out_dir, label, identity)
    outputs = predict(
        model, tokenizer, rows, cache, chat_format=chat_format, batch_size=batch_size, label=label, limits=limits
    )
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


def load_eval_rows(eval_dir: str | Path, suites: list[str] | None = None, records: int = -1) -> dict[str, list[dict]]:
    """Curated evaluation items per suite; ``records`` keeps the first N records (all their prompts)."""
    from ..files import read_jsonl

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


def evaluate_models(
    config: EvalConfig, suites: dict[str, list[dict]], out_dir: str | Path, engine: tuple | None = None
) -> tuple[list[dict], list[dict]]:
    """Base model (adapter switched off) and each of ``config.adapters`` on one loaded base; merged models
    load as a base. A model with fewer records (``config.records_per_model``) answers the first ones, under
    the same answer limits as the others (taken from all of ``suites``). Writes ``metrics.json`` (one summary
    per model and suite) and ``predictions.jsonl`` (every scored answer) in ``out_dir``. ``engine``: an
    already loaded (model, tokenizer)."""
    from .. import model as models

    model, tokenizer = engine or load_engine(config)
    limits = suite_limits(config, suites, tokenizer)
    summaries, rows = [], []
    for label in config.labels():
        identity = model_identity(config.base_model, config.adapters.get(label), model, config.chat_format)
        with models.acting_as(model, label):
            s, r = evaluate(
                model,
                tokenizer,
                first_records(suites, config.records_for(label)),
                out_dir,
                label,
                identity=identity,
                chat_format=config.chat_format,
                batch_size=config.batch_size,
                limits=limits,
            )
        summaries += s
        rows += r
    write_json(Path(out_dir) / "metrics.json", summaries)
    write_jsonl(Path(out_dir) / "predictions.jsonl", rows)
    return summaries, rows


def load_engine(config: EvalConfig) -> tuple:
    """(model with every adapter on ``config.backend``, tokenizer)."""
    from .. import model as models

    return load_for_answering(config, config.adapters), models.load_tokenizer(
        config.base_model, config.trust_remote_code
    )


def suite_limits(config: EvalConfig, suites: dict[str, list[dict]], tokenizer) -> dict[str, int]:
    """Each suite's answer limit from its whole slice (the same for every model and every shard)."""
    rows = [{**r, "suite": suite} for suite, items in suites.items() for r in items]
    return answer_limits(rows, tokenizer, config.max_new_tokens, config.max_new_tokens_by_suite)


def answer_shard(config: EvalConfig, suites: dict[str, list[dict]], out_dir: str | Path, rank: int, world: int,
                 engine: tuple) -> None:  # fmt: skip
    """Data parallelism: this process answers every ``world``-th prompt (from ``rank``) of each model into its
    own part of the answer cache; ``merge_shards`` then joins the parts and ``evaluate_models`` scores from the
    cache alone, so the result equals one process's."""
    from .. import model as models

    model, tokenizer = engine
    limits = suite_limits(config, suites, tokenizer)
    for label in config.labels():
        identity = model_identity(config.base_model, config.adapters.get(label), model, config.chat_format)
        chosen = first_records(suites, config.records_for(label))
        rows = [{**r, "suite": suite} for suite, items in chosen.items() for r in items]
        part = _cache_path(out_dir, label, identity).with_suffix(f".part{rank}")
        with models.acting_as(model, label):
            predict(model, tokenizer, rows[rank::world], part, chat_format=config.chat_format,
                    batch_size=config.batch_size, label=f"{label} [{rank + 1}/{world}]", limits=limits)  # fmt: skip


def merge_shards(out_dir: str | Path) -> int:
    """Append every cache part (``answer_shard``) to its model's cache file and remove it; returns the parts."""
    parts = sorted((Path(out_dir) / "cache").glob("*.part*"))
    for part in parts:
        target = part.with_suffix(".jsonl")
        with target.open("a", encoding="utf-8") as handle:
            handle.write(part.read_text(encoding="utf-8"))
        part.unlink()
    return len(parts)


def _cache_path(out_dir: str | Path, label: str, identity: str) -> Path:
    return Path(out_dir) / "cache" / f"{label.replace(' ', '_')}-{identity}.jsonl"
