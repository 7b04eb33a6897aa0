"""Taiyi's ablation and comparisons between runs: the one-stage variant's equal token budget, paired differences
between two run folders, the refusal where their prompts or limits differ, and the flipped-items filter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from taiyi_utils import run as runner
from taiyi_utils.evaluation.compare import compare_runs
from taiyi_utils.files import read_jsonl
from taiyi_utils.viz.evaluation import export_error_html, flipped


def variant(smoke_run, tmp_path, name: str, only: list[str], **sections) -> dict:
    """The smoke run copied to ``name`` and its notebooks ``only`` run again with ``sections`` over params/smoke.yaml."""
    _, profile = runner.load_profile("smoke")
    for section, values in sections.items():
        profile[section] = {**profile.get(section, {}), **values}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(profile))
    shutil.copytree(smoke_run[0], tmp_path / "outputs" / name)
    manifest = runner.run(str(path), only=only, run_id=name, outputs=tmp_path / "outputs")
    assert all(manifest["notebooks"][s]["status"] == "completed" for s in manifest["notebooks"] if s[:2] in only)
    return manifest


@pytest.mark.slow
def test_the_one_stage_variant_trains_on_the_two_stages_tokens_and_is_compared_with_them(smoke_run, tmp_path):
    two_stages = {"two-stage": "stage2/adapter", "one-stage": "one_stage/adapter"}
    variant(smoke_run, tmp_path, "ablation", ["03", "04"], **{
        "03_stage2_sft": {"one_stage": True},
        "04_eval": {"include_base": False, "adapters": two_stages, "comparisons": [["one-stage", "two-stage"]],
                    "records_per_model": {}},
    })  # fmt: skip
    run_dir = tmp_path / "outputs" / "ablation"
    cards = [json.loads((run_dir / d / "train_card.json").read_text()) for d in ("stage1", "stage2", "one_stage")]
    budget = cards[0]["tokens_seen"] + cards[1]["tokens_seen"]
    assert cards[2]["lineage"]["token_budget"] == budget and cards[2]["lineage"]["started_from"] == "base"
    step = max(r["num_input_tokens_seen"] for r in read_jsonl(run_dir / "one_stage" / "log.jsonl") if "loss" in r)
    assert budget <= cards[2]["tokens_seen"] < budget + step  # stopped at the first step past the budget
    mixed = read_jsonl(run_dir / "one_stage" / "mixture.jsonl")
    stages = {r["conversation_id"] for s in ("stage1", "stage2") for r in read_jsonl(run_dir / "data" / f"{s}.jsonl")}
    assert len(mixed) == len(stages) and {r["conversation_id"] for r in mixed} == stages
    assert cards[1]["lineage"]["init_adapter_digest"] and cards[1]["lineage"]["init_mode"] == "continue"
    rows = json.loads((run_dir / "eval" / "comparison.json").read_text())
    suites = {p.stem for p in (run_dir / "data" / "eval").glob("*.jsonl")}
    assert {(r["a"], r["b"]) for r in rows} == {("one-stage", "two-stage")}
    assert {r["suite"] for r in rows} == suites | {"average"}


@pytest.mark.slow
def test_compare_two_runs_paired_per_suite_and_refuse_different_prompts(smoke_run, tmp_path):
    variant(smoke_run, tmp_path, "lr", ["03", "04"], **{"03_stage2_sft": {"learning_rate": 0.02}})
    run_a, run_b = smoke_run[0], tmp_path / "outputs" / "lr"
    command = [sys.executable, "-m", "taiyi_utils.evaluation", "compare", str(run_a), str(run_b)]
    printed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = compare_runs(run_a, run_b)
    assert {r["a"] for r in rows} == {"base @ smoke", "stage 1 @ smoke", "stage 2 @ smoke"}
    for row in rows:  # base and stage 1 did not change: their answers are the same, so is every difference
        if not row["a"].startswith("stage 2"):
            assert (row["diff"], row["ci_low"], row["ci_high"]) == (0.0, 0.0, 0.0)
    assert "stage 2 @ lr - stage 2 @ smoke | average" in printed and printed.count("\n") == len(rows) + 1
    itself = compare_runs(run_a, run_a)
    assert itself and all((r["diff"], r["ci_low"], r["ci_high"]) == (0.0, 0.0, 0.0) for r in itself)

    variant(smoke_run, tmp_path, "capped", ["04"], **{"04_eval": {"max_new_tokens": 2}})
    with pytest.raises(ValueError, match="different prompts or answer limits on .*BC5CDR-Chem"):
        compare_runs(run_a, tmp_path / "outputs" / "capped")
    refused = subprocess.run([*command[:-1], str(tmp_path / "outputs" / "capped")], capture_output=True, text=True)
    assert refused.returncode == 2 and "not comparable" in refused.stderr


def test_the_flipped_filter_shows_exactly_the_items_one_model_got_right(tmp_path):
    def item(model, suite, ident, **outcome):
        return {"model": model, "suite": suite, "id": ident, "record_id": ident, "errors": [], "language": "en",
                "output": "", "prompt": "p", "gold": [], "pred": [], **outcome}  # fmt: skip

    scored = [
        item("base", "QA", "1", correct=False), item("stage 2", "QA", "1", correct=True),  # gained
        item("base", "QA", "2", correct=True), item("stage 2", "QA", "2", correct=True),  # both right
        item("base", "QA", "3", correct=True), item("stage 2", "QA", "3", correct=False),  # lost
        item("base", "NER", "1", counts=(1, 0, 1)), item("stage 2", "NER", "1", counts=(2, 0, 0)),  # gained
        item("base", "NER", "2", counts=(0, 1, 0)), item("stage 2", "NER", "2", counts=(0, 2, 0)),  # both wrong
        item("stage 2", "NER", "3", counts=(1, 0, 0)),  # base never answered it
    ]  # fmt: skip
    shown = flipped(scored, "base", "stage 2")
    assert [(r["suite"], r["id"], r["model"]) for r in shown] == [
        ("QA", "1", "base"), ("QA", "1", "stage 2"), ("QA", "3", "base"), ("QA", "3", "stage 2"),
        ("NER", "1", "base"), ("NER", "1", "stage 2"),
    ]  # fmt: skip
    page = export_error_html(scored, tmp_path / "errors.html", pairs=[("base", "stage 2")]).read_text()
    assert "Flipped between base and stage 2: 3 items (2 right only for stage 2, 1 only for base)" in page


@pytest.mark.slow
def test_notebook_04_completes_with_any_set_of_models(smoke_run, tmp_path):
    """Stages only (no base model): stage 2 is compared with stage 1. The base model alone (no adapter trained
    yet, as when user suites are tried before training): nothing to compare, and the notebook says so."""
    variant(smoke_run, tmp_path, "nobase", ["04"], **{"04_eval": {"include_base": False}})
    rows = json.loads((tmp_path / "outputs" / "nobase" / "eval" / "comparison.json").read_text())
    assert {(r["a"], r["b"]) for r in rows} == {("stage 1", "stage 2")}

    _, profile = runner.load_profile("smoke")
    path = tmp_path / "base-only.yaml"
    path.write_text(yaml.safe_dump(profile))
    shutil.copytree(smoke_run[0], tmp_path / "outputs" / "base-only")
    for stage in ("stage1", "stage2"):
        shutil.rmtree(tmp_path / "outputs" / "base-only" / stage)
    manifest = runner.run(str(path), only=["04"], run_id="base-only", outputs=tmp_path / "outputs")
    assert manifest["notebooks"]["04_eval"]["status"] == "completed"
    assert json.loads((tmp_path / "outputs" / "base-only" / "eval" / "comparison.json").read_text()) == []
    executed = (tmp_path / "outputs" / "base-only" / "notebooks" / "04_eval.ipynb").read_text()
    assert "nothing to compare" in executed
