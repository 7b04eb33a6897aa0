"""The engines that answer prompts, behind one interface, and the answer cache that wraps any of them.

An engine holds one base model with every adapter and answers greedily as any of them:

- ``acting_as(label)``: a context in which it answers as ``label`` ("base": adapters off);
- ``answer_ids(prompt_ids, limits, eos_token_id, on_answers)``: each prompt's answer token ids (without
  the end token), at most its limit long; ``on_answers({index: ids})`` sees answers as they finish;
- ``identity()``: what besides the weights makes its answers (backend, dtype, 4-bit, merged adapters), for the cache.

``ContinuousBatching`` (transformers, the default on CPU and GPU), ``PlainBatches`` (transformers'
``generate`` on fixed batches: the reference the others are tested against) and ``VllmEngine`` (CUDA,
evaluation/vllm_backend.py). ``CachedEngine`` wraps any of them, as lm-evaluation-harness' ``CachingLM``
wraps a model: answers already in its file are read back, new ones appended as each finishes, so an
interrupted evaluation resumes. ``evaluation/generate.py`` turns text prompts into ids and answers back.
Living here rather than in ``model.py`` keeps the layers pointing down: engines build on ``model``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from .. import model as models
from ..settings import MAX_BATCH_TOKENS

OnAnswers = Callable[[dict[int, list[int]]], None]


class ContinuousBatching:
    """transformers with continuous batching (evaluation/continuous.py): a finished row takes the next prompt.
    ``merged``: answer as an adapter with it added into the weights (``model.adapter_in_weights``)."""

    backend = "transformers"

    def __init__(self, model, batch_size: int = 64, max_batch_tokens: int = MAX_BATCH_TOKENS, merged: bool = False):
        self.model, self.batch_size, self.max_batch_tokens, self.merged = model, batch_size, max_batch_tokens, merged

    def identity(self) -> dict:
        return {
            "backend": self.backend,
            "dtype": str(getattr(self.model, "dtype", "")),
            "4bit": bool(getattr(self.model, "is_loaded_in_4bit", False)),
            "merged": self.merged,
        }

    def acting_as(self, label: str):
        return models.acting_as(self.model, label, merged=self.merged)

    def answer_ids(self, prompt_ids, limits, eos_token_id, on_answers: OnAnswers | None = None) -> list[list[int]]:
        answers: dict[int, list[int]] = {}

        def finish(done: dict[int, list[int]]) -> None:
            answers.update(done)
            if on_answers is not None and done:
                on_answers(done)

        with self._answering():
            self._run(prompt_ids, limits, eos_token_id, finish)
        return [answers[i] for i in range(len(prompt_ids))]

    @contextmanager
    def _answering(self):
        """Eval mode without gradients; an interrupted probe must not leave a training model in eval mode."""
        import torch

        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            self.model.train(was_training)

    def _run(self, prompt_ids, limits, eos_token_id, finish: OnAnswers) -> None:
        from .continuous import ContinuousBatch

        batch = ContinuousBatch(self.model, eos_token_id, prompt_ids, limits, self.batch_size, self.max_batch_tokens)
        batch.run(finish)


class PlainBatches(ContinuousBatching):
    """transformers' ``generate`` on fixed batches of similar length, left-padded: slower (a batch decodes
    until its longest answer ends), but the library's own loop, so the reference for the other engines."""

    backend = "generate"

    def _run(self, prompt_ids, limits, eos_token_id, finish: OnAnswers) -> None:
        import torch

        order = sorted(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(prompt_ids[i]) for i in batch)
            ids = torch.tensor([[0] * (width - len(prompt_ids[i])) + prompt_ids[i] for i in batch])
            mask = torch.tensor([[0] * (width - len(prompt_ids[i])) + [1] * len(prompt_ids[i]) for i in batch])
            out = self.model.generate(
                input_ids=ids.to(self.model.device),
                attention_mask=mask.to(self.model.device),
                max_new_tokens=max(limits[i] for i in batch),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=eos_token_id if eos_token_id is not None else 0,
                eos_token_id=eos_token_id,
            )
            finish({i: _until_end(row[width:].tolist(), eos_token_id, limits[i]) for i, row in zip(batch, out)})


def _until_end(ids: list[int], eos_token_id: int | None, limit: int) -> list[int]:
    """An answer's ids before its end token (what follows is padding), at most ``limit``."""
    if eos_token_id in ids:
        ids = ids[: ids.index(eos_token_id)]
    return ids[:limit]


class CachedEngine:
    """``engine`` with its answers kept in ``path`` (JSON lines, one file per model identity): a request
    answered before (same prompt ids, same limit) is read back, a new answer is appended as it finishes.
    A line cut short by a kill, or edited by hand into something else, is answered again."""

    def __init__(self, engine, path: str | Path):
        self.engine, self.path = engine, Path(path)

    def identity(self) -> dict:
        return self.engine.identity()

    def acting_as(self, label: str):
        return self.engine.acting_as(label)

    def answer_ids(self, prompt_ids, limits, eos_token_id, on_answers: OnAnswers | None = None) -> list[list[int]]:
        saved = read_answers(self.path)
        keys = [request_key(ids, limit) for ids, limit in zip(prompt_ids, limits)]
        answers = {i: saved[key] for i, key in enumerate(keys) if key in saved}
        if on_answers is not None and answers:
            on_answers(dict(answers))
        todo = [i for i in range(len(keys)) if i not in answers]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:

            def save(done: dict[int, list[int]]) -> None:
                done = {todo[j]: ids for j, ids in done.items()}
                for i, ids in done.items():
                    handle.write(json.dumps({"id": keys[i], "ids": ids}) + "\n")
                handle.flush()
                answers.update(done)
                if on_answers is not None:
                    on_answers(done)

            if todo:
                self.engine.answer_ids([prompt_ids[i] for i in todo], [limits[i] for i in todo], eos_token_id, save)
        return [answers[i] for i in range(len(keys))]


def request_key(prompt_ids: list[int], limit: int) -> str:
    """What a cached answer answered: the prompt's token ids (chat format included) and the token limit."""
    return hashlib.sha256(json.dumps([prompt_ids, limit]).encode()).hexdigest()[:16]


def read_answers(path: Path) -> dict[str, list[int]]:
    """A cache file's answers by request key; lines that are not a whole answer are skipped."""
    done = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of a killed run
            if (
                isinstance(item, dict)
                and isinstance(item.get("id"), str)
                and isinstance(item.get("ids"), list)
                and all(isinstance(t, int) for t in item["ids"])
            ):
                done[item["id"]] = item["ids"]
    return done


def as_engine(model, batch_size: int = 64, max_batch_tokens: int = MAX_BATCH_TOKENS):
    """``model`` if it is an engine already, else a transformers model answering by continuous batching."""
    if hasattr(model, "answer_ids"):
        return model
    return ContinuousBatching(model, batch_size, max_batch_tokens)


def load_for_answering(config, adapters: dict[str, str]):
    """An engine over the base model with every adapter, on ``config.backend`` (an ``AnswerSettings``)."""
    if config.backend == "vllm":
        from .vllm_backend import VllmEngine

        return VllmEngine(config.base_model, adapters, config.quantization, config.precision, config.trust_remote_code)
    model = models.load_with_adapters(
        config.base_model, adapters, config.quantization, config.trust_remote_code, config.precision
    )
    engine = PlainBatches if config.backend == "generate" else ContinuousBatching
    return engine(model, config.batch_size, config.max_batch_tokens, merged=models.mergeable(model))
