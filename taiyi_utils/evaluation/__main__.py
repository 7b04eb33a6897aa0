"""``python -m taiyi_utils.evaluation score ...`` scores answer files; ``... compare RUN_A RUN_B`` compares two runs;
``... run --run-dir outputs/<id> --out DIR`` answers and scores a run's suites for its models, as notebook 04 does.

``run``: the run's own notebook-04 settings (its manifest) and adapters. Under ``accelerate launch --multi_gpu
--num_processes N`` it is data parallel, one model copy per device: each process answers a shard of the prompts
into its own part of the answer cache, then the first joins the parts and writes ``DIR/predictions.jsonl``,
``metrics.json`` and ``comparison.json``, identical to one process's. On a CPU-only machine the same command forms
a gloo group (accelerate's ``--cpu`` alone starts one process unless given an MPI hostfile). On vLLM
(``backend: vllm``) run one process: the engine splits the model over every visible GPU (tensor parallelism;
``CUDA_VISIBLE_DEVICES`` picks them), and several processes would each start their own engine.

``compare RUN_A RUN_B [--models LABEL ...] [--json]``: for each model the two run folders share (or each one
named), B minus A per suite and on the average, paired on the records both answered, with 95% intervals
(``evaluation.compare.compare_runs``). It refuses, naming the suites, where the runs' prompts or answer
limits differ.

``score --pred PRED.jsonl [--gold GOLD.jsonl] [--source SRC.jsonl] [--task TASK]``:

Prediction and gold files hold ``{"id", "text"}`` lines with answer texts in the workbench's formats.
Every item is scored by the notebooks' own path (``evaluation.score.score_row`` and
``evaluation.summary.summarize``).

``--source`` is either a curated evaluation file as notebook 01 wrote it (``data/eval/<suite>.jsonl``),
used as it is: ids are its ``conversation_id``, and its prompts, options, entity aliases, gold
structures, task and metric are the notebook's, so the CLI gives notebook 04's score exactly; ``--gold``
and ``--task`` may then be left out. Or it holds ``{"id", "text", "options"?}`` lines: the input text each
answer is about (it settles ambiguous splits, as the prompt does in the notebooks) and the types /
relations / labels / options the prompt offered. Without options they come from the gold: the keys of
its lines (NER, RE), the labels named anywhere in the gold file (classification: the suite's label set,
so a label is read in any case or in prose), yes/no/maybe when the gold answer is one of those words,
else the letters A-E (QA).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import tasks
from ..data.formats import FormatError, field, iter_jsonl
from .compare import compare_runs
from .score import score_row
from .summary import suite_metric, summarize

TASKS = [name for name, task in tasks.TASKS.items() if task.gold_options]  # what the score CLI takes


def read_answers(path: Path, key: str = "id", text: str | None = "text") -> dict[str, dict]:
    """``id -> line`` for a JSON-lines file; a repeated id is an error naming it and both lines."""
    if path.is_dir():
        raise FormatError(path, "-", "is a folder; give a JSON-lines file")
    found, lines = {}, {}
    for lineno, row in iter_jsonl(path):
        ident = str(field(row, key, path, lineno))
        if ident in found:
            raise FormatError(path, lineno, f"duplicate id {ident!r} (first on line {lines[ident]})")
        if text:
            field(row, text, path, lineno, str)
        found[ident], lines[ident] = row, lineno
    return found


def is_curated(path: Path) -> bool:
    """Whether ``path`` is a curated evaluation file (rows with ``conversation_id`` and ``conversation``)."""
    for _, row in iter_jsonl(path):
        return "conversation_id" in row and "conversation" in row
    return False


def _rows_task(task: str) -> str:
    return tasks.get_task(task).rows_as or task


def _answer_rows(task: str, gold: dict[str, dict], sources: dict[str, dict]) -> list[dict]:
    """Evaluation rows built from gold answer texts, with the options and input texts of ``sources``."""
    ids = list(gold)
    rows = []
    row_task = _rows_task(task)
    for key, options in zip(ids, tasks.get_task(task).gold_options([gold[i]["text"] for i in ids])):
        source = sources.get(key, {})
        if not isinstance(source.get("options", []), list):
            raise FormatError(Path("--source"), key, f"options should be a list, got {source['options']!r}")
        options = set(source.get("options") or options)
        structure = tasks.get_task(row_task).parse(
            gold[key]["text"], tasks.Item(frozenset(options), source.get("text"))
        )
        rows.append(
            {
                "conversation_id": key,
                "record_id": key,
                "task": row_task,
                "language": "",
                "conversation": [{"human": source.get("text", "")}],
                "options": sorted(options),
                "gold": sorted(structure) if isinstance(structure, set) else structure,
            }
        )
    return rows


def _curated_rows(path: Path, task: str | None, gold: dict[str, dict] | None) -> list[dict]:
    """The curated rows of ``path`` as notebook 04 scores them; gold answer texts, if given, replace their gold."""
    rows = list(read_answers(path, key="conversation_id", text=None).values())
    found = sorted({r["task"] for r in rows})
    if task is not None and found != [_rows_task(task)]:
        raise FormatError(path, "task", f"holds {'/'.join(found)} items, not {task}")
    if gold is None:
        return rows
    unknown = sorted(set(gold) - {r["conversation_id"] for r in rows})
    if unknown:
        raise FormatError(path, "ids", f"{len(unknown)} gold id(s) are not in the curated file, e.g. {unknown[:3]}")
    chosen = []
    for row in rows:
        if row["conversation_id"] in gold:
            parsed = tasks.get_task(row["task"]).parse(gold[row["conversation_id"]]["text"], tasks.item_of(row))
            chosen.append({**row, "gold": sorted(parsed) if isinstance(parsed, set) else parsed})
    return chosen


def score_files(task: str | None, gold_path: Path | None, pred_path: Path, source_path: Path | None = None) -> dict:
    """The summary ``summarize`` gives the notebooks, for answer files instead of a notebook's answers."""
    pred = read_answers(pred_path)
    gold = read_answers(gold_path) if gold_path else None
    if source_path is not None and is_curated(source_path):
        rows = _curated_rows(source_path, task, gold)
        metric = suite_metric(rows[0].get("suite", ""), rows) if rows else "micro_f1"
    elif gold is None or task is None:
        raise FormatError(source_path or pred_path, "-", "--gold and --task are needed unless --source is curated")
    else:
        rows = _answer_rows(task, gold, read_answers(source_path) if source_path else {})
        metric = tasks.get_task(task).metric
    missing = [r["conversation_id"] for r in rows if r["conversation_id"] not in pred]
    if missing:
        raise FormatError(pred_path, "ids", f"{len(missing)} gold id(s) have no prediction, e.g. {missing[:3]}")
    scored = [score_row(row, pred[row["conversation_id"]]["text"]) for row in rows]
    summary = summarize("", scored, metric)
    return {"n": summary.pop("items"), **{k: v for k, v in summary.items() if k not in ("suite", "records")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.evaluation", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("score", help="score answer texts against gold answers")
    cmd.add_argument("--task", choices=TASKS, help="needed unless --source is a curated file")
    cmd.add_argument("--gold", help='JSON lines {"id", "text"}; default with a curated --source: its gold')
    cmd.add_argument("--pred", required=True, help='JSON lines {"id", "text"}')
    cmd.add_argument(
        "--source",
        help='a curated data/eval/<suite>.jsonl, or JSON lines {"id", "text", "options"?}: input texts and options',
    )
    cmd.add_argument("--json", action="store_true", help="one JSON object (default: indented)")
    pair = sub.add_parser("compare", help="paired differences between two run folders (B minus A)")
    pair.add_argument("run_a")
    pair.add_argument("run_b")
    pair.add_argument("--models", nargs="+", help="model labels to compare (default: every one both runs answered)")
    pair.add_argument("--json", action="store_true", help="the rows as one JSON list")
    again = sub.add_parser(
        "run", help="answer and score a run's suites for its models (data parallel under accelerate)"
    )
    again.add_argument("--run-dir", required=True, help="a run folder whose notebooks 01-03 ran (outputs/<id>)")
    again.add_argument("--out", required=True, help="folder for predictions.jsonl, metrics.json, comparison.json")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return run_evaluation(Path(args.run_dir), Path(args.out))
        if args.command == "compare":
            rows = compare_runs(args.run_a, args.run_b, args.models)
            print(json.dumps(rows, ensure_ascii=False) if args.json else comparison_text(rows))
            return 0
        result = score_files(
            args.task,
            Path(args.gold) if args.gold else None,
            Path(args.pred),
            Path(args.source) if args.source else None,
        )
    except (FormatError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=None if args.json else 2, ensure_ascii=False))
    return 0


def run_evaluation(run_dir: Path, out: Path) -> int:
    """Notebook 04's evaluation of ``run_dir`` from the command line, sharded over the processes accelerate
    started (one process without it)."""
    import torch
    from accelerate import PartialState

    from ..files import read_json
    from ..settings import EvalConfig, from_namespace
    from .evaluate import answer_shard, evaluate_models, load_engine, merge_shards, run_inputs, write_comparison
    from .suites import run_suites

    manifest = read_json(run_dir / "manifest.json", None)
    if manifest is None or "04_eval" not in manifest.get("params", {}):
        raise FileNotFoundError(f"{run_dir}: no manifest with notebook 04's settings; run the pipeline first")
    config = from_namespace(EvalConfig, manifest["params"]["04_eval"])
    rows = run_inputs(config, run_dir)
    state = PartialState(cpu=not torch.cuda.is_available())  # several CPU processes: a gloo group
    if state.num_processes > 1 and config.backend == "vllm":
        raise ValueError("backend vllm: run one process; vLLM spreads the model over GPUs itself")
    engine, tokenizer = load_engine(config)
    if config.backend != "vllm" and not getattr(engine.model, "is_loaded_in_4bit", False):
        engine.model.to(state.device)
    if state.num_processes > 1:
        answer_shard(config, rows, out, state.process_index, state.num_processes, (engine, tokenizer))
        state.wait_for_everyone()
        if state.is_main_process:
            merge_shards(out)
    if state.is_main_process:
        summaries, scored = evaluate_models(config, rows, out, (engine, tokenizer))
        write_comparison(config, summaries, scored, run_suites(run_dir), out)
        print(f"wrote {out / 'predictions.jsonl'}, metrics.json and comparison.json ({len(scored)} answers)")
    state.wait_for_everyone()
    return 0


def comparison_text(rows: list[dict]) -> str:
    """One line per comparison row: suite, n, difference in points and its interval, and whether it clears 0."""
    lines = []
    for row in rows:
        mark = " *" if row["significant"] else ""
        lines.append(
            f"{row['b']} - {row['a']} | {row['suite']:<16} n={row['n']:<5} "
            f"{100 * row['diff']:+6.1f} [{100 * row['ci_low']:+6.1f}, {100 * row['ci_high']:+6.1f}]{mark}"
        )
    return "\n".join(lines + ["points of the suite's metric, paired 95% bootstrap intervals; * clear of zero"])


if __name__ == "__main__":
    sys.exit(main())
