"""Greedy generation with continuous batching: a finished answer's row is refilled with the next prompt at once.

Answers end at different lengths. A fixed batch (``model.generate`` on a list) steps until its
longest answer ends, so on the evaluation's prompts fewer than half of its decode slots hold a
live answer (bench/eval_throughput.py). Here every decode step runs the live rows of one
key/value cache; a row leaves when its answer ends and the next prompt, prefilled on its own,
takes its place. Rows are aligned on the right with left padding, as ``model.generate`` pads.
"""
from __future__ import annotations

import inspect
from collections import deque
from typing import Callable

from tqdm.auto import tqdm

from ..chat import render_prompt


def generate(model, tokenizer, prompts: list[str], *, chat_format: str = "template",
             max_new_tokens: int | list[int] = 128, batch_size: int = 16, max_batch_tokens: int = 16384,
             desc: str = "generate", histories: list[list[dict]] | None = None,
             on_batch: Callable[[list[int], list[str]], None] | None = None) -> list[str]:
    """Greedy answers to ``prompts``, in input order; ``histories`` holds each prompt's earlier turns.

    ``max_new_tokens`` may differ per prompt. At most ``batch_size`` answers are decoded
    together, and a prompt joins only while rows x (padded length + answer limit) stays within
    ``max_batch_tokens``, which bounds the cache: 16384 tokens are 0.9 GB for Qwen2-7B in bf16.
    Prompts join shortest first so rows pad little. ``on_batch(indices, answers)`` sees the
    answers finished at each step, so a caller can save them at once.
    """
    import torch

    histories = histories or [[] for _ in prompts]
    limits = max_new_tokens if isinstance(max_new_tokens, list) else [max_new_tokens] * len(prompts)
    texts = [render_prompt(p, tokenizer, chat_format, h) for p, h in zip(prompts, histories, strict=True)]
    prompt_ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    answers: list[str] = [""] * len(texts)
    was_training = model.training
    model.eval()
    with torch.inference_mode(), tqdm(total=len(texts), desc=desc, unit="prompt") as bar:
        def finish(done: dict[int, list[int]]) -> None:
            for i, ids in done.items():
                answers[i] = tokenizer.decode(ids, skip_special_tokens=True).strip()
            if on_batch is not None and done:
                on_batch(list(done), [answers[i] for i in done])
            bar.update(len(done))

        _Decoder(model, tokenizer.eos_token_id, prompt_ids, limits, batch_size, max_batch_tokens).run(finish)
    model.train(was_training)
    return answers


class _Decoder:
    """The live rows of one continuous batch: their cache, attention mask and answers so far."""

    def __init__(self, model, eos_token_id: int | None, prompt_ids: list[list[int]], limits: list[int],
                 batch_size: int, max_batch_tokens: int):
        import torch

        from .kv_cache import roomy_cache

        self.torch, self.model, self.eos = torch, model, eos_token_id
        self.new_cache = lambda kv=(): roomy_cache(kv, model.config.get_text_config().num_hidden_layers)
        self.prompt_ids, self.limits, self.batch_size, self.budget = prompt_ids, limits, batch_size, max_batch_tokens
        self.queue = deque(sorted(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i])))
        self.rows: list[int] = []  # prompt index of each row
        self.answers: dict[int, list[int]] = {}
        self.cache = self.new_cache()
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=model.device)  # [rows, cached columns]
        self.next_tokens = torch.zeros(0, dtype=torch.long, device=model.device)
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        # transformers 5.24 renamed forward's past_key_values to cache
        self.cache_arg = "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"

    def run(self, finish: Callable[[dict[int, list[int]]], None]) -> None:
        while self.queue or self.rows:
            finish(self._admit())
            if self.rows:
                self.mask = self.torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
                logits = self._forward(self.next_tokens[:, None], self.cache, attention_mask=self.mask,
                                       position_ids=self.mask.sum(dim=1, keepdim=True) - 1)
                self.next_tokens = logits.argmax(dim=-1)
                finish(self._retire())

    def _forward(self, input_ids, cache, **kwargs):
        """Last-position logits; ``cache`` grows by the new tokens' keys and values."""
        out = self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **{self.cache_arg: cache}, **kwargs)
        return out.logits[:, -1]

    def _ended(self, i: int, token: int) -> bool:
        """Append ``token`` to answer ``i``; true when the answer is complete."""
        if token == self.eos:
            return True
        self.answers[i].append(token)
        return len(self.answers[i]) >= self.limits[i]

    def _retire(self) -> dict[int, list[int]]:
        """Take finished answers out of the batch, with their rows and the columns only they used."""
        ended = [self._ended(i, t) for i, t in zip(self.rows, self.next_tokens.tolist())]
        done = {i: self.answers.pop(i) for i, e in zip(self.rows, ended) if e}
        if done:
            keep = self.torch.tensor([r for r, e in enumerate(ended) if not e], dtype=self.torch.long,
                                     device=self.mask.device)
            self.rows = [i for i, e in zip(self.rows, ended) if not e]
            self.mask, self.next_tokens = self.mask[keep], self.next_tokens[keep]
            live = self.mask.any(dim=0).nonzero()
            start = int(live[0]) if len(live) else self.mask.shape[1]
            self.mask = self.mask[:, start:]
            self.cache = self.new_cache([(k[keep, :, start:], v[keep, :, start:]) for k, v in self._kv(self.cache)])
        return done

    def _fits(self, i: int) -> bool:
        if not self.rows:
            return True
        width = max(self.mask.shape[1], len(self.prompt_ids[i]))
        room = max(self.limits[j] for j in [*self.rows, i])
        return len(self.rows) < self.batch_size and (len(self.rows) + 1) * (width + room) <= self.budget

    def _admit(self) -> dict[int, list[int]]:
        """Prefill waiting prompts one by one into free rows; answers that end at their first token come back."""
        done = {}
        while self.queue and self._fits(self.queue[0]):
            i = self.queue.popleft()
            cache = self.new_cache()
            token = int(self._forward(self.torch.tensor([self.prompt_ids[i]], device=self.mask.device), cache).argmax())
            self.answers[i] = []
            if self._ended(i, token):
                done[i] = self.answers.pop(i)
            else:
                self._append_row(i, self._kv(cache), token)
        return done

    def _append_row(self, i: int, kv: list[tuple], token: int) -> None:
        """Add a prefilled prompt as a row, left-padding it or the existing rows to a common width."""
        torch, length, width = self.torch, len(self.prompt_ids[i]), self.mask.shape[1]
        grow, shift = max(0, length - width), max(0, width - length)
        pad = lambda t, n: torch.nn.functional.pad(t, (0, 0, n, 0))  # noqa: E731  (n columns on the left)
        if self.rows:
            kv = [(torch.cat([pad(k, grow), pad(nk, shift)]), torch.cat([pad(v, grow), pad(nv, shift)]))
                  for (k, v), (nk, nv) in zip(self._kv(self.cache), kv)]
        self.cache = self.new_cache(kv)
        row = torch.cat([self.mask.new_zeros(shift), self.mask.new_ones(length)])
        self.mask = torch.cat([torch.nn.functional.pad(self.mask, (grow, 0)), row[None]])
        self.next_tokens = torch.cat([self.next_tokens, self.next_tokens.new_tensor([token])])
        self.rows.append(i)

    @staticmethod
    def _kv(cache) -> list[tuple]:
        return [(layer.keys, layer.values) for layer in cache.layers]

