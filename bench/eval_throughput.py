"""Evaluation throughput: batched vs one-at-a-time greedy generation on the 13-suite prompts, and scoring time.

    python bench/eval_throughput.py                    # CPU: SmolLM2-135M, 4 prompts per suite
    python bench/eval_throughput.py --prompts-per-suite 20 --batch-size 64    # GPU

Every way answers the same prompts as the evaluation does (all suites together, each prompt with its task's
token limit from eval/evaluate.py, capped by --max-new-tokens): one at a time; batches of a fixed count; and
the workbench's batches, which also keep padded tokens within a budget. A second set, the shortest prompts only,
shows the decode-bound case. Generated tokens count each answer up to its end; greedy decoding makes answers
comparable, and the table reports how many match the one-at-a-time ones (padding can change float sums).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

from common import report  # bench/common.py (the script's folder is on sys.path)

def eval_prompts(per_suite: int) -> list[dict]:
    """The first ``per_suite`` curated prompts of every local suite, curated as notebook 01 does for the demo."""
    from taiyi_utils.data.curate import curate, resolve_data_root
    from taiyi_utils.eval.suites import load_suites
    from taiyi_utils.run import load_profile

    demo = load_profile("demo")[1]["01_curation"]
    with tempfile.TemporaryDirectory() as tmp:
        done = curate(resolve_data_root("", tmp), tmp, train_sources={}, eval_suites=list(load_suites()),
                      eval_samples=per_suite, tokenizer=demo["tokenizer"])
    return [row for rows in done.eval.values() for row in rows[:per_suite]]


def timed_generation(model, tokenizer, rows: list[dict], batch_size: int, budget: int, cap: int) -> tuple[list[str], float]:
    from taiyi_utils.eval.evaluate import MAX_NEW_TOKENS
    from taiyi_utils.eval.generate import generate

    start = time.perf_counter()
    outputs = generate(model, tokenizer, [r["conversation"][0]["human"] for r in rows],
                       max_new_tokens=[min(cap, MAX_NEW_TOKENS.get(r["task"], 128)) for r in rows],
                       batch_size=batch_size, max_batch_tokens=budget, desc=f"batch {batch_size}")
    return outputs, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--prompts-per-suite", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64, help="cap on every task's token limit")
    parser.add_argument("--max-batch-tokens", type=int, default=8192, help="the workbench's padded-token budget")
    args = parser.parse_args()

    import torch

    from taiyi_utils import model as models
    from taiyi_utils.eval.score import score_row

    rows = eval_prompts(args.prompts_per_suite)
    tokenizer, model = models.load_tokenizer(args.model), models.load_base_model(args.model)
    count = lambda texts: sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)  # noqa: E731
    shortest = sorted(rows, key=lambda r: count([r["conversation"][0]["human"]]))[:args.batch_size]
    ways = [("one at a time", 1, 10**9), (f"batches of {args.batch_size}", args.batch_size, 10**9),
            (f"batches of {args.batch_size}, {args.max_batch_tokens} tokens at most (workbench)", args.batch_size,
             args.max_batch_tokens)]
    table, answers = [], {}
    for prompts, name in ((rows, "13-suite mix"), (shortest, f"{len(shortest)} shortest")):
        single = None
        for label, batch_size, budget in ways:
            outputs, seconds = timed_generation(model, tokenizer, prompts, batch_size, budget, args.max_new_tokens)
            single = single or (outputs, seconds)
            table.append({"prompts": name, "way": label, "n": len(prompts), "generated tokens": count(outputs),
                          "seconds": seconds, "generated tok/s": count(outputs) / seconds,
                          "speed-up": single[1] / seconds, "same answers": sum(a == b for a, b in zip(outputs, single[0]))})
        answers[name] = outputs
    start = time.perf_counter()
    [score_row(r, o) for r, o in zip(rows, answers["13-suite mix"])]
    scoring_seconds = time.perf_counter() - start
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report(f"Evaluation throughput (bench/eval_throughput.py, {device})", table, [
        f"{args.model}; {args.prompts_per_suite} curated prompts per local suite ({len({r['suite'] for r in rows})} suites);"
        f" per-task token limits capped at {args.max_new_tokens}; greedy.",
        f"Scoring all {len(rows)} answers of the mix (parse, match, error categories): {scoring_seconds * 1000:.1f} ms.",
        "speed-up is wall time of one-at-a-time over this way's; generated tokens count each answer up to its end."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
