"""Training throughput on the curated mixture's real lengths: the naive path, TRL, and the workbench's.

    python bench/train_throughput.py                      # CPU: SmolLM2-135M and tiny:llama, LoRA
    python bench/train_throughput.py --model random:qwen2-7b --batch-size 12 --max-length 1024   # GPU, QLoRA NF4

Ways to train on the same single-turn examples, in the same order, each in its own process (clean peak memory):
  naive       HF Trainer + peft, every example padded to max length (the common tutorial setup)
  dynamic     padded to the longest example of length-grouped batches (the workbench with padding_free: false)
  full-logits the workbench's padding-free batches with transformers' own loss (chunked_loss: false)
  trl         TRL's SFTTrainer: padding-free batches, loss on the completion only (the peer users would pick)
  workbench   the default: padding-free batches, the LM head on answer tokens only (chunked_loss: true)
Reports trained (non-padding) tokens/s, padding fraction, peak memory, MFU = 4·N·tokens/s over the measured
matmul peak, the last loss, the minimum gradient norm (asserted > 0), and each path's predicted speed-up over
naive (time proportional to computed tokens) beside the measured one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import alternating, median_ratio, parse, peak_flops, report  # bench/common.py (on sys.path)

from taiyi_utils.paths import REPO_ROOT

PATHS = ("naive", "dynamic", "full-logits", "trl", "workbench")


class Recording:
    """Wraps a collator and records each batch's computed and real (non-padding) tokens."""

    def __init__(self, collator):
        self.collator, self.batches = collator, []

    def __call__(self, features):
        batch = self.collator(features)
        real = int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()
        self.batches.append((batch["input_ids"].numel(), real))
        return batch


def bench_config(data, out, model: str, steps: int, batch_size: int, max_length: int, **settings):
    """A training stage of ``steps + 1`` logged steps (the first one warms up), no checkpoints, no eval loss."""
    from taiyi_utils.settings import TrainConfig

    values = dict(
        data=str(data),
        output_dir=str(out),
        base_model=model,
        max_steps=steps + 1,
        batch_size=batch_size,
        grad_accumulation=1,
        max_length=max_length,
        logging_steps=1,
        save_steps=10**9,
        eval_max=0,
        learning_rate=2e-4,
    )
    return TrainConfig(**{**values, **settings})


def worker(path: str, model: str, data: str, steps: int, batch_size: int, max_length: int) -> dict:
    """Train ``steps + 1`` steps one way; the first step (allocation, warm-up) is not counted."""
    import torch
    from transformers import DataCollatorForSeq2Seq, TrainerCallback

    from taiyi_utils import model as models
    from taiyi_utils.memory import peak_memory_gib
    from taiyi_utils.train import setup

    class StepClock(TrainerCallback):
        def __init__(self):
            self.ends = []

        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        config = bench_config(
            data,
            out,
            model,
            steps,
            batch_size,
            max_length,
            padding_free=path not in ("naive", "dynamic"),
            chunked_loss=path == "workbench",
        )
        clock = StepClock()
        if path == "trl":
            trainer, quantized = trl_trainer(config, clock)
        else:
            run = setup(config, callbacks=(clock,))
            trainer, quantized = run.trainer, run.quantized
        trainer.args.train_sampling_strategy = "sequential"  # every path sees the same examples in the same order
        if path == "naive":
            right = models.load_tokenizer(model)
            right.padding_side = "right"
            trainer.data_collator = DataCollatorForSeq2Seq(
                right, padding="max_length", max_length=max_length, label_pad_token_id=-100
            )
        recording = Recording(trainer.data_collator)
        trainer.data_collator = recording
        trainer.train()
    counted = recording.batches[1 : steps + 1]
    seconds = clock.ends[-1] - clock.ends[0]
    grad_norms = [h["grad_norm"] for h in trainer.state.log_history if "grad_norm" in h]
    peak = peak_memory_gib()
    return {
        "computed_tokens": sum(c for c, _ in counted),
        "real_tokens": sum(r for _, r in counted),
        "seconds": seconds,
        "min_grad_norm": min(grad_norms),
        "peak_gib": peak,
        "quantized": quantized,
        "parameters": _base_parameters(model),
        "last_loss": [h["loss"] for h in trainer.state.log_history if "loss" in h][-1],
    }


def trl_trainer(config, clock):
    """TRL's SFTTrainer on the same base model, LoRA, examples (same shuffle) and batch settings as ``setup``."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    from taiyi_utils import model as models
    from taiyi_utils.files import read_jsonl
    from taiyi_utils.train import training_arguments, uses_checkpointing

    quantized = models.use_4bit(config.quantization)
    precision = models.resolve_precision(config.precision)
    rows = [
        {
            "prompt": [{"role": "user", "content": r["conversation"][0]["human"]}],
            "completion": [{"role": "assistant", "content": r["conversation"][0]["assistant"]}],
        }
        for r in read_jsonl(config.data)
    ]
    base = models.load_base_model(config.base_model, "nf4" if quantized else "none", precision=precision)
    args = SFTConfig(
        **{**training_arguments(config, precision, uses_checkpointing(config)), "logging_steps": 1},
        output_dir=config.output_dir,
        save_strategy="no",
        max_length=None,  # the curated examples already fit max_length; TRL enforces it only when packing
        padding_free=True,
        completion_only_loss=True,
        report_to="none",
    )
    trainer = SFTTrainer(
        model=base,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows).shuffle(seed=config.seed),
        processing_class=models.load_tokenizer(config.base_model),
        peft_config=models.lora_config(config.lora_r, config.lora_alpha, config.lora_dropout, config.lora_target),
        callbacks=[clock],
    )
    return trainer, quantized


def single_turn(mixture: Path) -> Path:
    """The mixture's single-turn examples: the shape all paths (TRL's prompt-completion one too) train on alike."""
    from taiyi_utils.files import read_jsonl, write_jsonl

    rows = [r for r in read_jsonl(mixture) if len(r["conversation"]) == 1]
    return write_jsonl(mixture.with_name("single_turn.jsonl"), rows)


def _base_parameters(model: str) -> int:
    """N for MFU: the base model's parameters, counted on the meta device (4-bit storage would halve them)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from taiyi_utils.model_files import model_path

    with torch.device("meta"):
        return sum(
            p.numel()
            for p in AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path(model))).parameters()
        )


def run_worker(path: str, model: str, data: Path, args) -> dict:
    """One path measured in its own process (its own peak memory, no warm caches from another path)."""
    cmd = [sys.executable, __file__, "--worker", path, "--model", model, "--data", str(data), "--steps",
           str(args.steps), "--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if done.returncode:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"{model} / {path} failed")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert math.isfinite(result["min_grad_norm"]) and result["min_grad_norm"] > 0, (
        f"{model} / {path}: zero or non-finite gradient norm; LoRA is not training"
    )
    return result


def _row(model: str, path: str, runs: list[dict], reference: list[dict], flops: float) -> dict:
    """A path's median over its runs, and its speed against the reference path (the first) as the median of
    the per-run ratios with their spread (``common.median_ratio``)."""
    rate = [r["real_tokens"] / r["seconds"] for r in runs]
    ratio, spread = median_ratio(rate, [r["real_tokens"] / r["seconds"] for r in reference])
    last = runs[-1]
    predicted = (reference[0]["computed_tokens"] / reference[0]["real_tokens"]) / (
        last["computed_tokens"] / last["real_tokens"]
    )
    return {
        "model": model,
        "path": path,
        "runs": len(runs),
        "4-bit": last["quantized"],
        "trained tok/s (median)": statistics.median(rate),
        "padding": 1 - last["real_tokens"] / last["computed_tokens"],
        "peak GiB": max(r["peak_gib"] for r in runs),
        "MFU %": 100 * 4 * last["parameters"] * statistics.median(rate) / flops,
        "last loss": last["last_loss"],
        "predicted x first": predicted,
        "measured x first (median)": ratio,
        "spread": spread,
    }


def curated_mixture(out: Path, max_length: int, records: int) -> Path:
    """The stage-2 mixture curated from the shared corpora with the demo's sources (Taiyi-like lengths)."""
    from taiyi_utils.curation import curate, resolve_data_root
    from taiyi_utils.run import load_profile

    profile = load_profile("demo")[1]
    curate(
        resolve_data_root("", out),
        out,
        train_sources=profile["01_curation"]["train_sources"],
        eval_suites=[],
        max_records_per_source=records,
        base_model=profile["common"]["base_model"],
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
    parser.add_argument("--paths", nargs="+", choices=PATHS, help="default: all (naive first: the reference)")
    parser.add_argument("--rounds", type=int, default=1, help="each round runs the paths A B .. then .. B A")
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parse(
        parser, model=["tiny:llama"], steps=1, batch_size=2, max_length=128, records=5, paths=["naive", "workbench"]
    )
    if args.worker:
        print(json.dumps(worker(args.worker, args.model[0], args.data, args.steps, args.batch_size, args.max_length)))
        return 0
    paths = list(args.paths or [p for p in PATHS if p != "trl" or importlib.util.find_spec("trl")])
    flops, dtype = peak_flops()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = single_turn(curated_mixture(Path(tmp), args.max_length, args.records))
        for model in args.model or ["embedded:smollm2-135m", "tiny:llama"]:
            runs = alternating(paths, args.rounds, lambda path, model=model: run_worker(path, model, data, args))
            rows += [_row(model, path, runs[path], runs[paths[0]], flops) for path in paths]
    report(
        "Training throughput (bench/train_throughput.py)",
        rows,
        [
            f"{args.steps} measured steps per path after one warm-up step; batch {args.batch_size}, max length "
            f"{args.max_length}; the single-turn examples of the demo's stage-2 mixture ({args.records} records per source) from ../shared/data/raw, in the same order for every path; the same last loss shows they trained alike.",
            f"MFU counts 4·N FLOPs per trained token (LoRA: no weight gradients for the frozen base) over a measured "
            f"{dtype} matmul peak of {flops / 1e12:.2f} TFLOP/s.",
            "predicted x first assumes time proportional to computed (padded) tokens; measured x first is the median of "
            "the per-run ratios to the first path, the spread their range (paths ran A B .. B A per round).",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
