"""``python -m taiyi_utils.evaluation score --task TASK --gold GOLD.jsonl --pred PRED.jsonl [--source SRC.jsonl] --json``.

Gold and prediction files hold ``{"id", "text"}`` lines with answer texts in the workbench's
formats. The gold text is parsed by the same parser as the prediction, and every item is scored
by the notebooks' own path (``eval.score.score_row`` and ``eval.evaluate.summarize``).

``--source`` holds ``{"id", "text", "options"?}`` lines: the input text each answer is about
(it settles ambiguous splits, as the prompt does in the notebooks) and the types / relations /
labels / options the prompt offered. Without options they come from the gold: the keys of its
lines (NER, RE), yes/no/maybe when the gold answer is one of those words, else the letters A-E
(QA); classification then counts every predicted label.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import answers, tasks
from ..data.formats import FormatError, field, iter_jsonl
from .evaluate import summarize
from .score import score_row

TASKS = ("ner", "re", "cls", "multilabel", "qa")


def read_answers(path: Path) -> dict[str, dict]:
    """``id -> line`` for a JSON-lines file; a repeated id is an error naming it and both lines."""
    found, lines = {}, {}
    for lineno, row in iter_jsonl(path):
        key = str(field(row, "id", path, lineno))
        if key in found:
            raise FormatError(path, lineno, f"duplicate id {key!r} (first on line {lines[key]})")
        field(row, "text", path, lineno, str)
        found[key], lines[key] = row, lineno
    return found


def _gold_options(task: str, gold_texts: list[str]) -> list[set[str]]:
    """The options a prompt would have offered, read off the gold answers (see the module docstring)."""
    if task in ("ner", "re"):
        return [{kv[0] for line in text.splitlines() if (kv := answers.key_value(line))} for text in gold_texts]
    if task == "qa":
        return [
            set(tasks.YESNO) if not answers.parse_choice(text) and answers.parse_yesno(text) else set("ABCDE")
            for text in gold_texts
        ]
    return [set() for _ in gold_texts]  # any label counts: a label outside the gold set is a false positive


def score_files(task: str, gold_path: Path, pred_path: Path, source_path: Path | None = None) -> dict:
    """The summary ``summarize`` gives the notebooks, for answer files instead of curated rows."""
    gold, pred = read_answers(gold_path), read_answers(pred_path)
    missing = sorted(set(gold) - set(pred))
    if missing:
        raise FormatError(pred_path, "ids", f"{len(missing)} gold id(s) have no prediction, e.g. {missing[:3]}")
    sources = read_answers(source_path) if source_path else {}
    ids = list(gold)
    derived = _gold_options(task, [gold[i]["text"] for i in ids])
    scored = []
    for key, options in zip(ids, derived):
        source = sources.get(key, {})
        options = set(source.get("options") or options)
        item = tasks.Item(frozenset(options), source.get("text"))
        row_task = "cls" if task == "multilabel" else task
        structure = tasks.get_task(row_task).parse(gold[key]["text"], item)
        row = {
            "conversation_id": key,
            "record_id": key,
            "task": row_task,
            "language": "",
            "conversation": [{"human": source.get("text", "")}],
            "options": sorted(options),
            "gold": sorted(structure) if isinstance(structure, set) else structure,
        }
        scored.append(score_row(row, pred[key]["text"]))
    metric = tasks.get_task(task).metric
    summary = summarize("", scored, metric)
    return {"n": summary.pop("items"), **{k: v for k, v in summary.items() if k not in ("suite", "records")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.evaluation", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("score", help="score answer texts against gold answer texts")
    cmd.add_argument("--task", required=True, choices=TASKS)
    cmd.add_argument("--gold", required=True)
    cmd.add_argument("--pred", required=True)
    cmd.add_argument("--source", help='JSON lines {"id", "text", "options"?}: each answer\'s input text and options')
    cmd.add_argument("--json", action="store_true", help="one JSON object (default: indented)")
    args = parser.parse_args(argv)
    try:
        result = score_files(args.task, Path(args.gold), Path(args.pred), Path(args.source) if args.source else None)
    except (FormatError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=None if args.json else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
