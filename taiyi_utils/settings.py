"""Every setting of every pipeline step, with its one default: the single owner the notebooks, profiles
and the runner defer to.

A profile in ``params/`` is a delta over these defaults (``common:`` for what must agree across
notebooks, such as the base model); the runner checks each section against its notebook's owner
(types and value ranges) before anything runs. A notebook's ``parameters`` cell shows only the
settings its reader is likely to change, with these same defaults (a test checks that).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field

from .names import check_name


class SettingError(ValueError):
    """A setting outside its range; the message starts with the setting's name."""


def _need(ok: bool, owner, name: str, rule: str) -> None:
    if not ok:
        raise SettingError(f"{name}: {getattr(owner, name)!r} {rule}")


def _positive(value) -> bool:
    return _finite(value) and value > 0


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _labels_ok(owner, name: str, labels) -> None:
    """Model labels become file names (answer caches, case files): plain names only."""
    for label in labels:
        try:
            check_name("model label", label)
        except ValueError as err:
            raise SettingError(f"{name}: {err}") from None


MAX_NEW_TOKENS = 32_768  # more is a typo, not an answer
MAX_BATCH_TOKENS = 32_768  # keys and values of 32768 tokens: 1.9 GB for Qwen2-7B in bf16, 0.75 GB for SmolLM2-135M


@dataclass(kw_only=True)
class ModelSettings:
    """Which model answers or trains, and how it is loaded."""

    base_model: str = "embedded:smollm2-135m"  # hub id, local folder, embedded:smollm2-135m, tiny:llama / tiny:qwen2
    chat_format: str = "template"  # the model's chat template, or "taiyi" (<|endoftext|>-separated turns, Qwen base)
    quantization: str = "auto"  # auto: NF4 4-bit (QLoRA) on CUDA, none on CPU; or nf4 / none
    precision: str = "auto"  # auto: bf16 where the GPU or CPU computes it natively, else fp32; or bf16 / fp32
    trust_remote_code: bool = False  # only for models that need it (Qwen-7B v1); read their code first

    def __post_init__(self):
        _need(self.quantization in ("auto", "nf4", "none"), self, "quantization", "must be auto, nf4 or none")
        _need(self.chat_format in ("template", "taiyi"), self, "chat_format", "must be template or taiyi")
        _need(self.precision in ("auto", "bf16", "fp32"), self, "precision", "must be auto, bf16 or fp32")


@dataclass(kw_only=True)
class CurationConfig:
    """Notebook 01: which corpora make the stage mixtures and the evaluation suites, and the quality gates."""

    data_root: str = ""  # empty: ../shared/data/raw, or a tiny built-in corpus when that is absent
    sources_files: list[str] = field(default_factory=list)  # your own sources.yaml-style files (README)
    suites_files: list[str] = field(default_factory=list)  # your own suites.yaml-style files
    train_sources: dict[str, str] = field(
        default_factory=lambda: {
            "bc5cdr": "train",
            "ncbi_disease": "train",
            "chemprot_bc6": "train",
            "cmeee": "dev-train",
            "cmeie": "dev-train",
            "kuake_qic": "train",
            "hoc": "train",
            "pubmedqa": "train",
            "med_dialogue": "train",
            "taiyi_example": "train",
        }
    )
    eval_suites: list[str] = field(
        default_factory=lambda: [
            "BC5CDR-Chem",
            "BC5CDR-Dise",
            "NCBI-disease",
            "CMeEE-dev",
            "BC5CDR-RE",
            "CMeIE-dev",
            "HoC",
            "HoC-sentences",
            "KUAKE-QIC-dev",
            "PubMedQA",
            "MedQA-USMLE",
            "MedQA-MCMLE",
            "CNMLEQA",
        ]
    )
    max_records_per_source: int = 20  # -1: all
    eval_samples: int = 10  # records per suite; the paper's ablation used 200; -1: all
    split_ner_by_type: bool = True  # Taiyi's decomposition: one prompt per entity type
    cap_per_dataset: int = 10_000  # Taiyi capped most datasets at 10,000 instructions
    caps: dict[str, int] = field(default_factory=dict)  # per "dataset" or "dataset:task"
    replay_fraction: float = 1.0  # share of stage 1 replayed in stage 2 (Taiyi: all of it)
    base_model: str = ModelSettings.base_model  # its tokenizer counts tokens for the length gate
    max_tokens: int = 1024  # Taiyi trains at 1024 tokens
    remove_overlap: bool = True
    holdout: dict[str, int] = field(default_factory=dict)  # dev-only sources: records held out ({} = sources.yaml)
    seed: int = 0

    def __post_init__(self):
        _need(0 <= self.replay_fraction <= 1, self, "replay_fraction", "must be in [0, 1]")
        _need(isinstance(self.max_tokens, int) and self.max_tokens >= 1, self, "max_tokens", "must be >= 1")
        for name in ("max_records_per_source", "eval_samples", "cap_per_dataset"):
            _need(getattr(self, name) == -1 or getattr(self, name) >= 0, self, name, "must be >= 0 or -1 (all)")
        _need(
            all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in self.holdout.values()),
            self,
            "holdout",
            "must map sources to a whole number of held-out records >= 0",
        )


@dataclass(kw_only=True)
class TrainConfig(ModelSettings):
    """One SFT stage; defaults are Taiyi's (README of Taiyi1, Firefly's QLoRA recipe)."""

    data: str = ""  # the stage mixture (JSON lines); set by the notebook
    output_dir: str = ""  # set by the notebook
    init_adapter: str = ""  # stage 2: stage 1's adapter folder (empty in notebook 03: this run's)
    init_mode: str = (
        "continue"  # continue: train init_adapter further (Taiyi); merge: fold it into the base, new adapter
    )
    lora_r: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target: str = "all-linear"
    learning_rate: float = 2e-4
    lr_scheduler: str = "constant_with_warmup"
    warmup_ratio: float = 0.1
    epochs: float = 3.0  # Taiyi: 5 in stage 1 (StageOneConfig), 3 in stage 2
    max_steps: int = -1  # > 0 overrides epochs
    token_budget: int = -1  # > 0: stop once this many tokens were trained on (the one-stage ablation's equal budget)
    batch_size: int = 12  # per device
    grad_accumulation: int = 2
    max_length: int = 1024
    max_grad_norm: float = 0.3
    weight_decay: float = 0.0
    padding_free: bool = True  # each batch as one row without padding or cross-example attention; False: padded
    chunked_loss: bool = True  # LM head on answer tokens only, in chunks: no full logits (off under FSDP)
    gradient_checkpointing: str = "auto"  # auto: on CUDA only; "true" / "false"
    optim: str = "auto"  # auto: paged_adamw_32bit on CUDA, adamw_torch on CPU
    logging_steps: int = 5
    save_steps: int = 50
    save_total_limit: int = 2
    eval_steps: int = 50
    eval_fraction: float = 0.05  # of the mixture held out for the eval loss, at most eval_max pairs
    eval_max: int = 200
    max_examples: int = -1  # -1: the whole mixture
    resume: str = "auto"  # auto: the newest complete checkpoint made with these settings; never; or a path
    merge: bool = False  # also export the base model with the adapter merged in
    probe_samples: int = 20  # evaluation prompts answered before and after the stage (notebooks 02 and 03)
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        _need(
            _positive(self.learning_rate) and self.learning_rate <= 1,
            self,
            "learning_rate",
            "must be a positive number at most 1",
        )
        _need(_finite(self.weight_decay) and 0 <= self.weight_decay <= 1, self, "weight_decay", "must be in [0, 1]")
        _need(_finite(self.epochs), self, "epochs", "must be a finite number")
        for name in (
            "batch_size",
            "grad_accumulation",
            "max_length",
            "lora_r",
            "logging_steps",
            "save_steps",
            "eval_steps",
            "save_total_limit",
            "probe_samples",
        ):
            _need(
                isinstance(getattr(self, name), int) and getattr(self, name) >= 1, self, name, "must be an integer >= 1"
            )
        _need(_positive(self.lora_alpha), self, "lora_alpha", "must be a positive number")
        for name in ("lora_dropout", "warmup_ratio", "eval_fraction"):
            _need(0 <= getattr(self, name) < 1, self, name, "must be in [0, 1)")
        _need(_finite(self.max_grad_norm) and self.max_grad_norm >= 0, self, "max_grad_norm", "must be >= 0")
        _need(self.max_length >= 16, self, "max_length", "must be >= 16 tokens: room for a prompt and its answer")
        _need(isinstance(self.eval_max, int) and self.eval_max >= 0, self, "eval_max", "must be an integer >= 0")
        for name in ("max_examples", "token_budget"):
            _need(getattr(self, name) == -1 or getattr(self, name) >= 1, self, name, "must be >= 1 or -1 (none)")
        _need(
            self.max_steps > 0 or _positive(self.epochs),
            self,
            "epochs",
            f"trains nothing with max_steps {self.max_steps}: give epochs > 0 or max_steps > 0",
        )
        _need(self.init_mode in ("continue", "merge"), self, "init_mode", "must be continue or merge")
        _need(
            self.gradient_checkpointing in ("auto", "true", "false"),
            self,
            "gradient_checkpointing",
            "must be auto, true or false",
        )

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingError(f"unknown training setting(s) {unknown}; known: {', '.join(sorted(known))}")
        return cls(**values)


@dataclass(kw_only=True)
class StageOneConfig(TrainConfig):
    """Notebook 02: stage 1, which Taiyi trains for 5 epochs (stage 2: 3)."""

    epochs: float = 5.0


@dataclass(kw_only=True)
class StageTwoConfig(TrainConfig):
    """Notebook 03: stage 2, and Taiyi's one-stage baseline beside it when asked (``train.one_stage_config``)."""

    one_stage: bool = False  # also train one adapter on both stages' pairs mixed, for the two stages' token total


BACKENDS = ("transformers", "generate", "vllm")  # the answering engines (evaluation/engines.py)


@dataclass(kw_only=True)
class AnswerSettings(ModelSettings):
    """Which models answer prompts, on which engine (notebooks 04 and 05)."""

    backend: str = "transformers"  # continuous batching on transformers (CPU and GPU); generate: transformers'
    # generate on fixed batches (the reference, slower); vllm (CUDA, extra vllm). evaluation/engines.py
    adapters: dict[str, str] = field(default_factory=dict)  # label -> adapter folder; {}: this run's stages
    include_base: bool = True  # also answer with the base model (adapters switched off)
    max_batch_tokens: int = MAX_BATCH_TOKENS  # key/value cache budget, rows x (prompt + answer limit) in tokens:
    # the answering kernel's memory peak; fewer rows fit, so long prompts answer slower (evaluation/continuous.py)

    def __post_init__(self):
        super().__post_init__()
        _need(self.backend in BACKENDS, self, "backend", "must be transformers, generate or vllm")
        _need(
            isinstance(self.max_batch_tokens, int) and self.max_batch_tokens >= 1,
            self,
            "max_batch_tokens",
            "must be >= 1",
        )
        if self.backend == "vllm":
            _need(_vllm_usable(), self, "backend", "needs vLLM and a CUDA GPU: pip install -e '.[vllm]' on one")
        _labels_ok(self, "adapters", self.adapters)

    def labels(self, adapters: dict[str, str] | None = None) -> list[str]:
        """The models that answer, in order: the base model (when included), then each adapter's label."""
        return (["base"] if self.include_base else []) + list(self.adapters if adapters is None else adapters)


def _vllm_usable() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


STAGE_LABELS = ("stage 1", "stage 2", "one-stage")  # a run's own adapters (evaluation.evaluate.STAGE_FOLDERS)


@dataclass(kw_only=True)
class EvalConfig(AnswerSettings):
    """Notebook 04: which models answer which suites, how many records, how many rows decode together."""

    suites: list[str] = field(default_factory=list)  # empty: every suite curated in notebook 01
    records_per_suite: int = -1  # -1: every curated record
    records_per_model: dict[str, int] = field(default_factory=dict)  # label -> fewer records for that model
    batch_size: int = 64  # answers decoded together (bench/eval_throughput.py)
    max_new_tokens: int = -1  # cap on every suite's answer limit (its longest gold + 8); -1: none
    max_new_tokens_by_suite: dict[str, int] = field(default_factory=dict)  # suite -> its own cap (-1: none)
    comparisons: list[list[str]] = field(default_factory=list)  # [a, b] model pairs; []: each vs base, later vs earlier

    def __post_init__(self):
        super().__post_init__()
        _need(
            self.max_new_tokens == -1 or 1 <= self.max_new_tokens <= MAX_NEW_TOKENS,
            self,
            "max_new_tokens",
            f"must be in [1, {MAX_NEW_TOKENS}] or -1 (none)",
        )
        _need(
            all(
                isinstance(n, int) and (n == -1 or 1 <= n <= MAX_NEW_TOKENS)
                for n in self.max_new_tokens_by_suite.values()
            ),
            self,
            "max_new_tokens_by_suite",
            "must map suite names to token caps >= 1 or -1 (none)",
        )
        _need(
            self.records_per_suite == -1 or self.records_per_suite >= 1,
            self,
            "records_per_suite",
            "must be >= 1 or -1 (all)",
        )
        _need(isinstance(self.batch_size, int) and self.batch_size >= 1, self, "batch_size", "must be >= 1")
        _need(
            all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in self.comparisons),
            self,
            "comparisons",
            "must be a list of [a, b] model label pairs",
        )
        _need(
            all(isinstance(n, int) and n >= 1 for n in self.records_per_model.values()),
            self,
            "records_per_model",
            "must map model labels to record counts >= 1",
        )
        models = self.labels(self.adapters or dict.fromkeys(STAGE_LABELS))
        for name, named in (
            ("records_per_model", list(self.records_per_model)),
            ("comparisons", [x for pair in self.comparisons for x in pair]),
        ):
            unknown = [x for x in named if x not in models]
            _need(not unknown, self, name, f"names {unknown}, not a model here ({', '.join(models)})")

    def records_for(self, label: str) -> int:
        """Records per suite ``label`` answers: its own count, never more than ``records_per_suite``."""
        n = self.records_per_model.get(label, self.records_per_suite)
        return n if self.records_per_suite == -1 else min(n, self.records_per_suite)


@dataclass(kw_only=True)
class CaseConfig(AnswerSettings):
    """Notebook 05: the case studies answered side by side, and the chat box."""

    data_root: str = ""  # empty: ../shared/data/raw, or the tiny built-in corpus
    cases: list[str] = field(default_factory=list)  # empty: every case in taiyi_utils/evaluation/cases.yaml
    items_per_case: int = 2
    max_turns: int = 3  # turns answered per multi-turn case
    max_new_tokens: int = 160
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        for name in ("items_per_case", "max_turns", "max_new_tokens", "batch_size"):
            _need(isinstance(getattr(self, name), int) and getattr(self, name) >= 1, self, name, "must be >= 1")
        _need(self.max_new_tokens <= MAX_NEW_TOKENS, self, "max_new_tokens", f"must be <= {MAX_NEW_TOKENS}")


OWNERS = {
    "01_curation": CurationConfig,
    "02_stage1_sft": StageOneConfig,
    "03_stage2_sft": StageTwoConfig,
    "04_eval": EvalConfig,
    "05_case_studies": CaseConfig,
}


def from_namespace(cls, namespace: dict, **fixed):
    """An owner built from the names of ``namespace`` it owns (others are ignored), plus ``fixed`` ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{**{k: v for k, v in namespace.items() if k in names}, **fixed})


def defaults(stem: str) -> dict:
    """Every setting of a notebook's owner with its default."""
    return {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
        for f in dataclasses.fields(OWNERS[stem])
    }


def field_types(owner) -> dict[str, type | tuple]:
    """Setting -> the Python type(s) its value must have (from the annotations)."""
    hints = typing.get_type_hints(owner)
    out = {}
    for name, hint in hints.items():
        origin = typing.get_origin(hint) or hint
        out[name] = (int, float) if hint is float else origin
    return out
