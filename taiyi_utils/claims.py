"""What each notebook's "What you should have seen" tells the student, checked against the run's own files.

A course whose sentences the run contradicts teaches the wrong thing, so each claim is printed beside the value
this run measured and a verdict: ``agrees``, ``disagrees`` or ``depends`` (on the machine or the sizes, where the
claim is about the demo's scale rather than the method). The functions read only files the notebooks wrote, so
they work from Python on any finished run: ``print(report(stage(run_dir, 2)))``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NamedTuple

from . import tasks
from .data.mix import STAGE1_FAMILIES
from .evaluation.compare import clear_of_zero
from .files import read_json, read_jsonl

MARKS = {"agrees": "✓", "disagrees": "✗ this run disagrees:", "depends": "~ depends on the machine and sizes:"}


class Check(NamedTuple):
    claim: str
    measured: str
    verdict: str  # agrees | disagrees | depends


def _verdict(ok: bool) -> str:
    return "agrees" if ok else "disagrees"


def report(checks: list[Check]) -> str:
    """One block per claim: its verdict mark, the claim, and what this run measured."""
    return "\n".join(f"{MARKS[c.verdict]} {c.claim}\n    this run: {c.measured}" for c in checks)


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def curation(run_dir: str | Path) -> list[Check]:
    """Notebook 01: the two mixtures, the overlap with evaluation, and answer formats the parser reads back."""
    data = Path(run_dir) / "data"
    card = read_json(data / "data_card.json")
    stage1, stage2 = read_jsonl(data / "stage1.jsonl"), read_jsonl(data / "stage2.jsonl")
    families1 = Counter(r["category"] for r in stage1)
    added = Counter(r["category"] for r in stage2 if r["category"] not in STAGE1_FAMILIES)
    new_sources = sorted({r["dataset"] for r in stage2 if r["category"] not in STAGE1_FAMILIES})
    ids1 = {r["conversation_id"] for r in stage1}
    replayed = sum(r["conversation_id"] in ids1 for r in stage2)
    overlap = card["quality"]["overlap"]
    seen_before = sum(overlap["eval_items_in_training"].values())
    seen_after = sum(overlap["eval_items_in_training_after_removal"].values())
    items = [row for path in sorted((data / "eval").glob("*.jsonl")) for row in read_jsonl(path)]
    prompts = {r["conversation"][0]["human"] for r in stage1 + stage2}
    shared = sum(r["conversation"][0]["human"] in prompts for r in items)
    in_format = sum(tasks.follows_format(r, r["conversation"][0]["assistant"]) for r in items)
    languages = Counter(r["language"] for r in stage2)
    return [
        Check(
            "Stage 1 holds task data only; stage 2 adds QA and dialogue and replays stage 1.",
            f"stage 1 families {dict(families1.most_common())}; stage 2 adds {dict(added)} (from "
            f"{', '.join(new_sources)}) and replays "
            f"{replayed:,} of stage 1's {len(stage1):,} pairs",
            _verdict(not set(families1) - STAGE1_FAMILIES and bool(added) and replayed > 0),
        ),
        Check(
            "The overlap table's after-removal column is all zeros: no evaluation text is trained on.",
            f"{seen_before} evaluation items overlapped the training data read, {seen_after} after removal; "
            f"{shared} of {len(items)} evaluation prompts appear verbatim in a mixture",
            _verdict(seen_after == 0 and shared == 0),
        ),
        Check(
            "Prompts come in both languages, and every gold answer follows its task's format (the parser reads "
            "back what the writer wrote).",
            f"stage 2 pairs by language {dict(languages)}; {in_format} of {len(items)} gold answers in format",
            _verdict(len(languages) >= 2 and in_format == len(items)),
        ),
    ]


def _losses(stage_dir: Path) -> tuple[list[float], list[dict]]:
    rows = read_jsonl(stage_dir / "log.jsonl") if (stage_dir / "log.jsonl").exists() else []
    return [r["loss"] for r in rows if "loss" in r], [r for r in rows if "eval_loss" in r]


def _quarter_means(losses: list[float]) -> tuple[float, float]:
    k = max(1, len(losses) // 4)
    return sum(losses[:k]) / k, sum(losses[-k:]) / k


def stage(run_dir: str | Path, number: int) -> list[Check]:
    """Notebooks 02 and 03: the losses, the probe formats, and what a stage costs."""
    run_dir = Path(run_dir)
    stage_dir = run_dir / f"stage{number}"
    card = read_json(stage_dir / "train_card.json")
    losses, evals = _losses(stage_dir)
    first, last = _quarter_means(losses)
    rates = card.get("probe_format_rate", {})
    this = f"stage {number}"
    checks = [
        Check(
            "The training loss falls: the last quarter of logged steps averages below the first quarter.",
            f"{first:.2f} -> {last:.2f} over {card['steps']} steps ({len(losses)} logged; single steps vary with "
            "their examples)",
            _verdict(last < first),
        )
    ]
    if len(evals) >= 2:
        checks.append(
            Check(
                "The held-out loss falls from the start of the stage to its end.",
                f"{evals[0]['eval_loss']:.3f} -> {evals[-1]['eval_loss']:.3f}",
                _verdict(evals[-1]["eval_loss"] < evals[0]["eval_loss"]),
            )
        )
    if number == 1:
        checks.append(
            Check(
                "Before training the base model rarely answers in the expected format; afterwards more answers do.",
                f"probe answers in format: base {_pct(rates.get('base', 0))}, stage 1 {_pct(rates.get(this, 0))}",
                _verdict(rates.get("base", 1) <= 0.5 and rates.get(this, 0) > rates.get("base", 1)),
            )
        )
    else:
        checks += _stage2_checks(run_dir, evals, rates)
    cpu = card["device"] == "cpu"
    checks += [
        Check(
            "At the demo's sizes a stage trains in minutes on two CPU cores.",
            f"{card['seconds'] / 60:.1f} minutes for {card['tokens_seen']:,} tokens on {card['device']} "
            f"({card['precision']})",
            "depends",
        ),
        Check(
            "On CPU the stage's process stays under 3 GiB (one example per forward, bf16 frozen weights).",
            f"peak {card['peak_memory_gib']:.2f} GiB" + ("" if cpu else " of GPU memory (the claim is about CPU)"),
            _verdict(card["peak_memory_gib"] < 3) if cpu else "depends",
        ),
    ]
    return checks


def _stage2_checks(run_dir: Path, evals: list[dict], rates: dict) -> list[Check]:
    stage1 = read_json(run_dir / "stage1" / "train_card.json")
    ended = stage1.get("final_eval_loss")
    checks = []
    if evals and ended is not None:
        checks.append(
            Check(
                "Stage 2 starts above where stage 1 ended: most of its mixture (QA, dialogue) is new to the adapter.",
                f"held-out loss: stage 1 ended at {ended:.3f} (its held-out pairs); stage 2 starts at "
                f"{evals[0]['eval_loss']:.3f} (its own)",
                _verdict(evals[0]["eval_loss"] > ended),
            )
        )
    if len(evals) >= 2 and "eval_loss_by_family" in evals[0]:
        start, end = evals[0]["eval_loss_by_family"], evals[-1]["eval_loss_by_family"]
        change = {f: end[f] - start[f] for f in start if f in end}
        checks.append(
            Check(
                "Every task family's held-out loss falls, the replayed stage-1 families' as well as the new ones': "
                "the replay keeps stage 1's tasks from being forgotten.",
                "change start -> end: "
                + ", ".join(
                    f"{f}{'' if f in STAGE1_FAMILIES else ' (new)'} {change[f]:+.3f}"
                    for f in sorted(change, key=change.get)
                ),
                _verdict(bool(change) and all(v < 0 for v in change.values())),
            )
        )
    checks.append(
        Check(
            "The probe table has three columns, and stage 2 keeps the formats stage 1 learned.",
            ", ".join(f"{label} {_pct(rate)}" for label, rate in rates.items()) + " of probe answers in format",
            _verdict(len(rates) == 3 and rates.get("stage 2", 0) >= rates.get("stage 1", 1) - 0.2),
        )
    )
    return checks


def evaluation(run_dir: str | Path) -> list[Check]:
    """Notebook 04: formats per model, structured suites above zero, the paired differences, the exams."""
    out = Path(run_dir) / "eval"
    summaries, comparison = read_json(out / "metrics.json"), read_json(out / "comparison.json", [])
    scored = read_jsonl(out / "predictions.jsonl")
    models = list(dict.fromkeys(s["model"] for s in summaries))
    fmt = {m: _mean([s["format_rate"] for s in summaries if s["model"] == m]) for m in models}
    chain = [m for m in ("base", "stage 1", "stage 2") if m in fmt]
    best = chain[-1] if chain else models[-1]
    task = {r["suite"]: r["task"] for r in scored}
    mine = {s["suite"]: s for s in summaries if s["model"] == best}
    structured = [s for name, s in mine.items() if tasks.get_task(task[name]).metric != "accuracy"]
    checks = [
        Check(
            "The base model rarely answers in the task's format; after stage 1, and more after stage 2, answers do.",
            "mean format rate over suites: " + ", ".join(f"{m} {_pct(fmt[m])}" for m in models),
            _verdict(len(chain) >= 2 and all(fmt[a] < fmt[b] for a, b in zip(chain, chain[1:]))),
        ),
        Check(
            f"Most structured suites (NER, relations, classification) score above zero for {best}; those with long "
            "answers over many types or labels may stay at zero at this scale.",
            f"{sum(s['score'] > 0 for s in structured)} of {len(structured)} above zero; at zero: "
            + (", ".join(s["suite"] for s in structured if s["score"] == 0) or "none"),
            _verdict(sum(s["score"] > 0 for s in structured) > len(structured) / 2),
        ),
    ]
    for a, b in dict.fromkeys((r["a"], r["b"]) for r in comparison):
        rows = [r for r in comparison if (r["a"], r["b"]) == (a, b)]
        average = next((r for r in rows if r["suite"] == "average"), None)
        above, below = clear_of_zero(rows)
        if average is not None:
            checks.append(
                Check(
                    f"{b} against {a}: the paired difference per suite and on the average, with intervals.",
                    f"average {100 * average['diff']:+.1f} [{100 * average['ci_low']:+.1f}, "
                    f"{100 * average['ci_high']:+.1f}]; interval above zero on {len(above)} of {len(rows) - 1} "
                    f"suites ({', '.join(above) or 'none'}), below zero on {len(below)} ({', '.join(below) or 'none'})",
                    "depends",
                )
            )
    chance = {
        name: _mean([1 / len(r["options"]) for r in scored if r["suite"] == name and r["model"] == best])
        for name in mine
        if tasks.get_task(task[name]).metric == "accuracy"
        and all(r["options"] and set(r["options"]) != set(tasks.YESNO) for r in scored if r["suite"] == name)
    }
    spans = {r["suite"]: r["ci_low"] <= 0 <= r["ci_high"] for r in comparison if (r["a"], r["b"]) == ("base", best)}
    if chance:
        checks.append(
            Check(
                "Multiple-choice exams stay near chance, with differences from base whose intervals span zero.",
                "; ".join(
                    f"{name} {_pct(mine[name]['score'])} (chance {_pct(c)}; interval "
                    f"{'spans' if spans.get(name, True) else 'clears'} zero)"
                    for name, c in chance.items()
                ),
                _verdict(all(abs(mine[n]["score"] - c) <= 0.2 and spans.get(n, True) for n, c in chance.items())),
            )
        )
    return checks


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def cases(run_dir: str | Path) -> list[Check]:
    """Notebook 05: formats of the case answers per model, and which cases were seen in training."""
    rows = [row for path in sorted((Path(run_dir) / "cases").glob("*.json")) for row in read_json(path)["rows"]]
    checkable = [r for r in rows if r["follows_format"] is not None]
    rates = {
        m: sum(r["follows_format"] for r in checkable if r["model"] == m)
        / max(1, sum(r["model"] == m for r in checkable))
        for m in dict.fromkeys(r["model"] for r in rows)
    }
    trained = [m for m in rates if m != "base"]
    seen = sorted({r["case"] for r in rows if r["seen_in_training"]})
    return [
        Check(
            "The base model answers in free prose; the trained stages answer structured cases in the task's format.",
            "structured case answers in format: " + ", ".join(f"{m} {_pct(v)}" for m, v in rates.items()),
            _verdict("base" in rates and bool(trained) and all(rates[m] > rates["base"] for m in trained)),
        ),
        Check(
            "Cases marked as seen in training are not evidence of generalisation; the unmarked ones are.",
            f"{len(seen)} of {len({r['case'] for r in rows})} cases seen in training ({', '.join(seen) or 'none'})",
            "depends",
        ),
    ]
