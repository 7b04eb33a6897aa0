"""Answers to curated evaluation rows from any engine, through the answer cache of the model answering.

Prompts of every suite are answered together (fuller batches; each keeps its suite's token limit).
The cache (``engines.CachedEngine``) holds one model identity per file (base model, adapter content,
precision, backend, chat format: ``cache/<label>-<digest>.jsonl``) and each answer under its prompt's
token ids and limit, so a changed adapter or prompt is never answered from it, and an interrupted
evaluation resumes without recomputing what finished.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..files import content_digest
from .engines import CachedEngine
from .generate import generate
from .limits import answer_limits, gold_lengths


def item_key(row: dict) -> str:
    """An item's key: conversation ids are unique within a suite, not across suites."""
    return f"{row.get('suite', '')}/{row['conversation_id']}"


def model_identity(base_model: str, adapter: str | None, engine, chat_format: str) -> str:
    """A digest of what makes a model's answers: base, adapter content, chat format and the engine's identity."""
    parts = {
        "base": base_model,
        "adapter": content_digest(adapter) if adapter else None,
        "chat_format": chat_format,
        **engine.identity(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def cache_path(out_dir: str | Path, label: str, identity: str) -> Path:
    return Path(out_dir) / "cache" / f"{label.replace(' ', '_')}-{identity}.jsonl"


def predict(
    engine,
    tokenizer,
    rows: list[dict],
    cache: str | Path,
    *,
    chat_format: str = "template",
    label: str = "",
    limits: dict[str, int] | None = None,
) -> dict[str, dict]:
    """``{"output", "cut", "limit", "gold_over_limit"}`` for ``rows`` by ``item_key``; only what ``cache``
    lacks is generated.

    ``limit`` is the item's suite's token limit from ``limits`` (default: ``answer_limits`` of ``rows``),
    ``cut`` is true when the answer stopped there, and ``gold_over_limit`` when the gold answer is longer.
    """
    limits = limits or answer_limits(rows, tokenizer)
    budget = [limits[r.get("suite", "")] for r in rows]
    lengths: dict[int, int] = {}
    outputs = generate(
        CachedEngine(engine, cache),
        tokenizer,
        [r["conversation"][0]["human"] for r in rows],
        chat_format=chat_format,
        max_new_tokens=budget,
        desc=label or "generate",
        on_batch=lambda indices, texts, counts: lengths.update(zip(indices, counts)),
    )
    return {
        item_key(r): {"output": output, "cut": lengths[i] >= limit, "limit": limit, "gold_over_limit": gold > limit}
        for i, (r, output, limit, gold) in enumerate(zip(rows, outputs, budget, gold_lengths(rows, tokenizer)))
    }
