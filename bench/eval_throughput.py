"""Evaluation throughput: one-at-a-time vs batched greedy generation on the 13-suite prompts, and scoring time.

    python bench/eval_throughput.py                    # CPU: SmolLM2-135M, 4 prompts per suite
    python bench/eval_throughput.py --prompts-per-suite 20 --batch-size 64    # GPU

Every way answers the same prompts as the evaluation does, each with its task's token limit from
eval/evaluate.py (optionally capped by --max-new-tokens): transformers' generate one prompt at a time (the
naive path); transformers' generate on fixed batches of prompts sorted by length, where a batch steps until its
longest answer ends; and the workbench's continuous batching (eval/generate.py). A second set, the shortest
prompts only, shows the decode-bound case, and a probe forces every answer in it to the same length, which is
batching's best case. A second table says where the time goes: prefill (compute-bound, so no faster in
batches), a decode step at batch 1 and at full batch, how many fixed-batch slots held a live answer, and the
speed-up batching could reach at best. Generated tokens count each answer up to its end; greedy decoding makes
answers comparable, and the table reports how many match the one-at-a-time ones.
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
    local = [name for name, suite in load_suites().items() if suite.source]  # hub-only suites need a download
    with tempfile.TemporaryDirectory() as tmp:
        done = curate(resolve_data_root("", tmp), tmp, train_sources={}, eval_suites=local, eval_samples=per_suite,
                      tokenizer=demo["tokenizer"])
    return [row for rows in done.eval.values() for row in rows[:per_suite]]


def timed(run) -> tuple[list[str], float]:
    start = time.perf_counter()
    outputs = run()
    return outputs, time.perf_counter() - start


def limits(rows: list[dict], cap: int | None) -> list[int]:
    """Each prompt's token limit as the evaluation sets it, capped at ``cap`` when given."""
    from taiyi_utils.eval.evaluate import MAX_NEW_TOKENS

    return [min(cap or 10**9, MAX_NEW_TOKENS.get(r["task"], 128)) for r in rows]


def sorted_batches(indices: list[int], prompt_tokens: list[int], batch_size: int) -> list[list[int]]:
    """``indices`` sorted by prompt token length in chunks of ``batch_size``: fixed batches that pad least."""
    order = sorted(indices, key=prompt_tokens.__getitem__)
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def fixed_batches(model, tokenizer, texts: list[str], caps: list[int], batches: list[list[int]],
                  forced: bool = False) -> dict[int, str]:
    """transformers' generate on each batch of texts, answers by index; ``forced`` runs every answer to its
    batch's limit."""
    import torch

    answers = {}
    with torch.inference_mode():
        for batch in batches:
            enc = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False)
            limit = max(caps[i] for i in batch)
            out = model.generate(**enc.to(model.device), max_new_tokens=limit,
                                 min_new_tokens=limit if forced else None, do_sample=False, temperature=None,
                                 top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
            for i, ids in zip(batch, out[:, enc["input_ids"].shape[1]:]):
                answers[i] = tokenizer.decode(ids[:caps[i]], skip_special_tokens=True).strip()
    return answers


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
    parser.add_argument("--prompts-per-suite", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="cap on every task's token limit (default: the evaluation's own limits)")
    parser.add_argument("--probe-tokens", type=int, default=64, help="answer length forced in the decode-bound probe")
    parser.add_argument("--max-batch-tokens", type=int, help="the workbench's cache budget (default: generate's)")
    args = parser.parse_args()

    import torch

    from taiyi_utils import model as models
    from taiyi_utils.chat import render_prompt
    from taiyi_utils.eval.generate import generate
    from taiyi_utils.eval.score import score_row

    rows = eval_prompts(args.prompts_per_suite)
    tokenizer, model = models.load_tokenizer(args.model), models.load_base_model(args.model)
    model.eval()
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    humans = [r["conversation"][0]["human"] for r in rows]
    texts = [render_prompt(h, tokenizer) for h in humans]
    prompt_tokens, caps = [count(t) for t in texts], limits(rows, args.max_new_tokens)
    everything = list(range(len(rows)))
    shortest = sorted_batches(everything, prompt_tokens, args.batch_size)[0]
    batch, workbench = args.batch_size, f"continuous batching, {args.batch_size} rows (workbench)"
    budget = {"max_batch_tokens": args.max_batch_tokens} if args.max_batch_tokens else {}
    in_order = lambda found, subset: [found[i] for i in subset]  # noqa: E731
    ways = {  # each answers the prompts at ``subset`` (indices into rows), in that order
        "one at a time": lambda subset: in_order(fixed_batches(model, tokenizer, texts, caps, [[i] for i in subset]),
                                                 subset),
        f"fixed batches of {batch}": lambda subset: in_order(fixed_batches(
            model, tokenizer, texts, caps, sorted_batches(subset, prompt_tokens, batch)), subset),
        workbench: lambda subset: generate(model, tokenizer, [humans[i] for i in subset],
                                           max_new_tokens=[caps[i] for i in subset], batch_size=batch,
                                           desc="workbench", **budget),
    }
    table, answers, seconds_of = [], {}, {}
    for subset, name in ((everything, "13-suite mix"), (shortest, f"{len(shortest)} shortest")):
        for label, way in ways.items():
            outputs, seconds = timed(lambda: way(subset))
            answers[name, label], seconds_of[name, label] = outputs, seconds
            generated, single = sum(map(count, outputs)), seconds_of[name, "one at a time"]
            table.append({"prompts": name, "way": label, "n": len(subset), "generated tokens": generated,
                          "seconds": seconds, "generated tok/s": generated / seconds, "speed-up": single / seconds,
                          "same answers": sum(a == b for a, b in zip(outputs, answers[name, "one at a time"]))})

    probe = {b: [timed(lambda: fixed_batches(model, tokenizer, texts, [n] * len(texts),
                                             sorted_batches(shortest, prompt_tokens, b), forced=True))[1]
                 for n in (1, args.probe_tokens)] for b in (1, batch)}
    for b, label in ((1, "one at a time"), (batch, f"fixed batches of {batch}")):
        generated = len(shortest) * args.probe_tokens
        table.append({"prompts": f"{len(shortest)} shortest, forced to {args.probe_tokens} tokens", "way": label,
                      "n": len(shortest), "generated tokens": generated, "seconds": probe[b][1],
                      "generated tok/s": generated / probe[b][1], "speed-up": probe[1][1] / probe[b][1],
                      "same answers": "-"})
    step_ms = {b: (long - short) / (args.probe_tokens - 1) / -(-len(shortest) // b) * 1000
               for b, (short, long) in probe.items()}

    prefill = prefill_seconds(model, tokenizer, texts)
    answer_tokens = [count(a) for a in answers["13-suite mix", workbench]]
    generated, single = sum(answer_tokens), seconds_of["13-suite mix", "one at a time"]
    every_slot_live = prefill + generated * step_ms[batch] / 1000 / batch
    fixed_use = slot_use(sorted_batches(everything, prompt_tokens, batch), caps, answer_tokens)
    where = [
        {"quantity": "prompt / generated tokens (mix)", "value": f"{sum(prompt_tokens)} / {generated}"},
        {"quantity": "prefill of every prompt, one at a time, s", "value": prefill},
        {"quantity": "prefill share of one-at-a-time time", "value": f"{prefill / single:.0%}"},
        {"quantity": f"decode step at batch 1 / {batch}, ms", "value": f"{step_ms[1]:.0f} / {step_ms[batch]:.0f}"},
        {"quantity": f"fixed batches of {batch}: decode slots holding a live answer", "value": f"{fixed_use:.0%}"},
        {"quantity": f"predicted best speed-up: every slot of {batch} rows live", "value": single / every_slot_live},
        {"quantity": "best speed-up if decoding were free", "value": single / prefill},
        *({"quantity": f"measured speed-up: {label}", "value": single / seconds_of["13-suite mix", label]}
          for label in list(ways)[1:]),
    ]
    start = time.perf_counter()
    [score_row(r, o) for r, o in zip(rows, answers["13-suite mix", workbench])]
    scoring_seconds = time.perf_counter() - start
    device = "cuda" if torch.cuda.is_available() else "cpu"
    limit_note = f"capped at {args.max_new_tokens}" if args.max_new_tokens else "as in the evaluation"
    report(f"Evaluation throughput (bench/eval_throughput.py, {device})", table, [
        f"{args.model}; {args.prompts_per_suite} curated prompts per local suite "
        f"({len({r['suite'] for r in rows})} suites); per-task token limits {limit_note}; greedy.",
        f"Scoring all {len(rows)} answers of the mix (parse, match, errors): {scoring_seconds * 1000:.1f} ms.",
        "speed-up is wall time of one-at-a-time over this way's; generated tokens count each answer up to its end.",
        "The forced rows set min_new_tokens = max_new_tokens, so every slot of a batch stays live."])
    report(f"Where evaluation time goes (bench/eval_throughput.py, {device})", where, [
        "Prefill is compute-bound, so batching cannot shorten it; a decode step is memory-bound at batch 1, so a "
        "full batch costs little more than one answer. The predicted best replaces decoding by generated tokens x "
        "(step at full batch / rows), as if every row were live at every step."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
