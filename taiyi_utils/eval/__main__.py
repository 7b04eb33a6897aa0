"""``python -m taiyi_utils.eval score --task TASK --gold GOLD.jsonl --pred PRED.jsonl --json``.

Both files hold ``{"id", "text"}`` lines with answer texts in the workbench's formats;
the gold text is parsed by the same parser as the prediction.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import answers
from ..data.formats import FormatError
from ..data.formats._base import field, iter_jsonl
from .metrics import micro
from .score import label_errors, ner_errors, re_errors

TASKS = ("ner", "re", "cls", "multilabel", "qa")


def _texts(path) -> dict[str, str]:
    return {str(field(row, "id", path, n)): field(row, "text", path, n, str) for n, row in iter_jsonl(path)}


def score_files(task: str, gold_path, pred_path) -> dict:
    gold, pred = _texts(gold_path), _texts(pred_path)
    missing = sorted(set(gold) - set(pred))
    if missing:
        raise FormatError(pred_path, "ids", f"{len(missing)} gold id(s) have no prediction, e.g. {missing[:3]}")
    if task == "qa":
        pick = lambda text: answers.parse_choice(text) or answers.parse_yesno(text)  # noqa: E731
        correct = [pick(gold[i]) == pick(pred[i]) and pick(gold[i]) != "" for i in gold]
        return {"n": len(correct), "accuracy": sum(correct) / len(correct) if correct else 0.0}
    if task == "ner":
        counts = [ner_errors(answers.parse_ner(gold[i]), answers.parse_ner(pred[i]))[0] for i in gold]
    elif task == "re":
        counts = [re_errors(answers.parse_re(gold[i]), answers.parse_re(pred[i]), None)[0] for i in gold]
    else:
        labels = [(answers.parse_labels(gold[i]), answers.parse_labels(pred[i])) for i in gold]
        counts = [label_errors(g, p, task == "cls")[0] for g, p in labels]
    result = {k: v for k, v in micro(counts).items() if k in ("n", "precision", "recall", "f1")}
    if task == "cls":
        result["accuracy"] = sum(g == p for g, p in labels) / len(labels) if labels else 0.0
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.eval", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("score", help="score answer texts against gold answer texts")
    cmd.add_argument("--task", required=True, choices=TASKS)
    cmd.add_argument("--gold", required=True)
    cmd.add_argument("--pred", required=True)
    cmd.add_argument("--json", action="store_true", help="one JSON object (default: indented)")
    args = parser.parse_args(argv)
    try:
        result = score_files(args.task, Path(args.gold), Path(args.pred))
    except (FormatError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
