"""The papermill runner: parameter checks before running, manifest, skip-if-done, failures kept visible."""
from __future__ import annotations

import json

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
def test_smoke_run_writes_artifacts_and_manifest_then_skips_and_keeps_them_on_failure(tmp_path, capsys):
    outputs = tmp_path / "outputs"
    manifest = runner.run("smoke", only=["01"], run_id="t", outputs=outputs)
    entry = manifest["notebooks"]["01_curation"]
    run_dir = outputs / "t"
    assert entry["status"] == "completed" and entry["seconds"] > 0
    assert {"data/stage1.jsonl", "data/stage2.jsonl", "data/data_card.json", "data/eval/HoC.jsonl"} <= set(entry["artifacts"])
    assert all((run_dir / a).is_file() for a in entry["artifacts"])
    written = json.loads((run_dir / "manifest.json").read_text())
    assert written["params"]["01_curation"]["max_records_per_source"] == 20  # from params/smoke.yaml
    assert written["params"]["01_curation"]["tokenizer"] == "embedded:smollm2-135m"  # the notebook default
    assert {"torch", "transformers", "papermill"} <= set(written["versions"]) and written["git_revision"]

    runner.run("smoke", only=["01"], run_id="t", outputs=outputs)
    assert "already completed" in capsys.readouterr().out

    stage1 = (run_dir / "data/stage1.jsonl").read_bytes()
    broken = profile(tmp_path, {"01_curation": {"train_sources": {"no_such_source": "train"}}})
    manifest = runner.run(broken, only=["01"], run_id="t", outputs=outputs)
    entry = manifest["notebooks"]["01_curation"]
    assert entry["status"] == "failed" and "no_such_source" in entry["error"]
    executed = nbformat.read(entry["output_notebook"], as_version=4)
    assert any(o.get("ename") == "KeyError" for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert (run_dir / "data/stage1.jsonl").read_bytes() == stage1  # earlier artifacts stay
