"""Text prompts in, greedy text answers out, on any answering engine (evaluation/engines.py)."""

from __future__ import annotations

from collections.abc import Callable

from tqdm.auto import tqdm

from ..chat import render_prompt
from ..settings import MAX_BATCH_TOKENS
from .engines import as_engine


def generate(
    model,
    tokenizer,
    prompts: list[str],
    *,
    chat_format: str = "template",
    max_new_tokens: int | list[int] = 128,
    batch_size: int = 64,
    max_batch_tokens: int = MAX_BATCH_TOKENS,
    desc: str = "generate",
    histories: list[list[dict]] | None = None,
    on_batch: Callable[[list[int], list[str], list[int]], None] | None = None,
) -> list[str]:
    """Greedy answers to ``prompts``, in input order; ``histories`` holds each prompt's earlier turns.

    ``model`` is an engine, or a transformers model answered by continuous batching: at most ``batch_size``
    answers together, and a prompt joins only while rows x (padded length + answer limit) stays within
    ``max_batch_tokens``, which bounds the key/value cache (32768 tokens are 1.9 GB for Qwen2-7B in bf16).
    ``max_new_tokens`` may differ per prompt. ``on_batch(indices, answers, lengths)`` sees answers as they
    finish, with their token counts (an answer as long as its limit was cut off there).
    """
    engine = as_engine(model, batch_size, max_batch_tokens)
    histories = histories or [[] for _ in prompts]
    limits = max_new_tokens if isinstance(max_new_tokens, list) else [max_new_tokens] * len(prompts)
    texts = [render_prompt(p, tokenizer, chat_format, h) for p, h in zip(prompts, histories, strict=True)]
    prompt_ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    answers: list[str] = [""] * len(texts)
    with tqdm(total=len(texts), desc=desc, unit="prompt") as bar:

        def finish(done: dict[int, list[int]]) -> None:
            for i, ids in done.items():
                answers[i] = tokenizer.decode(ids, skip_special_tokens=True).strip()
            if on_batch is not None:
                on_batch(list(done), [answers[i] for i in done], [len(ids) for ids in done.values()])
            bar.update(len(done))

        if texts:
            engine.answer_ids(prompt_ids, limits, tokenizer.eos_token_id, finish)
    return answers
