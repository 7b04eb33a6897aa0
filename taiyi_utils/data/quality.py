"""Quality gates between instruction pairs and mixtures: duplicates, length, train/test overlap."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")
NGRAM = 13  # words per n-gram (GPT-3's decontamination length); a CJK character is a word
BOILERPLATE_TEXTS = 5  # an n-gram in this many distinct texts is stock phrasing, not an item's content
MIN_COVERAGE = 0.5  # share of an item's distinctive n-grams found in training that marks it as seen
EXAMPLES = 3  # flagged items per suite shown in the data card


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


def tokens(text: str) -> list[str]:
    """Normalised words, each CJK character a word of its own (Chinese has no spaces)."""
    return _TOKEN.findall(normalize(text))


def _grams(text: str) -> set[int]:
    words = tokens(text)
    return {hash(tuple(words[i : i + NGRAM])) for i in range(len(words) - NGRAM + 1)}


def overlap(train: list[dict], evaluation: dict[str, list[dict]], remove: bool = True) -> tuple[list[dict], dict]:
    """Find evaluation items whose distinctive text occurs in training; drop those training pairs (by default).

    An item's distinctive text is its ``NGRAM``-word n-grams less those found in ``BOILERPLATE_TEXTS`` or
    more distinct texts of this curation (stock phrasing such as "Which of the following is the most likely
    diagnosis?"), as decontamination tools do. The item counts as seen in training when at least
    ``MIN_COVERAGE`` of them occur in training texts, or a training text equals it (what decides for items
    shorter than ``NGRAM`` words). Returns the kept training pairs and a report: per suite, the items
    seen before and after removal (judged with the same stock phrasing) and three examples; per
    dataset, the training pairs removed.
    """
    grams: dict[str, set[int]] = {}  # pairs built from one record share its text: split it once

    def grams_of(text: str) -> set[int]:
        if text not in grams:
            grams[text] = _grams(text)
        return grams[text]

    eval_texts = {i["source_text"] for items in evaluation.values() for i in items}
    wanted = set().union(*(grams_of(t) for t in eval_texts))  # only n-grams of evaluated text can matter
    train_texts = {p["source_text"] for p in train}
    frequency = Counter(g for text in eval_texts | train_texts for g in grams_of(text) & wanted)
    distinctive = {g for g in wanted if frequency[g] < BOILERPLATE_TEXTS}
    holders: dict[int, set[str]] = {}  # distinctive n-gram -> the training texts holding it
    for text in train_texts:
        for g in grams_of(text) & distinctive:
            holders.setdefault(g, set()).add(text)
    whole = {normalize(t): t for t in train_texts}

    def seen(text: str, gone: set[str]) -> tuple[float, set[str]]:
        """(share of the text's distinctive n-grams held by training texts not in ``gone``, those texts)."""
        own = grams_of(text) & distinctive
        held = [holders.get(g, set()) - gone for g in own]
        equal = whole.get(normalize(text))
        coverage = 1.0 if equal and equal not in gone else sum(map(bool, held)) / len(own) if own else 0.0
        return coverage, set().union(*held) | ({equal} if equal else set())

    flagged: dict[str, list[dict]] = {}
    leaked_texts: set[str] = set()
    for suite, items in evaluation.items():
        for text in dict.fromkeys(i["source_text"] for i in items):
            coverage, sources = seen(text, set())
            if coverage >= MIN_COVERAGE:
                leaked_texts |= sources
                flagged.setdefault(suite, []).append({"text": text, "coverage": round(coverage, 2), "in": sources})
    kept, removed = [], Counter()
    for pair in train:
        if pair["source_text"] in leaked_texts:
            removed[pair["dataset"]] += 1
            if remove:
                continue
        kept.append(pair)

    def items_seen(texts: set[str]) -> dict[str, int]:
        return {s: len({i["record_id"] for i in items if i["source_text"] in texts}) for s, items in evaluation.items()}

    gone = leaked_texts if remove else set()
    report = {
        "eval_items_in_training": items_seen({f["text"] for found in flagged.values() for f in found}),
        "eval_items_in_training_after_removal": items_seen({t for t in eval_texts if seen(t, gone)[0] >= MIN_COVERAGE}),
        "eval_items": {s: len({i["record_id"] for i in items}) for s, items in evaluation.items()},
        "training_pairs_overlapping": dict(removed),
        "examples": {s: [_example(f, train) for f in found[:EXAMPLES]] for s, found in flagged.items()},
        "removed": remove,
    }
    return kept, report


def _example(found: dict, train: list[dict]) -> dict:
    """One flagged item for the data card: its text, the share seen, and a training pair that holds it."""
    source = sorted(found["in"])[0]
    pair = next(p for p in train if p["source_text"] == source)
    return {
        "eval_text": found["text"][:240],
        "coverage": found["coverage"],
        "training_dataset": pair["dataset"],
        "training_id": pair["conversation_id"],
        "training_text": source[:240],
    }
