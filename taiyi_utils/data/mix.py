"""Stage mixtures: stage 1 = non-dialogue task data, stage 2 = QA + dialogue + a replay of stage 1.

Taiyi's stage 2 trains on everything (replay fraction 1.0); caps bound any one
dataset (Taiyi capped most at 10,000 instructions). Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections import defaultdict

STAGE1_FAMILIES = {"NER", "NEN", "RE", "EE", "TC", "TP", "MT", "TT", "CBLUE"}


def cap_pairs(pairs: list[dict], cap_per_dataset: int, caps: dict[str, int], rng: random.Random) -> list[dict]:
    """At most ``cap`` pairs per (dataset, task); ``caps`` overrides by ``dataset`` or ``dataset:task``."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for pair in pairs:
        groups[(pair["dataset"], pair["task"])].append(pair)
    kept = []
    for (dataset, task), group in sorted(groups.items()):
        cap = caps.get(f"{dataset}:{task}", caps.get(dataset, cap_per_dataset))
        kept.extend(rng.sample(group, cap) if 0 <= cap < len(group) else group)
    return kept


def build_stages(
    pairs: list[dict],
    *,
    cap_per_dataset: int = 10_000,
    caps: dict[str, int] | None = None,
    replay_fraction: float = 1.0,
    seed: int = 0,
) -> tuple[list[dict], list[dict]]:
    """(stage 1, stage 2) pair lists, each shuffled."""
    if not 0.0 <= replay_fraction <= 1.0:
        raise ValueError(f"replay_fraction must be within [0, 1], got {replay_fraction}")
    rng = random.Random(seed)
    capped = cap_pairs(pairs, cap_per_dataset, caps or {}, rng)
    stage1 = [p for p in capped if p["category"] in STAGE1_FAMILIES]
    rest = [p for p in capped if p["category"] not in STAGE1_FAMILIES]
    stage2 = rest + rng.sample(stage1, round(replay_fraction * len(stage1)))
    rng.shuffle(stage1)
    rng.shuffle(stage2)
    return stage1, stage2
