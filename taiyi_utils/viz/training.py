"""Training views: loss curves (train, eval) with the learning rate, live while the Trainer runs; what one
example teaches (its loss mask), what one padding-free batch looks like, and how small the adapter is."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from transformers import TrainerCallback

from ..chat import IGNORE


def loss_figure(history: list[dict], title: str = "Training") -> go.Figure:
    """Train / eval loss by step, the eval loss of each source dataset (thin, dotted: which corpus the stage
    learns, which it forgets), learning rate on a second axis; ``history`` is Trainer log rows."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for key, name, dash in (("loss", "train loss", None), ("eval_loss", "eval loss", "dot")):
        rows = [r for r in history if key in r]
        fig.add_trace(
            go.Scatter(
                x=[r["step"] for r in rows],
                y=[r[key] for r in rows],
                name=name,
                mode="lines+markers",
                line=dict(dash=dash),
            ),
            secondary_y=False,
        )
    for source in sorted({s for r in history for s in r.get("eval_loss_by_source", {})}):
        rows = [r for r in history if source in r.get("eval_loss_by_source", {})]
        fig.add_trace(
            go.Scatter(
                x=[r["step"] for r in rows],
                y=[r["eval_loss_by_source"][source] for r in rows],
                name=f"eval: {source}",
                mode="lines+markers",
                line=dict(width=1, dash="dot"),
                marker=dict(size=4),
                legendgroup="by source",
            ),
            secondary_y=False,
        )
    rows = [r for r in history if "learning_rate" in r]
    fig.add_trace(
        go.Scatter(
            x=[r["step"] for r in rows],
            y=[r["learning_rate"] for r in rows],
            name="learning rate",
            line=dict(color="grey", width=1),
        ),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="loss", secondary_y=False)
    fig.update_yaxes(title_text="learning rate", secondary_y=True, showgrid=False)
    return fig.update_layout(title=title, xaxis_title="step", height=380, margin=dict(t=50, b=40))


class LiveLossPlot(TrainerCallback):
    """Redraws the loss figure in the notebook after every log; the last state stays in the saved notebook."""

    def __init__(self, title: str = "Training"):
        self.title, self.handle = title, None

    def on_log(self, args, state, control, logs=None, **kwargs):
        from IPython.display import display

        if not state.is_world_process_zero:
            return
        history = [{**row, "step": row.get("step", 0)} for row in state.log_history]
        fig = loss_figure(history, self.title)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)


def loss_mask_html(example: dict, tokenizer, limit: int = 600) -> str:
    """One tokenised training example, token by token: tokens in the loss (the answer) green, the rest grey."""
    ids, labels = example["input_ids"][:limit], example["labels"][:limit]
    spans = "".join(
        f'<span style="{"background:#c9f2c7" if label != IGNORE else "color:#888"}">{html.escape(tokenizer.decode([t]))}</span>'
        for t, label in zip(ids, labels)
    )
    learned = sum(label != IGNORE for label in example["labels"])
    cut = f" (first {limit} shown)" if len(example["input_ids"]) > limit else ""
    return (
        f"<p>{len(example['input_ids'])} tokens{cut}; <b>{learned}</b> are learned (green: the loss covers them), "
        f"{len(example['input_ids']) - learned} are context only (grey).</p>"
        f'<pre style="white-space:pre-wrap;font-size:12px">{spans}</pre>'
    )


def first_batch(run, examples: int = 3) -> tuple[pd.DataFrame, go.Figure]:
    """The Trainer's collator on the first ``examples`` training examples: per example where it sits in the
    batch, and a figure of position ids along the batch (padding-free: one row, restarting at 0 per example)."""
    batch = run.trainer.data_collator([run.trainer.train_dataset[i] for i in range(examples)])
    ids, labels = batch["input_ids"], batch["labels"]
    if "position_ids" in batch:
        positions = batch["position_ids"]
    else:  # padded rows: positions count the real tokens
        positions = batch["attention_mask"].cumsum(-1) - 1
    real = batch.get("attention_mask")
    rows = []
    for r in range(ids.shape[0]):
        starts = (positions[r] == 0).nonzero().flatten().tolist()
        for c, end in zip(starts, [*starts[1:], ids.shape[1]]):
            tokens = int(real[r, c:end].sum()) if real is not None else end - c
            learned = int((labels[r, c:end] != IGNORE).sum())
            rows.append({"example": len(rows), "row": r, "starts at column": c, "tokens": tokens, "learned": learned})
    table = pd.DataFrame(rows)
    fig = go.Figure()
    for r in range(ids.shape[0]):
        learned = labels[r] != IGNORE
        fig.add_scatter(
            y=positions[r].tolist(),
            mode="markers",
            marker=dict(size=3, color=["#2a9d3f" if x else "#999" for x in learned.tolist()]),
            name=f"row {r}",
        )
    fig.update_layout(
        title=f"One batch of {examples} examples, {ids.shape[0]} row(s) x {ids.shape[1]} tokens: position ids "
        "(green: learned tokens)",
        xaxis_title="column in the batch",
        yaxis_title="position id",
        height=300,
        showlegend=ids.shape[0] > 1,
    )
    return table, fig


def adapter_size(model) -> pd.Series:
    """Trainable (adapter) parameters against the frozen base: what LoRA trains, and what a stage saves."""
    trainable, total = model.get_nb_trainable_parameters()
    return pd.Series(
        {
            "adapter parameters": f"{trainable:,}",
            "base parameters": f"{total - trainable:,}",
            "adapter share of all": f"{100 * trainable / total:.1f}%",
            "adapter file (fp32)": f"{trainable * 4 / 1e6:.1f} MB",
        },
        name="LoRA",
    )


def lineage_table(cards: dict[str, dict]) -> pd.DataFrame:
    """Per trained model (train cards by label): what it started from, how it builds on it, what and how much it
    trained on: the stage lineage, and the equal token budget of Taiyi's one-stage ablation."""
    rows = {}
    for label, card in cards.items():
        lineage = card.get("lineage", {})
        mixture = lineage.get("mixture", {})
        start = lineage.get("started_from", "")
        if lineage.get("init_adapter"):
            start = f"{start} ({lineage['init_mode']}; {lineage['init_adapter_digest']})"
        rows[label] = {
            "started from": start,
            "mixture pairs": mixture.get("pairs"),
            "families": ", ".join(f"{k} {v}" for k, v in mixture.get("by_family", {}).items()),
            "steps": card.get("steps"),
            "tokens trained on": card.get("tokens_seen"),
            "token budget": lineage.get("token_budget") or "",
            "first / last loss": f"{card.get('first_loss', 0):.2f} / {card.get('last_loss', 0):.2f}",
        }
    return pd.DataFrame(rows).T


CARD_FIELDS = ("steps", "tokens_seen", "seconds", "tokens_per_second", "peak_memory_gib", "trainable_parameters",
               "first_loss", "last_loss", "final_eval_loss", "resumed_from")  # fmt: skip


def card_summary(card: dict) -> pd.Series:
    """The train card's headline numbers: what the stage cost and where its losses went."""
    return pd.Series({k: card.get(k) for k in CARD_FIELDS}, name="train card")


def probe_table(rows: list[dict]) -> pd.DataFrame:
    """Probe answers side by side: one row per probe (suite, expected answer), one column per model."""
    table = pd.DataFrame(rows).pivot_table(
        index=["suite", "prompt", "expected"], columns="model", values="output", aggfunc="first", sort=False
    )
    return table.reset_index().drop(columns="prompt")
