"""Quality gates between instruction pairs and mixtures: duplicates, length, train/test overlap."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")
MIN_OVERLAP_CHARS = 50  # shorter shared sentences ("95% confidence interval, 1.") are boilerplate, not leakage


def normalize(text: str) -> str:
    """Unicode-compatible, case-folded, whitespace-collapsed text: what 'same text' means here."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def conversation_text(pair: dict) -> str:
    return "\n".join(t["human"] + "\n" + t["assistant"] for t in pair["conversation"])


def dedup(pairs: list[dict]) -> tuple[list[dict], dict[str, Counter]]:
    """Drop exact, then normalised, duplicate conversations; report removals per dataset."""
    seen_exact, seen_norm = set(), set()
    kept, removed = [], {"exact": Counter(), "normalized": Counter()}
    for pair in pairs:
        text = conversation_text(pair)
        if text in seen_exact:
            removed["exact"][pair["dataset"]] += 1
            continue
        seen_exact.add(text)
        norm = normalize(text)
        if norm in seen_norm:
            removed["normalized"][pair["dataset"]] += 1
            continue
        seen_norm.add(norm)
        kept.append(pair)
    return kept, removed


def add_token_counts(pairs: list[dict], count_tokens: Callable[[list[str]], list[int]]) -> None:
    """Store ``tokens`` (whole conversation, template text included) on each pair."""
    for pair, n in zip(pairs, count_tokens([conversation_text(p) for p in pairs])):
        pair["tokens"] = n


def length_filter(pairs: list[dict], max_tokens: int) -> tuple[list[dict], Counter]:
    """Keep pairs that fit ``max_tokens`` (Taiyi trains at 1024); report drops per dataset."""
    kept, dropped = [], Counter()
    for pair in pairs:
        if pair["tokens"] <= max_tokens:
            kept.append(pair)
        else:
            dropped[pair["dataset"]] += 1
    return kept, dropped


def _sentences(text: str) -> set[str]:
    """The whole normalised text plus each of its sentences long enough to be telling."""
    parts = {s for s in (normalize(p) for p in _SENTENCE_END.split(text)) if len(s) >= MIN_OVERLAP_CHARS}
    return parts | {normalize(text)}


def overlap(train: list[dict], evaluation: dict[str, list[dict]], remove: bool = True) -> tuple[list[dict], dict]:
    """Find training pairs sharing text with evaluation items and (by default) drop them.

    Texts are compared as normalised wholes and sentences, so a test sentence inside
    a training abstract counts as overlap. Returns the kept training pairs and a report:
    per suite, how many of its items occur in training; per dataset, pairs removed.
    """
    sentences: dict[str, set[str]] = {}  # pairs built from one record share its text: split it once

    def split(text: str) -> set[str]:
        if text not in sentences:
            sentences[text] = _sentences(text)
        return sentences[text]

    owner: dict[str, set[str]] = defaultdict(set)
    for suite, items in evaluation.items():
        for item in items:
            for sentence in split(item["source_text"]):
                owner[sentence].add(suite)
    leaked_sentences: set[str] = set()
    kept, removed = [], Counter()
    for pair in train:
        shared = split(pair["source_text"]) & owner.keys()
        if not shared:
            kept.append(pair)
            continue
        leaked_sentences |= shared
        removed[pair["dataset"]] += 1
        if not remove:
            kept.append(pair)
    hit_items = {
        suite: {i["record_id"] for i in items if split(i["source_text"]) & leaked_sentences}
        for suite, items in evaluation.items()
    }
    report = {
        "eval_items_in_training": {s: len(hit_items[s]) for s in evaluation},
        "eval_items": {s: len({i["record_id"] for i in items}) for s, items in evaluation.items()},
        "training_pairs_overlapping": dict(removed),
        "removed": remove,
    }
    return kept, report
