"""Loading base models, tokenizers and adapters by name (names and their files: ``model_files.py``).

Quantisation ``auto`` means NF4 4-bit with double quantisation on CUDA (QLoRA, as in
Taiyi) and none on CPU, where bitsandbytes is ~18x slower; ``nf4`` forces it anywhere.
Precision ``auto`` computes in bf16 where the hardware does so natively (recent GPUs, CPUs with
AVX512-BF16 or AMX) and in fp32 elsewhere (bench/precision.py measures both).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from contextlib import contextmanager, nullcontext

from .model_files import EMBEDDED, embedded_tokenizer_dir, model_path

# peft and the Trainer still call transformers' deprecated (is_)gradient_checkpointing(_enable), a red box in every
# training and evaluation notebook that users cannot act on: silenced here, for that message only.
warnings.filterwarnings("ignore", message=".*gradient_checkpointing.* is deprecated", category=FutureWarning)
# bitsandbytes on an AVX512-BF16 CPU tries to fetch an optional kernel from the hub at import and warns in red when
# it cannot (offline here, and only its 4-bit CPU path would use it): its other warnings still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

log = logging.getLogger(__name__)


def load_tokenizer(name: str, trust_remote_code: bool = False):
    """Tokenizer for a hub id, a local folder, an embedded or a tiny model; pads on the left for generation."""
    from transformers import AutoTokenizer

    path = embedded_tokenizer_dir(name) if name in EMBEDDED else model_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def use_4bit(quantization: str) -> bool:
    """Resolve ``auto`` / ``nf4`` / ``none`` to whether the base model is loaded in 4 bits."""
    import torch

    if quantization not in ("auto", "nf4", "none"):
        raise ValueError(f"quantization must be auto, nf4 or none, got {quantization!r}")
    if quantization == "auto":
        if torch.cuda.is_available():
            return True
        log.info(
            "quantization 'auto' on CPU: loading the base model unquantised (plain LoRA); "
            "set quantization: nf4 to force 4-bit QLoRA (about 18x slower on CPU)"
        )
        return False
    return quantization == "nf4"


def native_bf16() -> bool:
    """Whether this machine computes in bf16 natively: a GPU that supports it, or a CPU with AVX512-BF16 or AMX.
    Without it, CPU autocast emulates bf16 and is several times slower than fp32."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_precision(precision: str = "auto") -> str:
    """``auto`` -> ``bf16`` where the hardware computes it natively, else ``fp32``; ``bf16`` / ``fp32`` as given."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, got {precision!r}")
    if precision != "auto":
        return precision
    resolved = "bf16" if native_bf16() else "fp32"
    if resolved == "fp32":
        log.info("precision 'auto': fp32 (no native bf16 here; set precision: bf16 to force it)")
    return resolved


def compute_dtype(precision: str = "auto"):
    """The dtype matmuls run in: bf16 where ``precision`` resolves to it, else fp32."""
    import torch

    return torch.bfloat16 if resolve_precision(precision) == "bf16" else torch.float32


def load_base_model(
    name: str,
    quantization: str = "auto",
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    precision: str = "auto",
):
    """The base causal LM, NF4 + double-quantised (QLoRA) when ``use_4bit``, safetensors only.

    The frozen weights are held in the compute dtype, for training too (on CPU as on GPU): bf16 weights halve
    the model and spare autocast a bf16 copy of every weight at each forward. peft keeps the adapter and its
    optimizer in fp32.
    """
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = compute_dtype(precision)
    kwargs = {"dtype": dtype, "use_safetensors": True, "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if use_4bit(quantization):
        # Under FSDP the 4-bit weights must be stored in a float dtype FSDP can shard (FSDP-QLoRA),
        # and each process loads the whole model before sharding, so no device map.
        fsdp = os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_quant_storage=dtype if fsdp else torch.uint8,
        )
        if torch.cuda.is_available() and not fsdp:
            kwargs["device_map"] = {"": torch.cuda.current_device()}
    return AutoModelForCausalLM.from_pretrained(model_path(name), **kwargs)


def load_with_adapters(
    name: str,
    adapters: dict[str, str],
    quantization: str = "auto",
    trust_remote_code: bool = False,
    precision: str = "auto",
):
    """One base model carrying every adapter under its label, so comparing stages loads the weights once."""
    from peft import PeftModel

    model = load_base_model(name, quantization, trust_remote_code, precision=precision)
    for label, path in adapters.items():
        if isinstance(model, PeftModel):
            model.load_adapter(path, adapter_name=label)
        else:
            model = PeftModel.from_pretrained(model, path, adapter_name=label)
    return model


@contextmanager
def acting_as(model, label: str, merged: bool = False):
    """Run ``model`` as one of its adapters, or as the bare base model for ``label == "base"``.

    ``merged`` (for a model ``mergeable`` says yes to) answers with the adapter added into the weights
    (``adapter_in_weights``) instead of beside them."""
    from peft import PeftModel

    if label == "base":
        with model.disable_adapter() if isinstance(model, PeftModel) else nullcontext():
            yield model
        return
    if not isinstance(model, PeftModel) or label not in model.peft_config:
        have = ["base", *getattr(model, "peft_config", {})]
        raise KeyError(f"no adapter {label!r} loaded; have {have}")
    if merged:
        with adapter_in_weights(model, label):
            yield model
        return
    model.set_adapter(label)
    yield model


def mergeable(model) -> bool:
    """Whether ``adapter_in_weights`` gives each of ``model``'s adapters exactly: plain LoRA on linear layers (no
    DoRA, no LoRA bias, no fully trained modules) over unquantised weights on CPU. On CPU peft's fp32 adapter path
    costs more than the bf16 model itself (bench/eval_throughput.py); elsewhere it is unmeasured, so left as is."""
    from peft import PeftModel
    from peft.tuners.lora import Linear, LoraLayer

    if not isinstance(model, PeftModel) or getattr(model, "is_loaded_in_4bit", False) or model.device.type != "cpu":
        return False
    if any(getattr(config, "modules_to_save", None) for config in model.peft_config.values()):
        return False
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    return all(type(m) is Linear and not m.lora_variant and not any(m.lora_bias.values()) for m in layers)


@contextmanager
def adapter_in_weights(model, label: str):
    """``model`` answering as ``label`` with the LoRA update B·A·scale added into each frozen weight and the adapter
    layers switched off: one matmul per layer instead of three. Answers differ from peft's by rounding (the sum is
    held in the weights' dtype). The original weights wait in a temporary file, not a second copy in memory, and
    are copied back bit for bit on exit, so the base model and the other adapters answer as before."""
    import tempfile

    import torch
    from peft.tuners.lora import LoraLayer

    layers = [m for m in model.modules() if isinstance(m, LoraLayer) and label in m.lora_A]
    spilled = []
    with tempfile.TemporaryFile() as spill:
        try:
            with torch.no_grad():
                for layer in layers:
                    weight = layer.get_base_layer().weight
                    spill.write(weight.detach().contiguous().view(torch.uint8).numpy().tobytes())
                    spilled.append(weight)
                    weight.copy_((weight.float() + layer.get_delta_weight(label).float()).to(weight.dtype))
            with model.disable_adapter():
                yield model
        finally:
            spill.seek(0)
            with torch.no_grad():
                for weight in spilled:
                    saved = bytearray(spill.read(weight.numel() * weight.element_size()))
                    weight.copy_(torch.frombuffer(saved, dtype=weight.dtype).view_as(weight))


def lora_config(r: int = 64, alpha: int = 16, dropout: float = 0.05, target_modules: str | list = "all-linear"):
    """Taiyi's LoRA: r=64, alpha=16, dropout 0.05 on every linear layer but the output head."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type="CAUSAL_LM")


def token_counter(name: str) -> Callable[[list[str]], list[int]]:
    """A function giving the token count of each text under ``name``'s tokenizer."""
    tokenizer = load_tokenizer(name)

    def count(texts: list[str]) -> list[int]:
        if not texts:  # the fast tokenizer fails on an empty batch
            return []
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    return count
