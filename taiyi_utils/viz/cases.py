"""Case-study views: answers side by side per model, a summary table and a static HTML copy."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ..files import atomic_write_text

CELL = 'style="vertical-align:top;border:1px solid #ddd;padding:6px;white-space:pre-wrap;overflow-wrap:anywhere"'
MARK = {True: " ✓ format", False: " ✗ format", None: ""}


def case_summary(rows: list[dict]) -> pd.DataFrame:
    """Cases x models: share of answers in the expected format (where checkable) and mean answer length."""
    table = pd.DataFrame(rows).assign(
        chars=lambda t: t["output"].str.len(), follows_format=lambda t: t["follows_format"].astype(float)
    )
    models = list(dict.fromkeys(table["model"]))
    summary = table.pivot_table(
        index="case", columns="model", values=["follows_format", "chars"], aggfunc="mean", dropna=False
    )
    summary = summary.reindex(columns=pd.MultiIndex.from_product([["follows_format", "chars"], models])).round(2)
    summary[("seen_in_training", "")] = table.groupby("case")["seen_in_training"].any()
    return summary


def _prompt_cell(prompt: str, limit: int = 400) -> str:
    if len(prompt) <= limit:
        return html.escape(prompt)
    return f"<details><summary>{html.escape(prompt[:limit])}…</summary>{html.escape(prompt)}</details>"


def side_by_side_html(rows: list[dict]) -> str:
    """One table per case (headed by its title): prompt and reference, then each model's answer in its own column."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    by_turn: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        by_turn.setdefault((row["case"], row["item"], row["turn"]), {})[row["model"]] = row
    parts, current = [], None
    for (case, item, turn), answers in by_turn.items():
        first = next(iter(answers.values()))
        if case != current:
            if current is not None:
                parts.append("</table>")
            parts.append(
                f"<h3>{html.escape(first['title'])}</h3><table style='border-collapse:collapse;width:100%;table-layout:fixed'><tr><th {CELL}>prompt</th>"
                f"<th {CELL}>reference</th>" + "".join(f"<th {CELL}>{html.escape(m)}</th>" for m in models) + "</tr>"
            )
            current = case
        seen = " <i>(text seen in training)</i>" if first.get("seen_in_training") and turn == 0 else ""
        cells = "".join(
            f"<td {CELL}>{html.escape(answers[m]['output']) if m in answers else ''}"
            f"<b>{MARK[answers[m]['follows_format']] if m in answers else ''}</b></td>"
            for m in models
        )
        parts.append(
            f"<tr><td {CELL}><small>{html.escape(item)} · turn {turn + 1}{seen}</small>\n{_prompt_cell(first['prompt'])}</td>"
            f"<td {CELL}>{html.escape(first['reference']) or '<i>none</i>'}</td>{cells}</tr>"
        )
    return "".join(parts) + ("</table>" if current is not None else "")


def export_cases_html(rows: list[dict], path: str | Path) -> Path:
    """The side-by-side view as a standalone page (executed notebooks keep it too, but this opens anywhere)."""
    page = (
        "<html><head><meta charset='utf-8'><title>Case studies</title></head><body><h1>Case studies</h1>"
        + side_by_side_html(rows)
        + "</body></html>"
    )
    return atomic_write_text(path, page)
