"""Greedy generation with continuous batching: a finished answer's row is refilled with the next prompt at once.

Answers end at different lengths. A fixed batch (``model.generate`` on a list) steps until its
longest answer ends, so on the evaluation's prompts fewer than half of its decode slots hold a
live answer (bench/eval_throughput.py). Here every decode step runs the live rows of one
key/value cache; a row leaves when its answer ends and the next prompt, prefilled on its own,
takes its place. Rows are aligned on the right with left padding, as ``model.generate`` pads,
and the cache grows in place (evaluation/kv_cache.py).
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable

from ..memory import release_freed_memory

RELEASE_EVERY = 16  # decode steps between handing freed heap pages back (CPU)


class ContinuousBatch:
    """The rows of one continuous batch: their cache, attention mask and answers so far.

    Each prompt is prefilled alone and written into a free row of the cache (evaluation/kv_cache.py);
    a free row that no prompt can take is filled by the last row and dropped (``_compact``).
    """

    def __init__(
        self,
        model,
        eos_token_id: int | None,
        prompt_ids: list[list[int]],
        limits: list[int],
        batch_size: int,
        max_batch_tokens: int,
    ):
        import torch

        self.torch, self.model, self.eos = torch, model, eos_token_id
        self.prompt_ids, self.limits, self.batch_size, self.budget = prompt_ids, limits, batch_size, max_batch_tokens
        self.queue = deque(sorted(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i])))
        self.rows: list[int | None] = []  # prompt index of each row; None: free
        self.answers: dict[int, list[int]] = {}
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=model.device)  # [rows, cached columns]
        self.next_tokens = torch.zeros(0, dtype=torch.long, device=model.device)
        self.cache = None
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        # transformers 5.24 renamed forward's past_key_values to cache
        self.cache_arg = "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"

    @property
    def live(self) -> list[int]:
        return [r for r, i in enumerate(self.rows) if i is not None]

    def run(self, finish: Callable[[dict[int, list[int]]], None]) -> None:
        steps = 0
        while self.queue or self.live:
            finish(self._admit())
            steps += 1
            if steps % RELEASE_EVERY == 0 and self.mask.device.type == "cpu":
                release_freed_memory()  # each step's cache grows by a copy: freed copies fragment the heap
            if self.live:
                self.mask = self.torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
                logits = self._forward(
                    self.next_tokens[:, None],
                    self.cache,
                    attention_mask=self.mask,
                    position_ids=self.mask.sum(dim=1, keepdim=True) - 1,
                )
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
        """Free the rows of finished answers and drop the columns only they used."""
        done = {}
        for r, token in zip(self.live, self.next_tokens[self.live].tolist()):
            if self._ended(self.rows[r], token):
                done[self.rows[r]] = self.answers.pop(self.rows[r])
                self.rows[r] = None
        if done and self.live:
            used = self.mask[self.live].any(dim=0).nonzero()
            self._trim(int(used[0]))
        return done

    def _trim(self, columns: int) -> None:
        self.mask = self.mask[:, columns:]
        for layer in self.cache.layers:
            layer.trim(columns)

    def _fits(self, i: int) -> bool:
        """Whether prompt ``i`` may join: fewer than ``batch_size`` live rows, and the rows that would be
        cached, each as wide as the widest prompt plus the largest answer limit, within the budget."""
        if not self.live:
            return True
        width = max(self.mask.shape[1], len(self.prompt_ids[i]))
        room = max(self.limits[j] for j in [*(self.rows[r] for r in self.live), i])
        rows = len(self.rows) + (None not in self.rows)
        return len(self.live) < self.batch_size and rows * (width + room) <= self.budget

    def _admit(self) -> dict[int, list[int]]:
        """Prefill waiting prompts one by one into free rows, or new ones; answers that end at their first
        token come back."""
        from transformers import DynamicCache

        from .kv_cache import roomy_cache

        done = {}
        while self.queue and self._fits(self.queue[0]):
            i = self.queue.popleft()
            cache = DynamicCache()
            ids = self.torch.tensor([self.prompt_ids[i]], device=self.mask.device)
            token = int(self._forward(ids, cache).argmax())
            self.answers[i] = []
            if self._ended(i, token):
                done[i] = self.answers.pop(i)
                continue
            length = len(self.prompt_ids[i])
            self.mask = self.torch.nn.functional.pad(self.mask, (max(0, length - self.mask.shape[1]), 0))
            if None not in self.rows:
                self.rows.append(None)
                self.mask = self.torch.cat([self.mask, self.mask.new_zeros(1, self.mask.shape[1])])
                self.next_tokens = self.torch.cat([self.next_tokens, self.next_tokens.new_zeros(1)])
            r = self.rows.index(None)
            self.rows[r], self.next_tokens[r] = i, token
            self.mask[r] = 0
            self.mask[r, -length:] = 1
            prompt = [(layer.keys, layer.values) for layer in cache.layers]
            if self.cache is None:
                self.cache = roomy_cache(prompt, rows=self.batch_size)
            else:
                for layer, (keys, values) in zip(self.cache.layers, prompt):
                    layer.place(r, keys, values)
        if None in self.rows:
            self._compact()
        return done

    def _compact(self) -> None:
        """Drop the free rows that no prompt can take: the last live rows move into the gaps."""
        live = len(self.live)
        for source, target in zip(
            [r for r in self.live if r >= live], [r for r in range(live) if self.rows[r] is None]
        ):
            self.rows[target] = self.rows[source]
            self.mask[target], self.next_tokens[target] = self.mask[source], self.next_tokens[source]
            for layer in self.cache.layers:
                layer.move(source, target)
        self.rows, self.mask, self.next_tokens = self.rows[:live], self.mask[:live], self.next_tokens[:live]
        for layer in self.cache.layers:
            layer.truncate(live)
        if not live:
            self.cache, self.mask = None, self.mask.new_zeros(0, 0)
