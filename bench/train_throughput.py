"""Training throughput on the curated mixture's real lengths: the naive path vs the workbench's.

    python bench/train_throughput.py                      # CPU: SmolLM2-135M and tiny:llama, LoRA
    python bench/train_throughput.py --model random:qwen2-7b --batch-size 12 --max-length 1024   # GPU, QLoRA NF4

Three ways to batch the same examples, each in its own process (clean peak memory):
  naive   HF Trainer + peft, every example padded to max length (the common tutorial setup)
  dynamic padded to the longest example of length-grouped batches (the workbench with padding_free: false)
  packed  the workbench default, padding_free: true (DataCollatorWithFlattening, per-example attention)
Reports trained (non-padding) tokens/s, padding fraction, peak memory, MFU = 4·N·tokens/s over the measured
matmul peak, the minimum gradient norm (asserted > 0), and each path's predicted speed-up over naive
(time proportional to computed tokens) beside the measured one.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import peak_flops, report  # bench/common.py (the script's folder is on sys.path)

from taiyi_utils.paths import REPO_ROOT

PATHS = ("naive", "dynamic", "packed")


class Recording:
    """Wraps a collator and records each batch's computed and real (non-padding) tokens."""

    def __init__(self, collator):
        self.collator, self.batches = collator, []

    def __call__(self, features):
        batch = self.collator(features)
        real = int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()
        self.batches.append((batch["input_ids"].numel(), real))
        return batch


def worker(path: str, model: str, data: str, steps: int, batch_size: int, max_length: int) -> dict:
    """Train ``steps + 1`` steps one way; the first step (allocation, warm-up) is not counted."""
    import torch
    from transformers import DataCollatorForSeq2Seq, TrainerCallback

    from taiyi_utils import model as models
    from taiyi_utils.settings import TrainConfig
    from taiyi_utils.train import peak_memory_gb, setup

    class StepClock(TrainerCallback):
        def __init__(self):
            self.ends = []

        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(
            data=data,
            output_dir=out,
            base_model=model,
            padding_free=path == "packed",
            max_steps=steps + 1,
            batch_size=batch_size,
            grad_accumulation=1,
            max_length=max_length,
            logging_steps=1,
            save_steps=10**9,
            eval_max=0,
            learning_rate=2e-4,
        )
        clock = StepClock()
        run = setup(config, callbacks=(clock,))
        trainer = run.trainer
        if path == "naive":
            right = models.load_tokenizer(model)
            right.padding_side = "right"
            trainer.data_collator = DataCollatorForSeq2Seq(
                right, padding="max_length", max_length=max_length, label_pad_token_id=-100
            )
            trainer.args.train_sampling_strategy = "random"
        recording = Recording(trainer.data_collator)
        trainer.data_collator = recording
        trainer.train()
    counted = recording.batches[1 : steps + 1]
    seconds = clock.ends[-1] - clock.ends[0]
    grad_norms = [h["grad_norm"] for h in trainer.state.log_history if "grad_norm" in h]
    peak = peak_memory_gb()
    return {
        "computed_tokens": sum(c for c, _ in counted),
        "real_tokens": sum(r for _, r in counted),
        "seconds": seconds,
        "min_grad_norm": min(grad_norms),
        "peak_gib": peak,
        "quantized": run.quantized,
        "parameters": _base_parameters(model),
    }


def _base_parameters(model: str) -> int:
    """N for MFU: the base model's parameters, counted on the meta device (4-bit storage would halve them)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from taiyi_utils import model as models

    with torch.device("meta"):
        return sum(
            p.numel()
            for p in AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(models.model_path(model))).parameters()
        )


def curated_mixture(out: Path, max_length: int, records: int) -> Path:
    """The stage-2 mixture curated from the shared corpora with the demo's sources (Taiyi-like lengths)."""
    from taiyi_utils.curation import curate, resolve_data_root
    from taiyi_utils.run import load_profile

    demo = load_profile("demo")[1]["01_curation"]
    curate(
        resolve_data_root("", out),
        out,
        train_sources=demo["train_sources"],
        eval_suites=[],
        max_records_per_source=records,
        tokenizer=demo["tokenizer"],
        max_tokens=max_length,
    )
    return out / "stage2.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="repeatable; default: embedded:smollm2-135m and tiny:llama")
    parser.add_argument("--steps", type=int, default=4, help="measured steps per path (one more runs first)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--records", type=int, default=300, help="records read per source for the mixture")
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model[0], args.data, args.steps, args.batch_size, args.max_length)))
        return 0

    flops, dtype = peak_flops()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = curated_mixture(Path(tmp), args.max_length, args.records)
        for model in args.model or ["embedded:smollm2-135m", "tiny:llama"]:
            results = {}
            for path in PATHS:
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    path,
                    "--model",
                    model,
                    "--data",
                    str(data),
                    "--steps",
                    str(args.steps),
                    "--batch-size",
                    str(args.batch_size),
                    "--max-length",
                    str(args.max_length),
                ]
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
                if done.returncode:
                    sys.stderr.write(done.stderr[-3000:])
                    raise SystemExit(f"{model} / {path} failed")
                results[path] = json.loads(done.stdout.strip().splitlines()[-1])
                assert math.isfinite(results[path]["min_grad_norm"]) and results[path]["min_grad_norm"] > 0, (
                    f"{model} / {path}: zero or non-finite gradient norm; LoRA is not training"
                )
            naive = results["naive"]
            for path, r in results.items():
                tokens_per_s = r["real_tokens"] / r["seconds"]
                rows.append(
                    {
                        "model": model,
                        "path": path,
                        "4-bit": r["quantized"],
                        "trained tok/s": tokens_per_s,
                        "padding": 1 - r["real_tokens"] / r["computed_tokens"],
                        "peak GiB": r["peak_gib"],
                        "MFU %": 100 * 4 * r["parameters"] * tokens_per_s / flops,
                        "min grad norm": r["min_grad_norm"],
                        "predicted x naive": (naive["computed_tokens"] / naive["real_tokens"])
                        / (r["computed_tokens"] / r["real_tokens"]),
                        "measured x naive": tokens_per_s / (naive["real_tokens"] / naive["seconds"]),
                    }
                )
    report(
        "Training throughput (bench/train_throughput.py)",
        rows,
        [
            f"{args.steps} measured steps per path after one warm-up step; batch {args.batch_size}, max length "
            f"{args.max_length}; the demo's stage-2 mixture ({args.records} records per source) from ../shared/data/raw.",
            f"MFU counts 4·N FLOPs per trained token (LoRA: no weight gradients for the frozen base) over a measured "
            f"{dtype} matmul peak of {flops / 1e12:.2f} TFLOP/s.",
            "predicted x naive assumes time proportional to computed (padded) tokens.",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
