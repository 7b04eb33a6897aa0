"""Training figures: loss curves (train, eval) with the learning rate, live while the Trainer runs."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from transformers import TrainerCallback


def loss_figure(history: list[dict], title: str = "Training") -> go.Figure:
    """Train / eval loss by step, learning rate on a second axis; ``history`` is Trainer log rows."""
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
