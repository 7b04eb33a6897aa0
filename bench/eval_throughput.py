"""Evaluation throughput: one-at-a-time vs batched greedy generation on the 13-suite prompts, and scoring time.

    python bench/eval_throughput.py                    # CPU: SmolLM2-135M, 12 prompts per suite, 64 rows
    python bench/eval_throughput.py --prompts-per-suite 40 --batch-size 128    # GPU

Every way answers the same prompts as the evaluation does, each with its task's token limit from
evaluation/limits.py (optionally capped by --max-new-tokens): transformers' generate one prompt at a time (the
naive path); transformers' generate on fixed batches of prompts sorted by length, where a batch steps until its
longest answer ends; and the workbench's continuous batching (evaluation/continuous.py), with its default cache budget.
A second table says where the time goes: prefill (compute-bound, so no faster in batches), a decode step at
batch 1 and at full batch (measured with answers forced to one length, batching's best case), how many
fixed-batch slots held a live answer, and the speed-up batching could reach at best. Generated tokens count
each answer up to its end; greedy decoding makes answers comparable, and the table reports how many match the
one-at-a-time ones. A third table answers as an adapter (--adapter, or a random one of the paper's shape: the same
cost per token): beside the weights, as peft runs it, and added into them for the answering (model.adapter_in_weights,
the workbench's way on CPU), the merge and the restore of the weights counted in.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from common import parse, report  # bench/common.py (the script's folder is on sys.path)


def eval_prompts(per_suite: int, model: str) -> list[dict]:
    """The first ``per_suite`` curated prompts of every local suite, curated as notebook 01 does (``model``'s
    tokenizer counts their tokens)."""
    from taiyi_utils.curation import curate, resolve_data_root
    from taiyi_utils.evaluation.suites import load_suites

    local = [name for name, suite in load_suites().items() if suite.source]  # hub-only suites need a download
    with tempfile.TemporaryDirectory() as tmp:
        done = curate(
            resolve_data_root("", tmp),
            tmp,
            train_sources={},
            eval_suites=local,
            eval_samples=per_suite,
            base_model=model,
        )
    return [row for rows in done.eval.values() for row in rows[:per_suite]]


def timed(run) -> tuple[list[str], float]:
    start = time.perf_counter()
    outputs = run()
    return outputs, time.perf_counter() - start


def limits(rows: list[dict], tokenizer, cap: int | None) -> list[int]:
    """Each prompt's token limit as the evaluation sets it, capped at ``cap`` when given."""
    from taiyi_utils.evaluation.limits import answer_limits

    per_suite = answer_limits(rows, tokenizer)
    return [min(cap or 10**9, per_suite[r.get("suite", "")]) for r in rows]


def sorted_batches(indices: list[int], prompt_tokens: list[int], batch_size: int) -> list[list[int]]:
    """``indices`` sorted by prompt token length in chunks of ``batch_size``: fixed batches that pad least."""
    order = sorted(indices, key=prompt_tokens.__getitem__)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def forced_steps(model, prompt_ids: list[list[int]], new_tokens: int) -> None:
    """Decode every prompt together to exactly ``new_tokens`` tokens (no end token stops one): batching's best
    case, for timing a decode step at that many rows."""
    from taiyi_utils.evaluation.engines import ContinuousBatching

    ContinuousBatching(model, batch_size=len(prompt_ids)).answer_ids(prompt_ids, [new_tokens] * len(prompt_ids), None)


def with_adapter(model, path: str | None):
    """``model`` carrying ``path``'s adapter as "adapter", or a random one of the paper's shape (r=64 on every linear
    layer), which costs the same per token as a trained one."""
    import torch
    from peft import PeftModel, get_peft_model

    from taiyi_utils import model as models

    if path:
        return PeftModel.from_pretrained(model, path, adapter_name="adapter")
    wrapped = get_peft_model(model, models.lora_config(), adapter_name="adapter")
    with torch.no_grad():
        for name, parameter in wrapped.named_parameters():
            if "lora_B" in name:  # B starts at zero; a small update keeps the answers near the base model's
                parameter.normal_(0, 1e-3)
    return wrapped


def prefill_seconds(model, tokenizer, texts: list[str]) -> float:
    """One forward pass per prompt, as one-at-a-time generation starts each answer."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        for text in texts:
            model(**tokenizer([text], return_tensors="pt", add_special_tokens=False).to(model.device), logits_to_keep=1)
    return time.perf_counter() - start


def slot_use(batches: list[list[int]], caps: list[int], answer_tokens: list[int]) -> float:
    """Share of fixed-batch decode slots holding a live answer: a batch steps until its longest answer ends."""
    slots = 0
    for batch in batches:
        steps = min(max(caps[i] for i in batch), max(answer_tokens[i] + 1 for i in batch))  # +1: the end token
        slots += len(batch) * steps
    return sum(answer_tokens) / slots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--prompts-per-suite", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="cap on every task's token limit (default: the evaluation's own limits)",
    )
    parser.add_argument("--probe-tokens", type=int, default=64, help="answer length forced to time decode steps")
    parser.add_argument("--adapter", default=None, help="adapter folder for the third table (default: a random one)")
    args = parse(parser, model="tiny:llama", prompts_per_suite=1, batch_size=4, max_new_tokens=8, probe_tokens=4)

    import torch

    from taiyi_utils import model as models
    from taiyi_utils.chat import render_prompt
    from taiyi_utils.evaluation.engines import ContinuousBatching, PlainBatches
    from taiyi_utils.evaluation.generate import generate
    from taiyi_utils.evaluation.score import score_row

    rows = eval_prompts(args.prompts_per_suite, args.model)
    tokenizer, model = models.load_tokenizer(args.model), models.load_base_model(args.model)
    model.eval()
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    humans = [r["conversation"][0]["human"] for r in rows]
    texts = [render_prompt(h, tokenizer) for h in humans]
    prompt_tokens, caps = [count(t) for t in texts], limits(rows, tokenizer, args.max_new_tokens)
    everything, batch = list(range(len(rows))), args.batch_size
    ways = {
        f"fixed batches of {batch}": PlainBatches(model, batch),
        f"continuous batching, {batch} rows (workbench)": ContinuousBatching(model, batch),
    }
    answer = lambda engine, chosen: generate(  # noqa: E731
        engine, tokenizer, [humans[i] for i in chosen], max_new_tokens=[caps[i] for i in chosen], desc="bench"
    )
    # one at a time in two halves, before and after the batched ways, so a drift in machine speed biases neither
    single = {}
    one_at_a_time = lambda half: timed(  # noqa: E731
        lambda: single.update(zip(half, answer(PlainBatches(model, batch_size=1), half)))
    )[1]
    half_seconds, answers, seconds_of = [one_at_a_time(everything[::2])], {}, {}
    for label, engine in ways.items():
        answers[label], seconds_of[label] = timed(lambda engine=engine: answer(engine, everything))
    half_seconds.append(one_at_a_time(everything[1::2]))
    answers["one at a time"], seconds_of["one at a time"] = [single[i] for i in everything], sum(half_seconds)
    table = []
    for label in ["one at a time", *ways]:
        generated, single = sum(map(count, answers[label])), seconds_of["one at a time"]
        table.append(
            {
                "way": label,
                "prompts": len(rows),
                "generated tokens": generated,
                "seconds": seconds_of[label],
                "generated tok/s": generated / seconds_of[label],
                "speed-up": single / seconds_of[label],
                "same answers": sum(a == b for a, b in zip(answers[label], answers["one at a time"])),
            }
        )

    shortest = sorted_batches(everything, prompt_tokens, batch)[0]
    step_ms = {}  # a decode step at b rows: every answer forced to 1 and to --probe-tokens tokens
    for b in (1, batch):
        ids = [tokenizer(texts[i], add_special_tokens=False)["input_ids"] for i in shortest[:b]]
        short, long = (timed(lambda n=n, ids=ids: forced_steps(model, ids, n))[1] for n in (1, args.probe_tokens))
        step_ms[b] = (long - short) / (args.probe_tokens - 1) * 1000
    prefill = prefill_seconds(model, tokenizer, texts)
    workbench = list(ways)[-1]
    answer_tokens = [count(a) for a in answers[workbench]]
    generated, single = sum(answer_tokens), seconds_of["one at a time"]
    every_slot_live = prefill + generated * step_ms[batch] / 1000 / batch
    fixed_use = slot_use(sorted_batches(everything, prompt_tokens, batch), caps, answer_tokens)
    where = [
        {"quantity": "prompt / generated tokens", "value": f"{sum(prompt_tokens)} / {generated}"},
        {"quantity": "prefill of every prompt, one at a time, s", "value": prefill},
        {"quantity": "prefill share of one-at-a-time time", "value": f"{prefill / single:.0%}"},
        {"quantity": f"decode step at batch 1 / {batch}, ms", "value": f"{step_ms[1]:.0f} / {step_ms[batch]:.0f}"},
        {
            "quantity": f"decode cost per token, batch 1 over batch {batch}",
            "value": step_ms[1] * batch / step_ms[batch],
        },
        {"quantity": f"fixed batches of {batch}: decode slots holding a live answer", "value": f"{fixed_use:.0%}"},
        {"quantity": f"predicted best speed-up: every slot of {batch} rows live", "value": single / every_slot_live},
        {"quantity": "best speed-up if decoding were free", "value": single / prefill},
        *({"quantity": f"measured speed-up: {label}", "value": single / seconds_of[label]} for label in ways),
    ]
    start = time.perf_counter()
    [score_row(r, o) for r, o in zip(rows, answers[workbench])]
    scoring_seconds = time.perf_counter() - start
    device = "cuda" if torch.cuda.is_available() else "cpu"
    limit_note = f"capped at {args.max_new_tokens}" if args.max_new_tokens else "as in the evaluation"
    report(
        f"Evaluation throughput (bench/eval_throughput.py, {device})",
        table,
        [
            f"{args.model}; {args.prompts_per_suite} curated prompts per local suite "
            f"({len({r['suite'] for r in rows})} suites); per-task token limits {limit_note}; greedy.",
            f"Scoring all {len(rows)} answers (parse, match, errors): {scoring_seconds * 1000:.1f} ms.",
            "speed-up is wall time of one-at-a-time over this way's; generated tokens count each answer up to its end.",
            f"One at a time ran in two halves, before ({half_seconds[0]:.0f} s) and after ({half_seconds[1]:.0f} s) the "
            "batched ways, so a drift in machine speed biases neither side.",
        ],
    )
    report(
        f"Where evaluation time goes (bench/eval_throughput.py, {device})",
        where,
        [
            "Prefill is compute-bound, so batching cannot shorten it; a decode step is memory-bound at small batches, so "
            "a full batch costs little more per step than one answer. Decode steps are timed on the shortest prompts "
            f"with every answer forced to {args.probe_tokens} tokens. The predicted best replaces decoding by generated "
            "tokens x (step at full batch / rows), as if every row were live at every step."
        ],
    )
    adapted = with_adapter(model, args.adapter)
    beside = f"adapter beside the weights (peft), {batch} rows"
    ways = {beside: ContinuousBatching(adapted, batch)}
    if models.mergeable(adapted):
        ways[f"adapter added into the weights, {batch} rows (workbench)"] = ContinuousBatching(
            adapted, batch, merged=True
        )

    def answer_as_adapter(engine):
        with engine.acting_as("adapter"):
            return answer(engine, everything)

    for label, engine in ways.items():
        answers[label], seconds_of[label] = timed(lambda engine=engine: answer_as_adapter(engine))
    adapter_table = [
        {
            "way": f"base model, no adapter, {batch} rows" if label == workbench else label,
            "seconds": seconds_of[label],
            "generated tok/s": sum(map(count, answers[label])) / seconds_of[label],
            "same answers as peft": sum(a == b for a, b in zip(answers[label], answers[beside])),
        }
        for label in [workbench, *ways]
    ]
    report(
        f"Answering as an adapter (bench/eval_throughput.py, {device})",
        adapter_table,
        [
            f"The same {len(rows)} prompts, continuous batching. Adapter: "
            f"{args.adapter or 'random, r=64 on every linear layer (timing only)'}. Added into the weights, the sum is "
            "held in the weights' dtype, so answers may differ from peft's by rounding; its seconds include adding "
            "the adapter and restoring the weights (model.adapter_in_weights). Offered only where model.mergeable."
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
