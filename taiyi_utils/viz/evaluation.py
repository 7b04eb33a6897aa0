"""Evaluation views: results table and chart beside the paper's numbers, confusion heatmap, error browser.

The error browser is an ipywidgets view over ``render_example``; ``export_error_html``
writes the same rendering to a static file, since executed notebooks keep no widget state.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .. import tasks
from ..evaluation.compare import clear_of_zero, default_pairs
from ..evaluation.suites import PAPER_AVERAGE, PAPER_SUITES, load_suites
from ..files import atomic_write_text

PAPER = {"taiyi": "Taiyi (paper)", "chatgpt": "ChatGPT-3.5 (paper)", "sota": "best fine-tuned (paper)"}
PATTERN = {"yes": "", "unverified": ".", "no": "/"}  # bar hatching of a published number by comparability


INTERVALS = (
    "95% intervals: accuracy, Wilson's score interval over questions; F1, a percentile bootstrap over records "
    "(1,000 resamples), Wilson's over records where the score is 0 or 100. n: records each model answered."
)


def results_table(summaries: list[dict], suites: dict | None = None) -> pd.DataFrame:
    """Suites x models (score in %, 95% CI, each model's own n) beside the paper's numbers, each with its metric
    and comparability; ``suites`` is the run's registry (default: the shipped one), so user suites join.

    Where a published number uses another metric that we also compute (KUAKE-QIC's ChatGPT
    macro-F1), ours in that metric has its own column. ``scorable`` says "no" where the answer limit
    cuts off most gold answers (no model could score well there). The last row averages the suites
    marked ``average``, ours and the paper's over the same ones; its comparability columns count the
    suites whose number is comparable. ``attrs``: ``caption`` (the interval methods), ``paper_average``
    (the paper's own 13-suite average) and ``averaged``.
    """
    suites = load_suites() if suites is None else suites
    table = pd.DataFrame(summaries)
    out = table.pivot(index="suite", columns="model", values="score").mul(100).round(1)
    models = list(out.columns)
    out = out.join(
        table.assign(ci=table.apply(lambda r: f"[{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]", axis=1))
        .pivot(index="suite", columns="model", values="ci")
        .add_suffix(" 95% CI")
    )
    out = out.join(table.pivot(index="suite", columns="model", values="records").add_suffix(" n"))
    spec = suites.get
    other_metrics = sorted(
        {
            r.metric
            for s in out.index
            if spec(s)
            for r in spec(s).reference.values()
            if r.metric != spec(s).metric and r.comparable == "yes"
        }
    )
    for metric in other_metrics:
        if metric in table:
            wide = table.pivot(index="suite", columns="model", values=metric).mul(100).round(1)
            for model in models:
                out[f"{model} {metric}"] = [
                    wide.at[s, model]
                    if any(r.metric == metric and r.comparable == "yes" for r in spec(s).reference.values())
                    else None
                    for s in out.index
                ]
    if "answer_limit" in table:
        out["scorable"] = [_scorable(table[table["suite"] == s]) for s in out.index]
    out.insert(0, "metric", [spec(s).metric if spec(s) else "" for s in out.index])
    out.insert(0, "unit", [spec(s).unit if spec(s) else "" for s in out.index])
    for key, name in PAPER.items():
        refs = [spec(s).reference.get(key) if spec(s) else None for s in out.index]
        out[name] = [r.score if r else None for r in refs]
        out[f"{name} metric"] = [r.metric if r else "" for r in refs]
        out[f"{name} comparable"] = [r.comparable if r else "" for r in refs]
    averaged = [s for s in out.index if spec(s) and spec(s).average]
    label = f"average ({len(averaged)} suites; the paper averages {PAPER_SUITES})"
    out.loc[label] = {c: round(out.loc[averaged, c].astype(float).mean(), 1) for c in [*models, *PAPER.values()]}
    for name in PAPER.values():
        flags = list(out.loc[averaged, f"{name} comparable"])
        out.loc[label, f"{name} comparable"] = f"{flags.count('yes')} of {len(averaged)} yes"
    out.attrs.update(
        caption=INTERVALS,
        paper_average={PAPER[k]: v for k, v in PAPER_AVERAGE.items()},
        averaged=averaged,
    )
    out = out.astype(object).fillna("")
    for model in models:  # the average row adds a blank, which made the counts floats
        out[f"{model} n"] = [int(v) if v != "" else "" for v in out[f"{model} n"]]
    return out


def _scorable(rows: pd.DataFrame) -> str:
    """ "yes", or "no" with how many gold answers the suite's answer limit cuts off, where that is most of them."""
    widest = rows.loc[rows["items"].idxmax()]
    over, items = int(widest.get("gold_over_limit", 0)), int(widest["items"])
    if 2 * over <= items:
        return "yes"
    return f"no: {over} of {items} gold answers are longer than the {int(widest['answer_limit'])}-token limit"


def reference_notes(suite_names: list[str], suites: dict | None = None) -> pd.DataFrame:
    """Why each published number is, or is not, comparable with ours: one row per suite and column."""
    suites = load_suites() if suites is None else suites
    return pd.DataFrame(
        [
            {
                "suite": s,
                "unit": suites[s].unit,
                "column": PAPER[key],
                "metric": ref.metric,
                "comparable": ref.comparable,
                "why": ref.why,
            }
            for s in suite_names
            if s in suites
            for key, ref in suites[s].reference.items()
        ]
    )


def comparison_bar(summaries: list[dict], suites: dict | None = None) -> go.Figure:
    """Grouped bars per suite: our models with CI error bars, and the paper's numbers hatched by comparability."""
    suites = load_suites() if suites is None else suites
    table = pd.DataFrame(summaries)
    order = list(dict.fromkeys(table["suite"]))
    fig = go.Figure()
    for model, rows in table.groupby("model", sort=False):
        rows = rows.set_index("suite").reindex(order)
        fig.add_bar(
            name=model,
            x=order,
            y=rows["score"] * 100,
            error_y=dict(
                type="data",
                symmetric=False,
                array=(rows["ci_high"] - rows["score"]) * 100,
                arrayminus=(rows["score"] - rows["ci_low"]) * 100,
            ),
        )
    for key, name in PAPER.items():
        refs = [suites[s].reference.get(key) if s in suites else None for s in order]
        fig.add_bar(
            name=name,
            x=order,
            y=[r.score if r else None for r in refs],
            opacity=0.45,
            marker_pattern_shape=[PATTERN[r.comparable] if r else "" for r in refs],
            hovertext=[f"{r.metric}, comparable: {r.comparable}. {r.why}" if r else "" for r in refs],
        )
    return fig.update_layout(
        barmode="group",
        yaxis_title="score (%)",
        height=480,
        title="Score per suite (%) with 95% intervals (Wilson / bootstrap); paper numbers hatched: "
        "/ not comparable, · unverified (hover for why)",
        legend=dict(orientation="h", y=-0.25),
    )


def difference_plot(rows: list[dict]) -> go.Figure:
    """Each pair's difference (b - a) per suite (points, percentage points) with the paired 95% interval; the
    zero line is "no effect", and an interval clear of it is a difference the slice supports."""
    fig = go.Figure()
    table = pd.DataFrame(rows, columns=["suite", "a", "b", "n", "diff", "ci_low", "ci_high"])
    for (a, b), part in table.groupby(["a", "b"], sort=False):
        fig.add_scatter(
            name=f"{b} - {a}",
            y=[f"{s} (n={n})" for s, n in zip(part["suite"], part["n"])],
            x=part["diff"] * 100,
            mode="markers",
            marker=dict(size=9, symbol=["diamond" if s == "average" else "circle" for s in part["suite"]]),
            error_x=dict(
                type="data",
                symmetric=False,
                array=(part["ci_high"] - part["diff"]) * 100,
                arrayminus=(part["diff"] - part["ci_low"]) * 100,
            ),
        )
    fig.add_vline(x=0, line_dash="dash", line_color="grey")
    return fig.update_layout(
        title="Paired differences per suite (b - a, points) with 95% bootstrap intervals"
        + ("" if len(table) else ": nothing to compare"),
        xaxis_title="difference in the suite's metric (percentage points)",
        height=140 + 28 * table["suite"].nunique(),
        yaxis=dict(autorange="reversed"),
        legend=dict(orientation="h", y=-0.2),
    )


def difference_verdict(rows: list[dict]) -> str:
    """One line per compared pair: where its interval lies above zero, below it, or spans it."""
    if not rows:
        return "nothing to compare: the evaluation scored a single model (or no two models on shared records)"
    lines = []
    for (a, b), part in pd.DataFrame(rows).groupby(["a", "b"], sort=False):
        suites = part[part["suite"] != "average"]
        above, below = clear_of_zero(part.to_dict("records"))
        average = part[part["suite"] == "average"]
        mean = (
            f"average {100 * average['diff'].iloc[0]:+.1f} points "
            f"[{100 * average['ci_low'].iloc[0]:+.1f}, {100 * average['ci_high'].iloc[0]:+.1f}]"
            if len(average)
            else "no average"
        )
        lines.append(
            f"{b} vs {a}: {mean}; above on {len(above)} of {len(suites)} suites"
            f" ({', '.join(above) or 'none'}), below on {len(below)} ({', '.join(below) or 'none'})"
        )
    return "\n".join(lines)


def ablation_table(rows: list[dict], suites: dict | None = None) -> pd.DataFrame:
    """Taiyi's ablation beside ours: per suite, the paper's one-stage and two-stage scores and their difference
    (Qwen-7B, 200 test samples per set), and our measured two-stage minus one-stage with its paired interval
    (a different scale: a small model, minutes of training, the run's own records)."""
    suites = load_suites() if suites is None else suites
    ours = {r["suite"]: r for r in rows if r["a"] == "one-stage" and r["b"] in ("two-stage", "stage 2")}
    table = []
    for name in dict.fromkeys([*ours, *(s for s in suites if suites[s].ablation)]):
        paper = suites[name].ablation if name in suites else {}
        mine = ours.get(name)
        table.append(
            {
                "suite": name,
                "paper one-stage": paper.get("one_stage"),
                "paper two-stage": paper.get("two_stage"),
                "paper difference": round(paper["two_stage"] - paper["one_stage"], 1) if paper else None,
                "ours: difference (points)": round(100 * mine["diff"], 1) if mine else None,
                "ours: 95% CI": f"[{100 * mine['ci_low']:+.1f}, {100 * mine['ci_high']:+.1f}]" if mine else "",
                "ours: n": mine["n"] if mine else None,
                "paper's row": paper.get("row", ""),
            }
        )
    frame = pd.DataFrame(table, dtype=object).set_index("suite")  # object: counts stay whole beside blanks
    return frame.where(frame.notna(), "")


def walk_through(scored: list[dict], model: str) -> pd.DataFrame:
    """One prediction of ``model`` from raw output to parsed structure, per-item score and error categories.

    Picks an item that shows the most steps: in the expected format, with a hit and an error if any has both.
    """
    mine = [r for r in scored if r["model"] == model]
    if not mine:
        raise KeyError(f"no scored items for model {model!r}")

    def shows(r):
        hits = r["counts"][0] if "counts" in r else r["correct"]
        return (r["format_ok"], bool(hits), any(e["category"] != "exact" for e in r["errors"]))

    row = max(mine, key=shows)
    if "counts" in row:
        tp, fp, fn = row["counts"]
        score = f"tp {tp}, fp {fp}, fn {fn} (summed over the suite's items before micro-F1)"
    else:
        score = f"correct: {row['correct']}"
    errors = Counter(e["category"] for e in row["errors"])
    return pd.DataFrame(
        {
            "step": [
                "suite / item",
                "prompt (last 300 characters)",
                "1. raw output",
                "2. in the expected format?",
                "3. parsed",
                "   gold",
                "4. item score",
                "5. error categories",
            ],
            "value": [
                f"{row['suite']} / {row['id']} ({row['task']})",
                row["prompt"][-300:],
                row["output"],
                row["format_ok"],
                row["pred"],
                row["gold"],
                score,
                dict(errors) or "none",
            ],
        }
    ).set_index("step")


def error_table(scored: list[dict]) -> pd.DataFrame:
    """Error counts per suite and category (rows) for each model (columns); exact matches left out."""
    errors = pd.DataFrame(
        [
            {"model": r["model"], "suite": r["suite"], "category": e["category"]}
            for r in scored
            for e in r["errors"]
            if e["category"] != "exact"
        ],
        columns=["model", "suite", "category"],
    )
    return (
        errors.value_counts()
        .rename("count")
        .reset_index()
        .pivot_table(index=["suite", "category"], columns="model", values="count", fill_value=0)
        .astype(int)
    )


def heatmap_suites(scored: list[dict], limit: int = 2) -> list[str]:
    """The first ``limit`` suites whose task gives one label or option per answer (``Task.confusion``)."""
    found = dict.fromkeys(r["suite"] for r in scored if tasks.get_task(r["task"]).confusion)
    return list(found)[:limit]


def confusion_heatmap(scored: list[dict], suite: str, model: str) -> go.Figure:
    """Gold vs predicted label (classification) or option (QA) counts for one suite and model."""
    pairs = Counter()
    for row in scored:
        if row["suite"] == suite and row["model"] == model:
            gold = row["gold"] if isinstance(row["gold"], str) else "; ".join(row["gold"])
            pred = row["pred"] if isinstance(row["pred"], str) else "; ".join(row["pred"])
            pairs[(gold, pred or "(none)")] += 1
    frame = pd.Series(pairs).unstack(fill_value=0) if pairs else pd.DataFrame()
    fig = px.imshow(
        frame,
        text_auto=True,
        color_continuous_scale="Blues",
        aspect="auto",
        labels=dict(x="predicted", y="gold", color="count"),
        title=f"{suite} · {model}: gold vs predicted",
    )
    return fig.update_layout(height=max(360, 32 * len(frame) + 140))


def _highlight(text: str, gold: list[str], pred: list[str]) -> str:
    """Text with gold-only (green), predicted-only (red) and agreed (blue) mentions marked."""
    marks = {}
    for mention in sorted(set(gold) | set(pred), key=len, reverse=True):
        colour = "#9be7ff" if mention in gold and mention in pred else "#b7f0b1" if mention in gold else "#ffb3b3"
        start = text.find(mention)
        while mention and start >= 0:
            if not any(s < start + len(mention) and start < e for s, e in marks):
                marks[(start, start + len(mention))] = colour
            start = text.find(mention, start + 1)
    out, cursor = [], 0
    for (start, end), colour in sorted(marks.items()):
        out += [
            html.escape(text[cursor:start]),
            f'<mark style="background:{colour}">{html.escape(text[start:end])}</mark>',
        ]
        cursor = end
    return "".join(out) + html.escape(text[cursor:])


def _mentions(structure) -> list[str]:
    """Mentions in an NER ([type, mention]) or RE ([relation, head, tail]) structure."""
    if not isinstance(structure, list):
        return []
    return [m for item in structure if isinstance(item, list) for m in item[1:]]


def render_example(row: dict) -> str:
    """One scored example as HTML: marked source text, gold and model answers, error list."""
    errors = (
        "".join(
            f"<li><b>{html.escape(e['category'])}</b> {html.escape(str(e.get('type', '')))}: "
            f"gold <code>{html.escape(str(e['gold']))}</code> · predicted <code>{html.escape(str(e['pred']))}</code></li>"
            for e in row["errors"]
            if e["category"] != "exact"
        )
        or "<li>no errors</li>"
    )
    text = row.get("source_text") or row["prompt"]
    return (
        f'<div style="border:1px solid #ddd;padding:8px;margin:6px 0;font-family:sans-serif">'
        f'<div style="color:#666">{html.escape(row["model"])} · {html.escape(row["suite"])} · {html.escape(row["id"])}</div>'
        f"<p>{_highlight(text, _mentions(row['gold']), _mentions(row['pred']))}</p>"
        f'<p><b>model output</b><pre style="white-space:pre-wrap">{html.escape(row["output"])}</pre></p>'
        f"<ul>{errors}</ul></div>"
    )


LEGEND = (
    '<p><mark style="background:#b7f0b1">gold only</mark> <mark style="background:#ffb3b3">predicted only</mark> '
    '<mark style="background:#9be7ff">both</mark></p>'
)


def _filtered(rows, suite="(all)", language="(all)", category="(all)", entity_type="(all)"):
    def keep(r):
        cats = {e["category"] for e in r["errors"]}
        types = {str(e.get("type", "")) for e in r["errors"]}
        return (
            (suite == "(all)" or r["suite"] == suite)
            and (language == "(all)" or r["language"] == language)
            and (category == "(all)" or category in cats)
            and (entity_type == "(all)" or entity_type in types)
        )

    return [r for r in rows if keep(r)]


def is_right(row: dict) -> bool:
    """Whether a scored item was answered fully right: correct (accuracy), or nothing spurious and nothing missed."""
    return bool(row["correct"]) if "correct" in row else row["counts"][1] == 0 and row["counts"][2] == 0


def flipped(rows: list[dict], a: str, b: str) -> list[dict]:
    """The items one of models ``a`` and ``b`` got right and the other wrong: both rows of each, ``a``'s first,
    so a significant difference can be opened and read."""
    by_item = {(r["suite"], r["id"], r["model"]): r for r in rows}
    out = []
    for row in rows:
        other = by_item.get((row["suite"], row["id"], b)) if row["model"] == a else None
        if other is not None and is_right(row) != is_right(other):
            out += [row, other]
    return out


def export_error_html(
    rows: list[dict], path: str | Path, limit_per_suite: int = 50, pairs: list[tuple[str, str]] | None = None
) -> Path:
    """The error browser's rendering of every example with an error, grouped by model and suite; then, for each
    pair of models (default: ``compare.default_pairs``), the items that flipped between them."""
    parts = [
        "<html><head><meta charset='utf-8'><title>Error browser</title></head><body>",
        "<h1>Error browser</h1>",
        LEGEND,
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        if any(e["category"] != "exact" for e in row["errors"]):
            groups.setdefault((row["model"], row["suite"]), []).append(row)
    for (model, suite), items in groups.items():
        parts.append(f"<h2>{html.escape(model)} · {html.escape(suite)} ({len(items)} with errors)</h2>")
        parts += [render_example(r) for r in items[:limit_per_suite]]
    for a, b in default_pairs(list(dict.fromkeys(r["model"] for r in rows))) if pairs is None else pairs:
        flips = flipped(rows, a, b)
        gained = sum(not is_right(x) for x in flips[::2])
        parts.append(
            f"<h2>Flipped between {html.escape(a)} and {html.escape(b)}: {len(flips) // 2} items "
            f"({gained} right only for {html.escape(b)}, {len(flips) // 2 - gained} only for {html.escape(a)})</h2>"
        )
        parts += [render_example(r) for r in flips[: 2 * limit_per_suite]]
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))


def error_browser(rows: list[dict]):
    """Filter by suite, language, error category and entity type, or to the items that flipped between two
    models; step through examples."""
    import ipywidgets as w

    options = lambda key: ["(all)", *sorted({str(r[key]) for r in rows})]  # noqa: E731
    categories = ["(all)", *sorted({e["category"] for r in rows for e in r["errors"]})]
    types = ["(all)", *sorted({str(e.get("type", "")) for r in rows for e in r["errors"] if e.get("type")})]
    suite, language = (
        w.Dropdown(options=options("suite"), description="suite"),
        w.Dropdown(options=options("language"), description="language"),
    )
    category, entity = (
        w.Dropdown(options=categories, description="error"),
        w.Dropdown(options=types, description="type"),
    )
    models = list(dict.fromkeys(r["model"] for r in rows))
    pair = w.Dropdown(
        options=[("(all items)", None)] + [(f"flipped: {a} / {b}", (a, b)) for a, b in default_pairs(models)],
        description="show",
    )
    index = w.BoundedIntText(min=0, max=0, description="example")
    prev_b, next_b = w.Button(description="◀ previous"), w.Button(description="next ▶")
    view, count = w.HTML(), w.Label()

    def refresh(*_):
        chosen = flipped(rows, *pair.value) if pair.value else rows
        shown = _filtered(chosen, suite.value, language.value, category.value, entity.value)
        index.max = max(len(shown) - 1, 0)
        count.value = f"{len(shown)} examples"
        view.value = LEGEND + (render_example(shown[index.value]) if shown else "<p>nothing matches</p>")

    for control in (suite, language, category, entity, pair, index):
        control.observe(refresh, names="value")
    prev_b.on_click(lambda _: setattr(index, "value", max(index.value - 1, 0)))
    next_b.on_click(lambda _: setattr(index, "value", min(index.value + 1, index.max)))
    refresh()
    return w.VBox(
        [w.HBox([suite, language]), w.HBox([category, entity]), pair, w.HBox([prev_b, index, next_b, count]), view]
    )
