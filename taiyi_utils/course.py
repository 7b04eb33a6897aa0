"""The course, readable without running it: a run's five executed notebooks as static HTML pages with an index.

``python -m taiyi_utils.course outputs/<run-id>`` (``make course RUN=...``) writes ``outputs/<run-id>/course/``:
one page per notebook, plots drawn by one local copy of plotly.js (no kernel, no network), and each live widget
replaced by what it has instead: the error browser and the case studies by their HTML exports, progress bars by
their final text, the chat box by a note on how to start it.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path

from .files import atomic_write_text, read_json
from .run import PIPELINE

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# A widget made by one of these calls is shown as the HTML export the notebook also wrote (relative to the run).
EXPORTS = {"viz.error_browser(": "eval/error_browser.html", "chat_box(": None}
CHAT_NOTE = (
    "<p><em>The chat box needs a live kernel: <code>make lab</code>, then run notebook 05. The case answers above "
    "are its static counterpart.</em></p>"
)


def _plot_html(figure: dict) -> str:
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, config={"responsive": True})


def _export_html(run_dir: Path, course: Path, relative: str | None) -> str:
    if relative is None:
        return CHAT_NOTE
    source = run_dir / relative
    if not source.exists():
        return f"<p><em>{html.escape(relative)} was not written by this run.</em></p>"
    shutil.copyfile(source, course / source.name)
    return (
        f"<p><a href='{source.name}'>{source.name}</a> (the widget's static export)</p>"
        f"<iframe src='{source.name}' style='width:100%;height:480px;border:1px solid #ccc'></iframe>"
    )


def _widget_text(model_id: str, state: dict) -> str:
    """A widget's last state as text: a progress bar's label and counts, an HTML widget's text."""
    model = state.get(model_id, {})
    values = model.get("state", {})
    children = [c.removeprefix("IPY_MODEL_") for c in values.get("children", [])]
    if children:
        return " ".join(filter(None, (_widget_text(c, state) for c in children)))
    if model.get("model_name") == "HTMLModel":
        return html.unescape(re.sub(r"<[^>]+>", "", values.get("value", ""))).replace("\u2007", " ").strip()
    return ""


def _static_outputs(cell, state: dict, run_dir: Path, course: Path) -> None:
    """Plots become HTML drawn by the page's plotly.js; widgets become their export, else their saved text."""
    export = next((path for call, path in EXPORTS.items() if call in cell.source), False)
    outputs = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if PLOTLY_MIME in data:
            output["data"] = {"text/html": _plot_html(data[PLOTLY_MIME])}
        elif WIDGET_MIME in data:
            if export is not False:
                output["data"] = {"text/html": _export_html(run_dir, course, export)}
                export = False  # one export per cell
            else:
                text = _widget_text(data[WIDGET_MIME].get("model_id", ""), state)
                output["data"] = {"text/plain": text or data.get("text/plain", "")}
        outputs.append(output)
    cell["outputs"] = outputs


def _title(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return "notebook"


def render(run_dir: str | Path) -> Path:
    """Write ``<run_dir>/course/``: an HTML page per executed notebook and ``index.html``; returns the index."""
    import nbformat
    import plotly.offline
    from nbconvert import HTMLExporter

    run_dir = Path(run_dir)
    executed = run_dir / "notebooks"
    found = [stem for stem in PIPELINE if (executed / f"{stem}.ipynb").exists()]
    if not found:
        raise FileNotFoundError(f"{executed}: no executed notebooks; run the pipeline first (make demo)")
    course = run_dir / "course"
    course.mkdir(exist_ok=True)
    atomic_write_text(course / "plotly.min.js", plotly.offline.get_plotlyjs())
    exporter = HTMLExporter(template_name="lab")
    manifest = read_json(run_dir / "manifest.json", {"notebooks": {}})
    entries = []
    for stem in found:
        notebook = nbformat.read(executed / f"{stem}.ipynb", as_version=4)
        widgets = notebook.metadata.pop("widgets", {})
        state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
        for cell in notebook.cells:
            if cell.cell_type == "code":
                _static_outputs(cell, state, run_dir, course)
        body, _ = exporter.from_notebook_node(notebook)
        # before the template's require.js, so plotly.js defines its global instead of an AMD module
        body = body.replace("<head>", "<head><script src='plotly.min.js'></script>", 1)
        atomic_write_text(course / f"{stem}.html", body)
        entries.append((stem, _title(notebook), manifest["notebooks"].get(stem, {})))
    index = course / "index.html"
    atomic_write_text(index, _index_page(run_dir, manifest, entries))
    return index


def _index_page(run_dir: Path, manifest: dict, entries: list[tuple[str, str, dict]]) -> str:
    rows = "".join(
        f"<tr><td><a href='{stem}.html'>{html.escape(title)}</a></td><td>{html.escape(entry.get('status', '?'))}"
        f"</td><td>{entry.get('seconds', '')}</td><td>{entry.get('peak_memory_gib', '')}</td></tr>"
        for stem, title, entry in entries
    )
    profile = html.escape(str(manifest.get("profile", "?")))
    return (
        "<html><head><meta charset='utf-8'><title>Taiyi Workbench course</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.3em 1em;text-align:left}"
        "</style></head><body>"
        f"<h1>Taiyi Workbench: the course, as run in {html.escape(run_dir.name)}</h1>"
        f"<p>Profile <code>{profile}</code>, revision <code>{html.escape(str(manifest.get('git_revision', '?')))}"
        "</code>. Each page is an executed notebook: its plots, tables and the checks of its own statements against "
        "this run. Widgets are replaced by their static exports.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>kernel peak (GiB)</th></tr>"
        f"{rows}</table></body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.course", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a run folder, e.g. outputs/demo")
    args = parser.parse_args(argv)
    try:
        index = render(args.run_dir)
    except (FileNotFoundError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"course written: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
