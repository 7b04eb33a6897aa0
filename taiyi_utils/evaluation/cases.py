"""Case studies: bilingual tasks beyond the 13 test sets, answered side by side by base / stage 1 / stage 2.

Items are instruction pairs in the curation format (``conversation``, ``task``, ``gold``,
``options``), so the answer parsers judge whether an output follows the format. Multi-turn
items are answered turn by turn with the model's own earlier answers as history, as a
user would experience them. Each model's answers are written to ``<out_dir>/<label>.json``
as soon as that model is done; a rerun reuses them when the request (prompts and
generation options) is unchanged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from .. import tasks
from ..data.instruct import build_pairs, templates
from ..data.records import main_text
from ..data.sources import get_source, read_split
from ..files import read_json, write_json
from .engines import as_engine
from .generate import generate

CASES_FILE = Path(__file__).with_name("cases.yaml")
OTHER_LANGUAGE = {"en": "zh", "zh": "en"}


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    source: str = ""
    split: str = ""
    task: str = ""
    category: str = ""
    translate: str = ""
    min_types: int = 0
    language: str = ""
    turns: tuple[str, ...] = field(default_factory=tuple)


@cache
def load_cases() -> dict[str, Case]:
    raw = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return {name: Case(name=name, **{**spec, "turns": tuple(spec.get("turns", ()))}) for name, spec in raw.items()}


def _pair(case: Case, key: str, language: str, turns: list[tuple[str, str]], source_text: str = "") -> dict:
    return {
        "conversation_id": f"{case.name}:{key}",
        "dataset": case.source or "scripted",
        "language": language,
        "task": case.task or "free",
        "conversation": [{"human": h, "assistant": a} for h, a in turns],
        "record_id": key,
        "source_text": source_text,
        "gold": turns[-1][1],
        "options": [],
    }


def _items(case: Case, data_root: Path, n: int, rng: random.Random) -> list[dict]:
    if case.turns:
        return [_pair(case, "0", case.language, [(t, "") for t in case.turns])]
    source = get_source(case.source)
    records = read_split(case.source, case.split, data_root)
    if case.category:
        records = [r for r in records if getattr(r, "category", "") == case.category]
    if case.min_types:
        records = [r for r in records if len({e.type for e in r.entities}) >= case.min_types]
    records = rng.sample(records, min(n, len(records)))
    if case.category:
        return [_pair(case, r.id, source.language, list(r.turns), main_text(r)) for r in records]
    if case.translate:
        wording = templates("translation")[source.language][0]
        texts = [(r.id, r.title if case.translate == "title" else main_text(r)) for r in records]
        language = f"{source.language}-{OTHER_LANGUAGE[source.language]}"
        return [_pair(case, key, language, [(wording.format(text=text), "")], text) for key, text in texts]
    pairs = build_pairs(records, source, tasks=(case.task,), template_index=0, split_ner_by_type=False)
    return [{**p, "conversation_id": f"{case.name}:{p['record_id']}"} for p in pairs]


def build_cases(
    data_root: str | Path, names: list[str] | None = None, per_case: int = 2, max_turns: int = 3, seed: int = 0
) -> tuple[list[dict], dict[str, str]]:
    """(items, skipped): ``per_case`` items of each named case, and why any case could not be built.

    A case whose source is missing under ``data_root`` is skipped with the reason rather
    than failing the notebook; an unknown case name is an error.
    """
    known = load_cases()
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise KeyError(f"unknown case(s) {unknown}; known: {', '.join(known)}")
    items, skipped = [], {}
    for name in names or list(known):
        case = known[name]
        try:
            built = _items(case, Path(data_root), per_case, random.Random(f"{seed}:{name}"))
        except FileNotFoundError as err:
            skipped[name] = str(err)
            continue
        for item in built:
            items.append({**item, "case": name, "title": case.title, "conversation": item["conversation"][:max_turns]})
    return items, skipped


def mark_seen(items: list[dict], train_pairs: list[dict]) -> list[dict]:
    """Flag items whose source text (or prompt) the run trained on: a case study should say so."""
    seen = {p.get("source_text") for p in train_pairs} | {p["conversation"][0]["human"] for p in train_pairs}
    seen.discard("")
    return [
        {**item, "seen_in_training": item["source_text"] in seen or item["conversation"][0]["human"] in seen}
        for item in items
    ]


def answer_cases(
    engine, tokenizer, items: list[dict], label: str, *, chat_format: str = "template", max_new_tokens: int = 160
) -> list[dict]:
    """One row per (item, turn): the prompt, the reference (may be empty) and the answer of ``engine`` (an
    answering engine, or a transformers model) as it acts now."""
    histories: list[list[dict]] = [[] for _ in items]
    rows: dict[tuple[int, int], dict] = {}
    for turn in range(max((len(i["conversation"]) for i in items), default=0)):
        todo = [k for k, item in enumerate(items) if turn < len(item["conversation"])]
        prompts = [items[k]["conversation"][turn]["human"] for k in todo]
        outputs = generate(
            engine,
            tokenizer,
            prompts,
            chat_format=chat_format,
            max_new_tokens=max_new_tokens,
            histories=[histories[k] for k in todo],
            desc=f"{label} · turn {turn + 1}",
        )
        for k, prompt, output in zip(todo, prompts, outputs):
            item = items[k]
            histories[k].append({"human": prompt, "assistant": output})
            checkable = turn == 0 and item["task"] in tasks.TASKS
            rows[k, turn] = {
                "model": label,
                "case": item["case"],
                "title": item["title"],
                "item": item["conversation_id"],
                "turn": turn,
                "language": item["language"],
                "prompt": prompt,
                "reference": item["conversation"][turn]["assistant"],
                "output": output,
                "follows_format": tasks.follows_format(item, output) if checkable else None,
                "seen_in_training": item.get("seen_in_training", False),
            }
    return [rows[key] for key in sorted(rows)]  # items in case order, each item's turns in order


def compare_models(
    engine, tokenizer, items: list[dict], identities: dict[str, str], out_dir: str | Path, **options
) -> list[dict]:
    """Every model's answers (labels -> ``predict.model_identity``) from one answering engine acting as each,
    reusing a label's saved answers only to the same request from the same model: a retrained adapter answers
    again."""
    engine = as_engine(engine)
    prompts = {i["conversation_id"]: [t["human"] for t in i["conversation"]] for i in items}
    rows = []
    for label, identity in identities.items():
        request = {"model": identity, "options": options, "prompts": prompts}
        path = Path(out_dir) / f"{label.replace(' ', '_')}.json"
        saved = read_json(path, {})
        if saved.get("request") != request:
            with engine.acting_as(label):
                saved = {"request": request, "rows": answer_cases(engine, tokenizer, items, label, **options)}
            write_json(path, saved)
        rows += saved["rows"]
    return rows
