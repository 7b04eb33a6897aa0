"""A fixed probe set from the evaluation suites: answers before and after training, format followed or not."""

from __future__ import annotations

from pathlib import Path

from .. import tasks
from ..files import read_json, read_jsonl, write_json, write_jsonl
from .generate import generate


def probe_set(eval_dir: str | Path, n: int = 20) -> list[dict]:
    """``n`` evaluation pairs taken round-robin over the suites (sorted), the same for every run."""
    suites = [read_jsonl(p) for p in sorted(Path(eval_dir).glob("*.jsonl"))]
    picked, depth = [], 0
    while len(picked) < n and any(depth < len(s) for s in suites):
        picked += [s[depth] for s in suites if depth < len(s)]
        depth += 1
    return picked[:n]


def run_probe(
    model, tokenizer, probes: list[dict], label: str, chat_format: str = "template", max_new_tokens: int = 64
) -> list[dict]:
    """One row per probe: suite, prompt, expected answer, this model's answer and whether its format is right."""
    outputs = generate(
        model,
        tokenizer,
        [p["conversation"][0]["human"] for p in probes],
        chat_format=chat_format,
        max_new_tokens=max_new_tokens,
        desc=f"probe ({label})",
    )
    return [
        {
            "model": label,
            "suite": p["suite"],
            "task": p["task"],
            "prompt": p["conversation"][0]["human"],
            "expected": p["conversation"][0]["assistant"],
            "output": out,
            "follows_format": tasks.follows_format(p, out),
        }
        for p, out in zip(probes, outputs)
    ]


def format_rate(rows: list[dict]) -> float:
    return sum(r["follows_format"] for r in rows) / len(rows) if rows else 0.0


def record_probes(stage_dir: str | Path, rows: list[dict]) -> dict[str, float]:
    """Write ``probes.jsonl`` and add the per-model format rates to ``train_card.json``."""
    stage_dir = Path(stage_dir)
    write_jsonl(stage_dir / "probes.jsonl", rows)
    rates = {
        label: format_rate([r for r in rows if r["model"] == label])
        for label in dict.fromkeys(r["model"] for r in rows)
    }
    card_path = stage_dir / "train_card.json"
    card = read_json(card_path, {})
    write_json(card_path, {**card, "probe_format_rate": rates})
    return rates


def earlier_rows(stage_dir: str | Path, probes: list[dict]) -> dict[str, list[dict]]:
    """Probe rows an earlier stage already generated for these same prompts, by model label.

    Greedy answers are deterministic, so stage 2 reuses stage 1's base and stage-1
    rows instead of generating them again.
    """
    path = Path(stage_dir) / "probes.jsonl"
    if not path.exists():
        return {}
    prompts = [p["conversation"][0]["human"] for p in probes]
    by_model: dict[str, list[dict]] = {}
    for row in read_jsonl(path):
        by_model.setdefault(row["model"], []).append(row)
    return {label: rows for label, rows in by_model.items() if [r["prompt"] for r in rows] == prompts}
