"""The papermill runner: parameter checks before running, manifest, skip-if-done, failures kept visible."""
from __future__ import annotations

import json
import shutil

import nbformat
import pytest
import yaml

from taiyi_utils import run as runner


def profile(tmp_path, body: dict) -> str:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


@pytest.mark.parametrize("body, message", [
    ({"01_curation": {"max_tokns": 5}}, r"01_curation\.max_tokns: unknown parameter"),
    ({"01_curation": {"eval_samples": "ten"}}, r"01_curation\.eval_samples: expected int, got str"),
    ({"01_curation": {"remove_overlap": 1}}, r"01_curation\.remove_overlap: expected bool"),
    ({"01_curation": {"run_dir": "x"}}, r"01_curation\.run_dir: unknown parameter"),
    ({"01_curaton": {}}, r"unknown section\(s\) \['01_curaton'\]"),
    ({"common": {"sed": 1}}, r"common\.sed: no notebook declares"),
])
def test_bad_parameters_are_refused_before_anything_runs(tmp_path, body, message):
    with pytest.raises(runner.ParameterError, match=message):
        runner.run(profile(tmp_path, body), outputs=tmp_path / "outputs")
    assert not (tmp_path / "outputs").exists()
    assert runner.main(["--profile", profile(tmp_path, body)]) == 2


@pytest.mark.slow
def test_smoke_run_writes_artifacts_and_manifest(smoke_run):
    run_dir, manifest = smoke_run
    assert list(manifest["notebooks"]) == ["01_curation", "02_stage1_sft", "03_stage2_sft", "04_eval", "05_case_studies"]
    entry = manifest["notebooks"]["01_curation"]
    assert all(e["status"] == "completed" and e["seconds"] > 0 for e in manifest["notebooks"].values())
    assert {"data/stage1.jsonl", "data/stage2.jsonl", "data/data_card.json", "data/eval/HoC.jsonl"} <= set(entry["artifacts"])
    assert "stage1/adapter/adapter_model.safetensors" in manifest["notebooks"]["02_stage1_sft"]["artifacts"]
    assert {"cases/cases.html", "cases/base.json", "cases/stage_2.json"} <= set(manifest["notebooks"]["05_case_studies"]["artifacts"])
    assert all((run_dir / a).is_file() for e in manifest["notebooks"].values() for a in e["artifacts"])
    written = json.loads((run_dir / "manifest.json").read_text())
    assert written["params"]["01_curation"]["max_records_per_source"] == 20  # from params/smoke.yaml
    assert written["params"]["01_curation"]["tokenizer"] == "embedded:smollm2-135m"  # the notebook default
    assert {"torch", "transformers", "papermill"} <= set(written["versions"]) and written["git_revision"]


@pytest.mark.slow
def test_rerun_skips_completed_and_a_failure_keeps_earlier_artifacts(smoke_run, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    shutil.copytree(smoke_run[0], outputs / "t")
    runner.run("smoke", only=["01"], run_id="t", outputs=outputs)
    assert "already completed" in capsys.readouterr().out

    stage1 = (outputs / "t/data/stage1.jsonl").read_bytes()
    broken = profile(tmp_path, {"01_curation": {"train_sources": {"no_such_source": "train"}}})
    manifest = runner.run(broken, only=["01"], run_id="t", outputs=outputs)
    entry = manifest["notebooks"]["01_curation"]
    assert entry["status"] == "failed" and "no_such_source" in entry["error"]
    executed = nbformat.read(entry["output_notebook"], as_version=4)
    assert any(o.get("ename") == "KeyError" for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert (outputs / "t/data/stage1.jsonl").read_bytes() == stage1  # earlier artifacts stay


@pytest.mark.parametrize("name", ["smoke", "demo", "paper"])
def test_shipped_profiles_match_the_notebooks(name):
    path, raw = runner.load_profile(name)
    notebooks = {p.stem: p for p in sorted(runner.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))}
    resolved = runner.resolve(path, raw, notebooks)
    assert set(resolved) == set(notebooks) and all(resolved.values())
