"""Figures and tables of notebook 01: what Taiyi used, and what went into our mixtures."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go


def catalog_sunburst(catalog: pd.DataFrame) -> go.Figure:
    """Taiyi's 140 datasets: language -> task family -> dataset (one slice per dataset)."""
    table = catalog.assign(datasets=1, language=catalog["language"].map({"en": "English", "zh": "Chinese"}))
    fig = px.sunburst(
        table,
        path=["language", "task", "name"],
        values="datasets",
        hover_data={"size": ":,"},
        maxdepth=2,
        title="Taiyi's training datasets by language and task (140; click a task for its datasets)",
    )
    fig.update_traces(textinfo="label+value")
    return fig.update_layout(margin=dict(t=40, l=0, r=0, b=0), height=520)


def pairs_table(pairs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "dataset": p["dataset"],
                "category": p["category"],
                "language": p["language"],
                "task": p["task"],
                "tokens": p.get("tokens", 0),
            }
            for p in pairs
        ]
    )


def mixture_sunburst(pairs: list[dict], title: str) -> go.Figure:
    """language -> task family -> dataset, sized by instruction count."""
    counts = pairs_table(pairs).groupby(["language", "category", "dataset"]).size().reset_index(name="pairs")
    fig = px.sunburst(counts, path=["language", "category", "dataset"], values="pairs", title=title)
    return fig.update_layout(margin=dict(t=40, l=0, r=0, b=0), height=480)


def mixture_bar(pairs: list[dict], title: str) -> go.Figure:
    """Instruction pairs per task family and language."""
    if not pairs:
        return go.Figure().update_layout(title=f"{title}: no pairs", height=200)
    counts = pairs_table(pairs).groupby(["category", "language"]).size().reset_index(name="pairs")
    fig = px.bar(counts, x="category", y="pairs", color="language", barmode="group", text="pairs", title=title)
    return fig.update_layout(height=360)


def length_histogram(pairs: list[dict], max_tokens: int, title: str = "Tokens per instruction pair") -> go.Figure:
    """One histogram of token lengths per task family, with the training length limit marked."""
    if not pairs:
        return go.Figure().update_layout(title=f"{title}: no pairs", height=200)
    table = pairs_table(pairs)
    families = table["category"].nunique()
    fig = px.histogram(
        table,
        x="tokens",
        color="category",
        facet_col="category",
        facet_col_wrap=4,
        nbins=40,
        title=title,
        range_x=[0, max_tokens * 1.05],
    )
    fig.add_vline(x=max_tokens, line_dash="dash", line_color="grey")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_yaxes(matches=None, showticklabels=True)
    return fig.update_layout(height=260 * ((families + 3) // 4) + 80, showlegend=False)


def sample_instructions(pairs: list[dict], per_group: int = 1, width: int = 240) -> pd.DataFrame:
    """A few example pairs for each (task, language), shortened for reading."""
    seen: dict[tuple[str, str], int] = {}
    rows = []
    for pair in pairs:
        key = (pair["task"], pair["language"])
        if seen.get(key, 0) >= per_group:
            continue
        seen[key] = seen.get(key, 0) + 1
        turn = pair["conversation"][0]
        rows.append(
            {
                "task": pair["task"],
                "language": pair["language"],
                "dataset": pair["dataset"],
                "instruction": turn["human"][:width],
                "answer": turn["assistant"][:width],
            }
        )
    return pd.DataFrame(rows).sort_values(["task", "language"]).reset_index(drop=True)


def overlap_table(card: dict) -> pd.DataFrame:
    """Per eval suite: items sampled, how many were seen in the training data read, and how many after removal."""
    overlap = card["quality"]["overlap"]
    return pd.DataFrame(
        {
            "eval items": overlap["eval_items"],
            "seen in training": overlap["eval_items_in_training"],
            "after removal": overlap["eval_items_in_training_after_removal"],
        }
    )


def overlap_examples(card: dict) -> pd.DataFrame:
    """Up to three items per suite that were seen in training, beside the training text that holds them."""
    examples = card["quality"]["overlap"].get("examples", {})
    return pd.DataFrame([{"suite": suite, **example} for suite, found in examples.items() for example in found])
