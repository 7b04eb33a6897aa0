"""Batched greedy generation with left padding, batches filled by prompt length within a token budget."""
from __future__ import annotations

from typing import Callable

from tqdm.auto import tqdm

from ..chat import render_prompt


def generate(model, tokenizer, prompts: list[str], *, chat_format: str = "template",
             max_new_tokens: int | list[int] = 128, batch_size: int = 16, max_batch_tokens: int = 8192,
             desc: str = "generate", histories: list[list[dict]] | None = None,
             on_batch: Callable[[list[int], list[str]], None] | None = None) -> list[str]:
    """Greedy answers to ``prompts``, in input order; ``histories`` holds each prompt's earlier turns.

    ``max_new_tokens`` may differ per prompt (a batch runs to its largest limit and each
    answer is cut to its own). Prompts are sorted by token length so each batch pads
    little, and a batch holds at most ``batch_size`` prompts and ``max_batch_tokens``
    padded tokens (prompt + answer): long prompts go in small batches, short ones in full
    batches. The tokenizer must pad on the left (``model.load_tokenizer`` sets that) so
    every answer starts right after its prompt. ``on_batch(indices, answers)`` sees each
    finished batch, so a caller can save answers before the next batch starts.
    """
    import torch

    if tokenizer.padding_side != "left":
        raise ValueError("generation needs a left-padding tokenizer (tokenizer.padding_side = 'left')")
    histories = histories or [[] for _ in prompts]
    limits = max_new_tokens if isinstance(max_new_tokens, list) else [max_new_tokens] * len(prompts)
    texts = [render_prompt(p, tokenizer, chat_format, h) for p, h in zip(prompts, histories, strict=True)]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []
    answers: list[str] = [""] * len(texts)
    was_training = model.training
    model.eval()
    with torch.inference_mode(), tqdm(total=len(texts), desc=desc, unit="prompt") as bar:
        for batch in _batches(lengths, limits, batch_size, max_batch_tokens):
            enc = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = enc.to(model.device)
            out = model.generate(**enc, max_new_tokens=max(limits[i] for i in batch), do_sample=False, use_cache=True,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                 temperature=None, top_p=None, top_k=None)
            for i, ids in zip(batch, out[:, enc["input_ids"].shape[1]:]):
                answers[i] = tokenizer.decode(ids[:limits[i]], skip_special_tokens=True).strip()
            if on_batch is not None:
                on_batch(batch, [answers[i] for i in batch])
            bar.update(len(batch))
    model.train(was_training)
    return answers


def _batches(lengths: list[int], limits: list[int], batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Indices grouped shortest first; a batch grows while its padded size stays within the budget."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        last = batches[-1] if batches else None
        if last and len(last) < batch_size and \
                (len(last) + 1) * (lengths[i] + max(limits[j] for j in [*last, i])) <= max_batch_tokens:
            last.append(i)
        else:
            batches.append([i])
    return batches
