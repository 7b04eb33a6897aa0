"""How many tokens a suite's answers may run: one limit per suite, the same for every model compared on it.

A suite's limit comes from its gold answers under the evaluated tokenizer (the longest plus
``LIMIT_SLACK``), over the suite's whole evaluated slice, so no gold answer would be cut off and every
model compared on the suite answers under the same limit, also one that answers fewer records (or a
shard of them). A cap (``max_new_tokens``, or one per suite) may lower it; each prediction records
whether it stopped at the limit, summaries report that share and how many gold answers the cap cuts off.
"""

from __future__ import annotations

LIMIT_SLACK = 8  # tokens beyond the longest gold answer: room for a closing word, not for a second answer


def gold_lengths(rows: list[dict], tokenizer) -> list[int]:
    """Each row's gold answer in tokens of ``tokenizer``."""
    golds = [r["conversation"][0]["assistant"] for r in rows]
    return [len(ids) for ids in tokenizer(golds, add_special_tokens=False)["input_ids"]] if golds else []


def answer_limits(
    rows: list[dict], tokenizer, cap: int = -1, suite_caps: dict[str, int] | None = None
) -> dict[str, int]:
    """Max new tokens per suite: its longest gold answer under ``tokenizer`` plus ``LIMIT_SLACK``, at most
    the suite's cap in ``suite_caps``, else ``cap`` when one is set (-1: none)."""
    limits: dict[str, int] = {}
    for row, length in zip(rows, gold_lengths(rows, tokenizer)):
        limits[row.get("suite", "")] = max(limits.get(row.get("suite", ""), 0), length + LIMIT_SLACK)
    capped = {suite: (suite_caps or {}).get(suite, cap) for suite in limits}
    return {suite: min(limit, capped[suite]) if capped[suite] > 0 else limit for suite, limit in limits.items()}


def suite_limits(config, suites: dict[str, list[dict]], tokenizer) -> dict[str, int]:
    """Each suite's answer limit from its whole slice under ``config``'s caps (an ``EvalConfig``)."""
    rows = [{**r, "suite": suite} for suite, items in suites.items() for r in items]
    return answer_limits(rows, tokenizer, config.max_new_tokens, config.max_new_tokens_by_suite)
