"""Supervised fine-tuning with LoRA / QLoRA on the transformers Trainer, one stage at a time.

``setup`` loads the base model (4-bit on GPU), attaches a new adapter or continues a
previous stage's, tokenises the stage mixture (loss on assistant tokens only) and builds
the Trainer; ``fit`` trains, resuming from the newest complete checkpoint, and writes the
adapter, tokenizer, training arguments, ``log.jsonl`` and ``train_card.json``.
Several processes: ``accelerate launch -m taiyi_utils.train --config FILE`` (DDP).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write_text, content_digest, follow_umask, read_jsonl, write_json
from .memory import peak_memory_gib, release_freed_memory
from .registry import load_yaml
from .settings import TrainConfig

log = logging.getLogger(__name__)
COMPLETE = "COMPLETE"  # written into a checkpoint folder once every file of it is saved: its settings and files
BOOKKEEPING = ("output_dir", "resume", "logging_steps", "save_steps", "save_total_limit", "eval_steps", "merge",
               "probe_samples")  # fmt: skip
GROUPS = {"dataset": "eval_loss_by_source", "category": "eval_loss_by_family"}  # held-out loss per group, logged


def fingerprint(config: TrainConfig) -> dict:
    """The settings that determine a checkpoint: every training setting but bookkeeping, plus the
    content of the data and of the adapter it starts from."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in BOOKKEEPING}
    settings["data"] = content_digest(Path(config.data))
    if config.init_adapter:
        settings["init_adapter"] = content_digest(Path(config.init_adapter))
    return settings


class TrainingDiverged(RuntimeError):
    """The loss or the weights stopped being finite numbers: the stage fails instead of saving them."""


def _damage(checkpoint: Path, files: dict) -> str:
    """Which of a checkpoint's files are missing or differ from the content digest its marker recorded."""
    if not files:
        return "its marker lists no files"
    changed = [
        f
        for f, digest in files.items()
        if not isinstance(digest, str) or not (checkpoint / f).is_file() or content_digest(checkpoint / f) != digest
    ]
    return f"{', '.join(changed[:3])} missing or changed" if changed else ""


def _non_finite(model) -> str:
    """The first trainable weight holding a NaN or an infinity, or ''."""
    import torch

    return next((n for n, p in model.named_parameters() if p.requires_grad and not torch.isfinite(p).all()), "")


def latest_checkpoint(checkpoint_dir: Path, settings: dict | None = None) -> tuple[Path | None, list[str]]:
    """Newest complete, intact ``checkpoint-N`` made with ``settings`` (when given), and why newer ones were passed.

    A process killed mid-save leaves no marker; a checkpoint whose files were deleted or whose bytes changed
    since its marker recorded their content digests is passed over with a warning (it could not even be
    loaded: a damaged header, a truncated optimizer), and so is one made with other settings.
    """
    done = sorted(
        (p for p in checkpoint_dir.glob("checkpoint-*") if (p / COMPLETE).exists()),
        key=lambda p: int(p.name.rsplit("-", 1)[1]),
        reverse=True,
    )
    notes = []
    for checkpoint in done:
        try:
            marker = json.loads((checkpoint / COMPLETE).read_text() or "{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            marker = {}
        damage = _damage(checkpoint, marker.get("files", {}))
        differs = settings is not None and marker.get("settings") != settings
        if damage:
            notes.append(f"{checkpoint.name} is damaged ({damage}); passing over it")
        elif differs:
            old = marker.get("settings") or {}
            changed = [
                f"{k}: {old.get(k)!r} -> {settings.get(k)!r}"
                for k in sorted(set(old) | set(settings))
                if old.get(k) != settings.get(k)
            ]
            notes.append(
                f"{checkpoint.name} was trained with other settings ({'; '.join(changed[:4]) or 'unrecorded'})"
            )
        else:
            return checkpoint, notes
    return None, notes


def loss_by_group(model, collator, eval_set, batch_size: int) -> dict[str, dict[str, float]]:
    """The held-out loss of each source dataset and task family (mean over their answer tokens), so a stage's
    curves show which corpus it learns and which it forgets. One pass: each (dataset, family) group is scored
    once and summed both ways. Losses come from ``losses.answer_loss_sum``."""
    import torch

    from .losses import answer_loss_sum

    was_training, device = model.training, next(model.parameters()).device
    bf16 = model.get_input_embeddings().weight.dtype == torch.bfloat16  # as in training: bf16 autocast
    model.eval()
    sums = {key: {} for key in GROUPS.values()}
    try:
        for group in sorted({tuple(r[c] for c in GROUPS) for r in eval_set}):
            rows = [r for r in eval_set if tuple(r[c] for c in GROUPS) == group]
            for start in range(0, len(rows), batch_size):
                batch = collator([{k: r[k] for k in ("input_ids", "labels")} for r in rows[start : start + batch_size]])
                with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    total, tokens = answer_loss_sum(model, {k: v.to(device) for k, v in batch.items()})
                for key, name in zip(GROUPS.values(), group):
                    done = sums[key].setdefault(name, [0.0, 0])
                    done[0] += total
                    done[1] += tokens
    finally:
        model.train(was_training)
    return {
        key: {name: round(t / max(n, 1), 4) for name, (t, n) in sorted(found.items())} for key, found in sums.items()
    }


def _callbacks(log_path: Path, settings: dict, eval_set=None, collator=None, batch_size: int = 1):
    from transformers import TrainerCallback

    class MarkComplete(TrainerCallback):
        """After a save: the marker lists the settings and every file's content digest, checked on resume. A
        checkpoint of non-finite weights is never marked: the stage fails there."""

        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            broken = _non_finite(kwargs["model"]) if kwargs.get("model") is not None else ""
            if broken:
                raise TrainingDiverged(
                    f"step {state.global_step}: weight {broken} is not finite; the checkpoint is left unmarked. "
                    "Lower learning_rate or max_grad_norm, or check the data"
                )
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            files = {
                str(p.relative_to(checkpoint)): content_digest(p)
                for p in checkpoint.rglob("*")
                if p.is_file() and p.name != COMPLETE
            }
            write_json(checkpoint / COMPLETE, {"settings": settings, "files": files})

    class FiniteLoss(TrainerCallback):
        """A NaN or infinite loss or gradient norm stops the stage as failed, naming the step."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            bad = {k: v for k, v in (logs or {}).items() if k in ("loss", "grad_norm", "eval_loss") and not _finite(v)}
            if bad:
                raise TrainingDiverged(
                    f"step {state.global_step}: {', '.join(f'{k} {v}' for k, v in bad.items())}; the stage stops "
                    "unsaved. Lower learning_rate or max_grad_norm, or check the data"
                )

    class JsonlLog(TrainerCallback):
        """Every log line of the Trainer as JSON; on resume, lines past the checkpoint are dropped."""

        evaluated: set[int] = set()  # steps with an eval line: a resumed stage re-evaluates its first step

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero and log_path.exists():
                kept = [r for r in read_jsonl(log_path) if r["step"] <= state.global_step]
                atomic_write_text(log_path, "".join(json.dumps(r) + "\n" for r in kept))
                self.evaluated.update(r["step"] for r in kept if "eval_loss" in r)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero:
                return
            logs = dict(logs or {})
            if "eval_loss" in logs:
                if state.global_step in self.evaluated:
                    return
                self.evaluated.add(state.global_step)
            if "eval_loss" in logs and eval_set is not None and kwargs.get("model") is not None:
                logs.update(loss_by_group(kwargs["model"], collator, eval_set, batch_size))
                state.log_history[-1].update(logs)  # live plots read the history
            with log_path.open("a") as handle:
                handle.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")

    class TokenBudget(TrainerCallback):
        """Stops training once ``token_budget`` tokens were trained on (``settings``: the stage's fingerprint)."""

        def on_step_end(self, args, state, control, **kwargs):
            budget = settings.get("token_budget", -1)
            if budget > 0 and state.num_input_tokens_seen >= budget:
                control.should_training_stop = True

    class ReturnFreedMemory(TrainerCallback):
        """On CPU, the pages each forward and backward freed go back to the system (``memory.release_freed_memory``)
        after every accumulated example, every step and every evaluation, and once before training, after the
        probes' generation: left in the heap they fragment, and the next step's peak lands on top of them."""

        def _release(self, args, state, control, **kwargs):
            if args.device.type == "cpu":
                release_freed_memory()

        on_train_begin = on_substep_end = on_step_end = on_evaluate = _release

    return [FiniteLoss(), MarkComplete(), JsonlLog(), TokenBudget(), ReturnFreedMemory()]


def _finite(value) -> bool:
    import math

    return not isinstance(value, (int, float)) or math.isfinite(value)


def _encode_mixture(config: TrainConfig, tokenizer):
    """(train, eval) datasets of input_ids / labels; the eval slice is held out deterministically."""
    import datasets

    from .chat import encode_conversation

    if not Path(config.data).is_file():
        raise FileNotFoundError(
            f"{config.data}: no stage mixture; run notebook 01 (curation) for this run folder first"
        )
    rows = read_jsonl(config.data)
    if not rows:
        raise ValueError(f"{config.data}: no training pairs")
    table = datasets.Dataset.from_list(
        [{"conversation": r["conversation"], **{k: r.get(k, "") for k in GROUPS}} for r in rows]
    ).shuffle(seed=config.seed)
    if config.max_examples >= 0:
        table = table.select(range(min(config.max_examples, len(table))))
    table = table.map(
        lambda r: encode_conversation(r["conversation"], tokenizer, config.chat_format, config.max_length),
        remove_columns=["conversation"],
        desc="tokenise",
    )
    table = table.filter(lambda r: any(label != -100 for label in r["labels"]), desc="drop pairs without answer tokens")
    table = table.map(lambda r: {"length": len(r["input_ids"])})
    n_eval = min(config.eval_max, round(config.eval_fraction * len(table)))
    if n_eval == 0:
        return table, None
    split = table.train_test_split(test_size=n_eval, shuffle=False)
    return split["train"], split["test"]


@dataclass
class Setup:
    config: TrainConfig
    trainer: object
    tokenizer: object
    train_set: object
    eval_set: object
    quantized: bool
    precision: str  # what "auto" resolved to
    settings: dict  # the fingerprint its checkpoints carry

    @property
    def model(self):
        return self.trainer.model


def setup(config: TrainConfig, callbacks: tuple = ()) -> Setup:
    """Model with adapter, tokenised data and a Trainer, ready for ``fit``."""
    from transformers import set_seed

    set_seed(config.seed)
    settings = fingerprint(config)
    model, tokenizer, quantized, precision, checkpointing = _adapted_model(config)
    chunked = config.chunked_loss and os.environ.get("ACCELERATE_USE_FSDP", "").lower() != "true"
    if chunked and hasattr(model.get_output_embeddings(), "lora_A"):
        raise ValueError(
            f"lora_target {config.lora_target!r} puts an adapter on the output head, but chunked_loss applies the "
            "head's own weight, so that adapter would never train: set chunked_loss: false, or leave the head out"
        )
    if config.chunked_loss and not chunked:
        log.info("chunked_loss is off under FSDP, which shards the head's weight outside forward")
    train_set, eval_set = _encode_mixture(config, tokenizer)
    collator = _collator(config)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = _trainer_arguments(config, out, precision, checkpointing, evaluates=eval_set is not None)
    trainer = _trainer_class(chunked)(
        model=model,
        args=args,
        train_dataset=train_set.remove_columns(["length", *GROUPS]),
        eval_dataset=eval_set.remove_columns(["length", *GROUPS]) if eval_set is not None else None,
        data_collator=collator,
        callbacks=[
            *_callbacks(out / "log.jsonl", settings, eval_set, collator, args.per_device_eval_batch_size),
            *callbacks,
        ],
    )
    return Setup(config, trainer, tokenizer, train_set, eval_set, quantized, precision, settings)


def _adapted_model(config: TrainConfig) -> tuple:
    """(base model with the stage's trainable adapter, tokenizer, 4-bit?, precision, gradient checkpointing?).
    The adapter is new, the earlier stage's made trainable (``init_adapter``), or new over a base the earlier
    adapter was merged into (``init_mode: merge``)."""
    from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training

    from . import model as models

    tokenizer = models.load_tokenizer(config.base_model, config.trust_remote_code)
    quantized = models.use_4bit(config.quantization)
    precision = models.resolve_precision(config.precision)
    base = models.load_base_model(
        config.base_model, "nf4" if quantized else "none", config.trust_remote_code, precision=precision
    )
    base.config.use_cache = False  # with a KV cache transformers drops the block mask padding-free batches need
    checkpointing = uses_checkpointing(config)
    if quantized:
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=checkpointing)
    new_adapter = models.lora_config(config.lora_r, config.lora_alpha, config.lora_dropout, config.lora_target)
    if config.init_adapter and config.init_mode == "merge":
        if quantized:
            raise ValueError("init_mode merge folds the earlier adapter into the base: use quantization none")
        model = get_peft_model(PeftModel.from_pretrained(base, config.init_adapter).merge_and_unload(), new_adapter)
    elif config.init_adapter:
        model = PeftModel.from_pretrained(base, config.init_adapter, is_trainable=True)
    else:
        model = get_peft_model(base, new_adapter)
    return model, tokenizer, quantized, precision, checkpointing


def _collator(config: TrainConfig):
    """Padding-free rows (position ids restart per example) or right-padded batches; labels -100 where no loss."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    from . import model as models

    if config.padding_free:
        return DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    right = models.load_tokenizer(config.base_model, config.trust_remote_code)
    right.padding_side = "right"
    return DataCollatorForSeq2Seq(right, padding=True, label_pad_token_id=-100)


def _trainer_arguments(config: TrainConfig, out: Path, precision: str, checkpointing: bool, evaluates: bool):
    """``training_arguments`` plus the workbench's bookkeeping: checkpoints, logging, evaluation schedule."""
    from transformers import TrainingArguments

    return TrainingArguments(
        **training_arguments(config, precision, checkpointing),
        output_dir=str(out / "checkpoints"),
        per_device_eval_batch_size=config.batch_size * config.grad_accumulation,  # no activations kept
        logging_first_step=True,
        logging_nan_inf_filter=False,  # a NaN loss must show (and stop the stage), not be averaged away
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if evaluates else "no",
        eval_steps=config.eval_steps,
        eval_on_start=evaluates,  # the held-out curves start where the stage starts
        data_seed=config.seed,
        # every token of a padding-free batch is real; padded batches carry an attention mask to count by
        include_num_input_tokens_seen="all" if config.padding_free else "non_padding",
        train_sampling_strategy="random" if config.padding_free else "group_by_length",
        report_to=["tensorboard"] if _has("tensorboard") else "none",
        remove_unused_columns=False,
        prediction_loss_only=True,  # eval needs the loss only; gathering vocabulary-wide logits is slow
    )


def uses_checkpointing(config: TrainConfig) -> bool:
    """Whether activations are recomputed in backward: ``auto`` on CUDA (memory is the limit there), else as set."""
    import torch

    if config.gradient_checkpointing == "auto":
        return torch.cuda.is_available()
    return config.gradient_checkpointing == "true"


def training_arguments(config: TrainConfig, precision: str, checkpointing: bool) -> dict:
    """The stage's optimisation settings as ``TrainingArguments`` keywords (TRL's ``SFTConfig`` takes them too):
    the one place they are renamed, for the workbench's loop and the benches' peers alike."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "per_device_train_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accumulation,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_ratio,  # a fraction below 1 is a ratio of the steps (transformers 5)
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps,
        "max_grad_norm": config.max_grad_norm,
        "weight_decay": config.weight_decay,
        "logging_steps": config.logging_steps,
        "activation_checkpointing": checkpointing,
        "optim": ("paged_adamw_32bit" if cuda else "adamw_torch") if config.optim == "auto" else config.optim,
        "bf16": precision == "bf16",  # autocast
        "seed": config.seed,
        "use_cpu": not cuda,  # without it, CPU processes started by accelerate/torchrun form no DDP group
    }


def _trainer_class(chunked_loss: bool):
    """transformers' Trainer, or one whose loss never materialises the full logits (taiyi_utils/losses.py)."""
    from transformers import Trainer

    if not chunked_loss:
        return Trainer

    class ChunkedLossTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            from .losses import chunked_cross_entropy, hidden_states_out

            inputs = dict(inputs)
            labels = inputs.pop("labels")
            head = self.accelerator.unwrap_model(model).get_output_embeddings()
            with hidden_states_out(head):
                outputs = model(**inputs)
            loss = chunked_cross_entropy(outputs.logits, head.weight, labels, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # as Trainer.compute_loss does
            return (loss, outputs) if return_outputs else loss

    return ChunkedLossTrainer


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def fit(run: Setup) -> dict:
    """Train (resuming per ``config.resume``), save the adapter and return the train card."""
    import torch
    from peft.helpers import disable_input_dtype_casting

    config, trainer = run.config, run.trainer
    out = Path(config.output_dir)
    checkpoint = None
    if config.resume == "auto":
        checkpoint, notes = latest_checkpoint(out / "checkpoints", run.settings)
        for note in notes:
            log.warning(note)
        if notes and checkpoint is None:  # keep the old checkpoints, out of the way of this run's
            aside = out / f"checkpoints-superseded-{time.strftime('%Y%m%d-%H%M%S')}"
            (out / "checkpoints").rename(aside)
            log.info("starting afresh; the earlier checkpoints are kept in %s", aside)
    elif config.resume != "never":
        checkpoint = Path(config.resume)
    if checkpoint:
        log.info("resuming from %s", checkpoint)
    start = time.monotonic()
    # peft casts each LoRA input up to the adapter's fp32; under bf16 autocast the matmul runs in bf16 anyway,
    # so the cast only stores an fp32 copy per adapted layer for backward (~0.2 GB of a demo stage's peak)
    with disable_input_dtype_casting(trainer.model, active=run.precision == "bf16"):
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.monotonic() - start
    if not trainer.is_world_process_zero():
        return {}
    broken = _non_finite(trainer.model)
    if broken:
        raise TrainingDiverged(f"after step {trainer.state.global_step}: weight {broken} is not finite; not saved")
    if config.init_adapter and config.init_mode == "merge":
        trainer.model.save_pretrained(out / "adapter_fresh")
        follow_umask(out / "adapter_fresh")
        combine_adapters(config, [Path(config.init_adapter), out / "adapter_fresh"], out / "adapter")
    else:
        trainer.model.save_pretrained(out / "adapter")
    run.tokenizer.save_pretrained(out / "adapter")
    follow_umask(out / "adapter")
    atomic_write_text(out / "training_args.json", trainer.args.to_json_string())
    history = trainer.state.log_history
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    tokens = int(trainer.state.num_input_tokens_seen)
    card = {
        "base_model": config.base_model,
        "init_adapter": config.init_adapter,
        "quantized_4bit": run.quantized,
        "precision": run.precision,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "world_size": trainer.args.world_size,
        "resumed_from": str(checkpoint) if checkpoint else None,
        "steps": trainer.state.global_step,
        "train_examples": len(run.train_set),
        "eval_examples": len(run.eval_set) if run.eval_set is not None else 0,
        "tokens_seen": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_second": round(tokens / max(seconds, 1e-9), 1),
        "peak_memory_gib": round(peak_memory_gib(), 2),
        "trainable_parameters": trainable,
        "total_parameters": sum(p.numel() for p in trainer.model.parameters()),
        "first_loss": next((h["loss"] for h in history if "loss" in h), None),
        "last_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None),
        "mean_train_loss": result.training_loss,
        "final_eval_loss": next((h["eval_loss"] for h in reversed(history) if "eval_loss" in h), None),
        "lineage": lineage(config),
        "config": dataclasses.asdict(config),
    }
    if config.merge:
        card["merged"] = str(merge_adapter(config, out / "adapter", out / "merged"))
    write_json(out / "train_card.json", card)
    return card


def lineage(config: TrainConfig) -> dict:
    """What a stage started from (the base, or an earlier adapter by content), how it builds on it, and what it
    trained on (pairs per source dataset and task family)."""
    from collections import Counter

    rows = read_jsonl(config.data)
    return {
        "base_model": config.base_model,
        "started_from": "base" if not config.init_adapter else "earlier adapter",
        "init_adapter": config.init_adapter or None,
        "init_adapter_digest": content_digest(config.init_adapter) if config.init_adapter else None,
        "init_mode": config.init_mode if config.init_adapter else None,
        "token_budget": config.token_budget if config.token_budget > 0 else None,
        "mixture": {
            "file": config.data,
            "digest": content_digest(config.data),
            "pairs": len(rows),
            "by_dataset": dict(Counter(r.get("dataset", "") for r in rows).most_common()),
            "by_family": dict(Counter(r.get("category", "") for r in rows).most_common()),
        },
    }


def combine_adapters(config: TrainConfig, adapters: list[Path], target: Path) -> Path:
    """One adapter whose update is the sum of ``adapters``' (peft's ``cat`` combination: their LoRA matrices side
    by side), so a stage trained on a base with an earlier adapter merged in is applied to the plain base."""
    import shutil
    import tempfile

    from peft import PeftModel

    from . import model as models

    base = models.load_base_model(config.base_model, "none", config.trust_remote_code, precision="fp32")
    names = [f"part{i}" for i in range(len(adapters))]
    model = PeftModel.from_pretrained(base, str(adapters[0]), adapter_name=names[0])
    for name, adapter in zip(names[1:], adapters[1:]):
        model.load_adapter(str(adapter), adapter_name=name)
    model.add_weighted_adapter(names, [1.0] * len(names), "combined", combination_type="cat")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        model.save_pretrained(tmp, selected_adapters=["combined"])  # peft writes a named adapter into a subfolder
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(Path(tmp) / "combined"), target)
    return target


def one_stage_mixture(stage1: Path, stage2: Path, target: Path) -> Path:
    """Every pair of both stage mixtures once (stage 2 replays stage 1): what the one-stage variant trains on."""
    from .files import write_jsonl

    seen, rows = set(), []
    for row in [*read_jsonl(stage1), *read_jsonl(stage2)]:
        if row["conversation_id"] not in seen:
            seen.add(row["conversation_id"])
            rows.append(row)
    return write_jsonl(target, rows)


def one_stage_config(stage2: TrainConfig, cards: list[dict], data: Path, output_dir: Path) -> TrainConfig:
    """Taiyi's ablation ("Mix"): stage 2's settings, a new adapter from the base model on ``data`` (both stages'
    pairs mixed), stopped once it trained on as many tokens as the two stages together (``cards``), so the
    comparison is about order, not amount. Steps may run to twice the stages' total; warmup lasts as many
    steps as in the stages."""
    steps, tokens = sum(c["steps"] for c in cards), sum(c["tokens_seen"] for c in cards)
    return dataclasses.replace(
        stage2,
        data=str(data),
        output_dir=str(output_dir),
        init_adapter="",
        token_budget=tokens,
        max_steps=2 * steps,
        warmup_ratio=stage2.warmup_ratio / 2,
    )


def merge_adapter(config: TrainConfig, adapter: Path, target: Path) -> Path:
    """Base model (unquantised) with the adapter folded in, saved as safetensors for export."""
    from peft import PeftModel

    from . import model as models

    base = models.load_base_model(config.base_model, "none", config.trust_remote_code, precision=config.precision)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(target, safe_serialization=True)
    models.load_tokenizer(config.base_model, config.trust_remote_code).save_pretrained(target)
    follow_umask(target)
    return target


def train(config: TrainConfig, callbacks: tuple = ()) -> dict:
    return fit(setup(config, callbacks))


def main(argv: list[str] | None = None) -> int:
    from .profiles import ParameterError, resolve
    from .settings import OWNERS

    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, choices=["1", "2"], help="which stage's settings and defaults")
    parser.add_argument("--config", help="YAML or JSON file of training settings (over the profile, if given)")
    parser.add_argument("--profile", help="resolve the stage's settings from this profile, as the runner does")
    parser.add_argument("--run-dir", help="with --profile: the run folder (data/stageN.jsonl in, stageN/ out)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    stem = "02_stage1_sft" if args.stage == "1" else "03_stage2_sft"
    try:
        values = load_yaml(args.config) if args.config else {}
        if not isinstance(values, dict):
            raise ValueError(f"expected a mapping of training settings, got {type(values).__name__}")
        if args.profile:
            if not args.run_dir:
                raise ValueError("--profile needs --run-dir (where the stage's data is and its output goes)")
            run_dir = Path(args.run_dir)
            config = resolve(stem, args.profile, values, data=str(run_dir / "data" / f"stage{args.stage}.jsonl"),
                             output_dir=str(run_dir / f"stage{args.stage}"))  # fmt: skip
            if args.stage == "2" and not config.init_adapter:
                config.init_adapter = str(run_dir / "stage1" / "adapter")
        elif args.config:
            config = OWNERS[stem].from_dict(values)
        else:
            raise ValueError("give --config FILE, or --profile NAME --run-dir DIR")
    except (OSError, ValueError, TypeError, ParameterError) as err:
        print(f"error: {args.config or args.profile}: {err}", file=sys.stderr)
        return 2
    card = train(config)
    if card:
        print(json.dumps({k: card[k] for k in ("steps", "tokens_seen", "first_loss", "last_loss", "final_eval_loss")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
