"""The course: each notebook checks its own statements against the run, renders to static HTML, and the live
widget check fails when the chat answers nothing."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from taiyi_utils import claims, course
from taiyi_utils.files import write_json, write_jsonl
from taiyi_utils.paths import REPO_ROOT
from taiyi_utils.run import PIPELINE

CHECKS = {
    "01_curation": lambda run: claims.curation(run),
    "02_stage1_sft": lambda run: claims.stage(run, 1),
    "03_stage2_sft": lambda run: claims.stage(run, 2),
    "04_eval": lambda run: claims.evaluation(run),
    "05_case_studies": lambda run: claims.cases(run),
}


def _lab_check_module():
    spec = importlib.util.spec_from_file_location("lab_widgets", REPO_ROOT / ".ci" / "lab_widgets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("stem", PIPELINE)
def test_each_notebook_prints_the_run_own_values_for_its_claims(smoke_run, stem):
    run_dir, _ = smoke_run
    notebook = nbformat.read(run_dir / "notebooks" / f"{stem}.ipynb", as_version=4)
    [cell] = [c for c in notebook.cells if c.cell_type == "code" and "claims.report(" in c.source]
    before = notebook.cells[notebook.cells.index(cell) - 1]
    assert before.cell_type == "markdown" and "## What you should have seen" in before.source
    assert not [o for o in cell.outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    checks = CHECKS[stem](run_dir)
    assert printed.strip() == claims.report(checks).strip()
    assert printed.count("this run: ") == len(checks) >= 2


@pytest.mark.slow
def test_smoke_comparison_has_stage_two_against_stage_one(smoke_run):
    run_dir, _ = smoke_run
    rows = json.loads((run_dir / "eval" / "comparison.json").read_text())
    pairs = [r for r in rows if (r["a"], r["b"]) == ("stage 1", "stage 2")]
    assert {r["suite"] for r in pairs} >= {"average"} and len(pairs) >= 2
    assert all(r["n"] == 1 for r in pairs if r["suite"] != "average")  # the records stage 1 answered


def _stage_files(folder: Path, losses: list[float], evals: list[float], rates: dict) -> None:
    folder.mkdir(parents=True)
    write_jsonl(
        folder / "log.jsonl",
        [{"step": i + 1, "loss": v} for i, v in enumerate(losses)]
        + [{"step": i * len(losses), "eval_loss": v} for i, v in enumerate(evals)],
    )
    card = {"steps": len(losses), "seconds": 90, "tokens_seen": 1000, "device": "cpu", "precision": "bf16"}
    write_json(folder / "train_card.json", {**card, "peak_memory_gib": 2.5, "probe_format_rate": rates})


def test_stage_claims_say_when_the_run_disagrees(tmp_path):
    _stage_files(tmp_path / "stage1", [2.0, 1.8, 1.9, 2.4], [1.5, 1.6], {"base": 0.0, "stage 1": 0.0})
    checks = claims.stage(tmp_path, 1)
    assert [c.verdict for c in checks] == ["disagrees", "disagrees", "disagrees", "depends", "agrees"]
    assert "2.00 -> 2.40 over 4 steps" in checks[0].measured and "1.500 -> 1.600" in checks[1].measured
    text = claims.report(checks)
    assert text.count("✗ this run disagrees:") == 3 and "~ depends on the machine and sizes:" in text

    _stage_files(tmp_path / "ok" / "stage1", [2.0, 1.8, 1.2, 1.0], [1.5, 1.1], {"base": 0.0, "stage 1": 0.5})
    assert [c.verdict for c in claims.stage(tmp_path / "ok", 1)][:3] == ["agrees"] * 3


def test_stage_two_claims_compare_with_where_stage_one_ended(tmp_path):
    _stage_files(tmp_path / "stage1", [2.0, 1.0], [1.5, 1.2], {"base": 0.0, "stage 1": 0.5})
    (tmp_path / "stage1" / "train_card.json").write_text(json.dumps({"final_eval_loss": 1.2}))
    _stage_files(tmp_path / "stage2", [2.2, 1.5], [1.4, 1.3], {"base": 0.0, "stage 1": 0.5, "stage 2": 0.6})
    log = tmp_path / "stage2" / "log.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    rows[-2]["eval_loss_by_family"] = {"QA": 3.0, "NER": 1.0}
    rows[-1]["eval_loss_by_family"] = {"QA": 2.0, "NER": 1.1}
    write_jsonl(log, rows)
    by_claim = {c.claim.split(":")[0]: c for c in claims.stage(tmp_path, 2)}
    starts = by_claim["Stage 2 starts above where stage 1 ended"]
    assert starts.verdict == "agrees" and "ended at 1.200" in starts.measured and "starts at 1.400" in starts.measured
    families = next(c for c in by_claim.values() if c.claim.startswith("Every task family"))
    assert (
        families.verdict == "disagrees" and "QA (new) -1.000" in families.measured and "NER +0.100" in families.measured
    )


def test_comparison_claims_name_suites_below_zero_as_well_as_above(tmp_path):
    """A suite where stage 2 is significantly worse than base is said, not folded into 'not above'."""
    summaries, predictions, comparison = [], [], []
    for model in ("base", "stage 2"):
        for suite, task in (("NER-x", "ner"), ("QA-y", "qa"), ("CLS-z", "cls")):
            summaries.append({"model": model, "suite": suite, "format_rate": 0.5, "score": 0.3})
            predictions.append({"model": model, "suite": suite, "task": task, "options": ["yes", "no", "maybe"]})
    for suite, diff, low, high in (("NER-x", 0.3, 0.1, 0.5), ("QA-y", -0.2, -0.4, -0.05), ("CLS-z", 0.1, -0.1, 0.3)):
        comparison.append({"suite": suite, "a": "base", "b": "stage 2", "diff": diff, "ci_low": low, "ci_high": high})
    comparison.append({"suite": "average", "a": "base", "b": "stage 2", "diff": 0.067, "ci_low": 0.01, "ci_high": 0.12})
    write_json(tmp_path / "eval" / "metrics.json", summaries)
    write_json(tmp_path / "eval" / "comparison.json", comparison)
    write_jsonl(tmp_path / "eval" / "predictions.jsonl", predictions)
    measured = next(c for c in claims.evaluation(tmp_path) if c.claim.startswith("stage 2 against base")).measured
    assert (
        measured == "average +6.7 [+1.0, +12.0]; interval above zero on 1 of 3 suites (NER-x), below zero on 1 (QA-y)"
    )


@pytest.mark.slow
def test_course_renders_five_static_pages_and_an_index(smoke_run, tmp_path):
    run_dir, _ = smoke_run
    copy = tmp_path / "smoke"
    for part in ("notebooks", "eval", "cases"):
        shutil.copytree(run_dir / part, copy / part)
    shutil.copy(run_dir / "manifest.json", copy / "manifest.json")
    done = subprocess.run([sys.executable, "-m", "taiyi_utils.course", str(copy)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pages = sorted(p.name for p in (copy / "course").glob("*.html"))
    assert pages == sorted([f"{stem}.html" for stem in PIPELINE] + ["error_browser.html", "index.html"])
    index = (copy / "course" / "index.html").read_text()
    assert all(f"href='{stem}.html'" in index for stem in PIPELINE) and "completed" in index
    html = {stem: (copy / "course" / f"{stem}.html").read_text() for stem in PIPELINE}
    assert all(course.WIDGET_MIME not in page and "this run: " in page for page in html.values())
    assert html["01_curation"].count("Plotly.newPlot") >= 3 and "100%" in html["01_curation"]
    assert "<script src='plotly.min.js'></script>" in html["02_stage1_sft"]
    assert '<iframe src="error_browser.html"' in html["04_eval"]  # nbconvert writes attributes in double quotes
    assert "The chat box needs a live kernel" in html["05_case_studies"]
    assert (copy / "course" / "plotly.min.js").stat().st_size > 1_000_000


def test_course_refuses_a_folder_without_executed_notebooks(tmp_path):
    done = subprocess.run([sys.executable, "-m", "taiyi_utils.course", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "no executed notebooks" in done.stderr


def test_lab_check_verdict_requires_a_non_empty_answer():
    lab = _lab_check_module()
    question = f"you: {lab.QUESTION}"
    assert lab.chat_verdict(f"{question}\nstage 2: Sepsis is an infection.", "") == ""
    assert lab.chat_verdict(f"{question}\nstage 2:", "") == "the model's answer is empty"
    assert lab.chat_verdict(f"{question}\nstage 2:   ", "") == "the model's answer is empty"
    assert lab.chat_verdict("", "") == "the question never appeared in the transcript"
    assert lab.chat_verdict("", "error: out of memory") == "the chat box shows 'error: out of memory'"


def _browser_ready() -> str:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (make lab-check installs it)"
    if not Path("/usr/bin/chromium").exists():
        return "no /usr/bin/chromium (apt-get install -y chromium)"
    return ""


@pytest.mark.slow
@pytest.mark.skipif(bool(_browser_ready()), reason=_browser_ready() or "browser ready")
@pytest.mark.parametrize("answer, code", [("", 1), ("Sepsis is the body's extreme response to an infection.", 0)])
def test_lab_check_fails_when_the_chat_answers_nothing(smoke_run, tmp_path, answer, code):
    run_dir, _ = smoke_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir / "eval", copy / "eval")
    shutil.copy(run_dir / "manifest.json", copy / "manifest.json")
    script = REPO_ROOT / ".ci" / "lab_widgets.py"
    command = [sys.executable, str(script), str(copy), str(tmp_path / "shots"), "--answer-with", answer]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == code, done.stdout + done.stderr
    if code:
        assert "lab-check failed: the model's answer is empty" in done.stderr
    else:
        assert "lab-check passed" in done.stdout and (tmp_path / "shots" / "3_chat.png").stat().st_size > 0
