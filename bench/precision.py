"""fp32 against bf16 on the same examples in one run: LoRA training steps and greedy decoding.

    python bench/precision.py                       # embedded SmolLM2-135M, the demo's stage-2 examples
    python bench/precision.py --steps 2 --prompts 8 # a shorter run

``precision: auto`` picks bf16 only where the hardware computes it natively (a GPU with bf16, a CPU
with AVX512-BF16 or AMX); elsewhere CPU autocast emulates bf16, which this script shows too.
Training: the workbench's padding-free LoRA path, fp32 weights, bf16 through the Trainer's autocast.
Decoding: the workbench's continuous batching, weights loaded in each dtype. Reports tokens/s, the
ratio to fp32 (the median of per-run ratios, with their range: the precisions run fp32 bf16 bf16 fp32 per
round, so a change of load during the run cannot fake a ratio), the last training loss and how many greedy
answers equal fp32's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import alternating, median_ratio, parse, report  # bench/common.py (the script's folder is on sys.path)
from train_throughput import bench_config, curated_mixture


def train_rate(model: str, data: Path, precision: str, steps: int, batch_size: int, max_length: int) -> dict:
    from taiyi_utils.train import setup

    with tempfile.TemporaryDirectory() as out:
        config = bench_config(data, out, model, steps, batch_size, max_length, precision=precision, learning_rate=1e-3)
        run = setup(config)
        run.trainer.train()
    history = [h for h in run.trainer.state.log_history if "loss" in h]
    first, last = history[0], history[-1]
    tokens = last["num_input_tokens_seen"] - first["num_input_tokens_seen"]
    return {"tok/s": tokens / (last["train_runtime"] - first["train_runtime"]), "loss": last["loss"]}


def decode_rate(model: str, prompts: list[str], precision: str, new_tokens: int) -> tuple[float, list[str]]:
    from taiyi_utils import model as models
    from taiyi_utils.evaluation.generate import generate

    tokenizer = models.load_tokenizer(model)
    lm = models.load_base_model(model, "none", precision=precision)
    generate(lm, tokenizer, prompts[:2], max_new_tokens=2, desc="warm-up")
    lengths = []
    start = time.perf_counter()
    answers = generate(
        lm, tokenizer, prompts, max_new_tokens=new_tokens, on_batch=lambda i, a, n: lengths.extend(n), desc=precision
    )
    return sum(lengths) / (time.perf_counter() - start), answers


def main() -> int:
    import torch

    from taiyi_utils import model as models

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--steps", type=int, default=3, help="measured training steps (one more runs first)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1, help="each round runs fp32 bf16 bf16 fp32")
    args = parse(parser, model="tiny:llama", steps=1, batch_size=2, max_length=64, prompts=2, new_tokens=4)
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = curated_mixture(Path(tmp), args.max_length, 50)
        prompts = [json.loads(line)["conversation"][0]["human"] for line in data.open()][: args.prompts]

        def measure(precision: str) -> dict:
            trained = train_rate(args.model, data, precision, args.steps, args.batch_size, args.max_length)
            decoded, answers = decode_rate(args.model, prompts, precision, args.new_tokens)
            return {"train": trained["tok/s"], "loss": trained["loss"], "decode": decoded, "answers": answers}

        runs = alternating(["fp32", "bf16"], args.rounds, measure)
    fp32 = runs["fp32"]
    for precision, measured in runs.items():
        train, train_spread = median_ratio([m["train"] for m in measured], [m["train"] for m in fp32])
        decode, decode_spread = median_ratio([m["decode"] for m in measured], [m["decode"] for m in fp32])
        answers = measured[-1]["answers"]
        rows.append(
            {
                "precision": precision,
                "runs": len(measured),
                "train tok/s (median)": statistics.median(m["train"] for m in measured),
                "train x fp32": train,
                "train spread": train_spread,
                "last loss": measured[-1]["loss"],
                "decode tok/s (median)": statistics.median(m["decode"] for m in measured),
                "decode x fp32": decode,
                "decode spread": decode_spread,
                "answers equal to fp32": f"{sum(a == b for a, b in zip(answers, fp32[-1]['answers']))}/{len(answers)}",
            }
        )
    report(
        "Precision: fp32 vs bf16 (bench/precision.py)",
        rows,
        [
            f"{args.model}; training: {args.steps} measured steps of {args.batch_size} examples up to "
            f"{args.max_length} tokens (padding-free LoRA, the demo's stage-2 mixture); decoding: {len(prompts)} "
            f"prompts x {args.new_tokens} new tokens, continuous batching, greedy; {args.rounds} round(s) of "
            "fp32 bf16 bf16 fp32, ratios the median of the per-run ratios (spread: their range).",
            f"native bf16 here: {models.native_bf16()}, so precision 'auto' resolves to "
            f"{models.resolve_precision('auto')}.",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
