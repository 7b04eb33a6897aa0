"""The papermill runner: parameter checks before running, manifest, skip-if-done, failures kept visible."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil

import nbformat
import pytest
import yaml

from taiyi_utils import manifest as manifests
from taiyi_utils import run as runner


def profile(tmp_path, body: dict) -> str:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"01_curation": {"max_tokns": 5}}, r"01_curation\.max_tokns: unknown parameter"),
        ({"01_curation": {"eval_samples": "ten"}}, r"01_curation\.eval_samples: expected int, got str"),
        ({"01_curation": {"remove_overlap": 1}}, r"01_curation\.remove_overlap: expected bool"),
        ({"01_curation": {"run_dir": "x"}}, r"01_curation\.run_dir: unknown parameter"),
        ({"01_curaton": {}}, r"unknown section\(s\) \['01_curaton'\]"),
        ({"common": {"sed": 1}}, r"common\.sed: no notebook declares"),
        ({"02_stage1_sft": {"epochs": -1.0, "max_steps": -1}}, r"02_stage1_sft\.epochs: -1\.0 trains nothing"),
        ({"02_stage1_sft": {"learning_rate": -0.001}}, r"02_stage1_sft\.learning_rate: -0\.001 must be a positive"),
        ({"03_stage2_sft": {"learning_rate": float("nan")}}, r"03_stage2_sft\.learning_rate: nan must be a positive"),
        ({"03_stage2_sft": {"batch_size": 0}}, r"03_stage2_sft\.batch_size: 0 must be an integer >= 1"),
        ({"02_stage1_sft": {"weight_decay": float("nan")}}, r"02_stage1_sft\.weight_decay: nan must be in \[0, 1\]"),
        ({"02_stage1_sft": {"weight_decay": -1}}, r"02_stage1_sft\.weight_decay: -1 must be in \[0, 1\]"),
        ({"02_stage1_sft": {"learning_rate": 1e30}}, r"02_stage1_sft\.learning_rate: 1e\+30 must be a positive"),
        ({"02_stage1_sft": {"max_length": 1}}, r"02_stage1_sft\.max_length: 1 must be >= 16"),
        ({"02_stage1_sft": {"eval_max": -5}}, r"02_stage1_sft\.eval_max: -5 must be an integer >= 0"),
        ({"02_stage1_sft": {"max_examples": 0}}, r"02_stage1_sft\.max_examples: 0 must be >= 1 or -1"),
        ({"01_curation": {"holdout": {"cmeee": -3}}}, r"01_curation\.holdout: .* whole number of held-out records"),
        ({"01_curation": {"holdout": {"cmeee": "3"}}}, r"01_curation\.holdout: .* whole number of held-out records"),
        ({"04_eval": {"records_per_model": {"stage 3": 1}}}, r"04_eval\.records_per_model: .* not a model here"),
        ({"04_eval": {"adapters": {"/abs/x": "a"}}}, r"04_eval\.adapters: model label '/abs/x' is not a plain name"),
        ({"04_eval": {"backend": "vllm"}}, r"04_eval\.backend: 'vllm' needs vLLM and a CUDA GPU"),
        ({"05_case_studies": {"max_new_tokens": 10**9}}, r"05_case_studies\.max_new_tokens: 1000000000 must be <="),
    ],
)
def test_bad_parameters_are_refused_before_anything_runs(tmp_path, body, message):
    with pytest.raises(runner.ParameterError, match=message):
        runner.run(profile(tmp_path, body), outputs=tmp_path / "outputs")
    assert not (tmp_path / "outputs").exists()
    assert runner.main(["--profile", profile(tmp_path, body)]) == 2


@pytest.mark.slow
def test_smoke_run_writes_artifacts_and_manifest(smoke_run):
    run_dir, manifest = smoke_run
    assert list(manifest["notebooks"]) == [
        "01_curation",
        "02_stage1_sft",
        "03_stage2_sft",
        "04_eval",
        "05_case_studies",
    ]
    entry = manifest["notebooks"]["01_curation"]
    assert all(e["status"] == "completed" and e["seconds"] > 0 for e in manifest["notebooks"].values())
    assert {"data/stage1.jsonl", "data/stage2.jsonl", "data/data_card.json", "data/eval/HoC.jsonl"} <= set(
        entry["artifacts"]
    )
    assert "stage1/adapter/adapter_model.safetensors" in manifest["notebooks"]["02_stage1_sft"]["artifacts"]
    assert {"cases/cases.html", "cases/base.json", "cases/stage_2.json"} <= set(
        manifest["notebooks"]["05_case_studies"]["artifacts"]
    )
    assert all((run_dir / a).is_file() for e in manifest["notebooks"].values() for a in e["artifacts"])
    written = json.loads((run_dir / "manifest.json").read_text())
    assert written["params"]["01_curation"]["max_records_per_source"] == 20  # from params/smoke.yaml
    assert written["params"]["01_curation"]["base_model"] == "tiny:llama"  # common: in params/smoke.yaml
    assert written["params"]["02_stage1_sft"]["lora_r"] == 64  # the owner's default, recorded in full
    assert "cpu-constraints.txt sha256" in written["versions"]
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


@pytest.mark.parametrize("name", ["smoke", "demo", "paper", "ablation"])
def test_shipped_profiles_match_the_notebooks(name):
    path, raw = runner.load_profile(name)
    notebooks = {p.stem: p for p in sorted(runner.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))}
    resolved = runner.resolve_params(path, raw, notebooks)
    assert set(resolved) == set(notebooks) and all(resolved.values())


@pytest.mark.parametrize("run_id", ["..", "../../x", "/tmp/elsewhere", "a/b", ".hidden"])
def test_run_ids_that_are_not_plain_names_are_refused_before_anything_runs(tmp_path, run_id):
    with pytest.raises(runner.ParameterError, match="is not a plain name"):
        runner.run("smoke", run_id=run_id, outputs=tmp_path / "outputs")
    assert not (tmp_path / "outputs").exists()


def test_a_second_runner_on_a_locked_run_folder_refuses_naming_the_holder(tmp_path):
    run_dir = tmp_path / "outputs" / "busy"
    run_dir.mkdir(parents=True)
    with runner._Lock(run_dir):
        with pytest.raises(runner.RunError, match=rf"in use by another runner \(pid {__import__('os').getpid()}\)"):
            runner.run("smoke", run_id="busy", outputs=tmp_path / "outputs")
    assert not (run_dir / "manifest.json").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("01_curation: {eval_samples: [1, 2\n", r"profile.yaml: line 2, column 1: invalid YAML"),
        ("01_curation: 5\n", r"01_curation: expected a mapping of parameters, got int"),
    ],
)
def test_broken_profiles_say_what_and_where(tmp_path, text, message):
    (tmp_path / "profile.yaml").write_text(text)
    with pytest.raises(runner.ParameterError, match=message):
        runner.run(str(tmp_path / "profile.yaml"), outputs=tmp_path / "outputs")


def test_an_empty_common_section_is_no_section(tmp_path):
    (tmp_path / "profile.yaml").write_text("common:\n01_curation: {eval_samples: 3}\n")
    path, raw = runner.load_profile(str(tmp_path / "profile.yaml"))
    assert raw["common"] == {} and runner.resolve_params(path, raw, {}) == {}


def notebook_failure(tmp_path, monkeypatch, error):
    def execute(*args, **kwargs):
        raise error

    monkeypatch.setattr(runner.pm, "execute_notebook", execute)
    return runner.run("smoke", only=["01"], run_id="r", outputs=tmp_path / "outputs")


def test_a_dead_kernel_ends_the_notebook_failed_with_the_reason(tmp_path, monkeypatch, capsys):
    from nbclient.exceptions import DeadKernelError

    manifest = notebook_failure(tmp_path, monkeypatch, DeadKernelError("Kernel died"))
    entry = manifest["notebooks"]["01_curation"]
    assert entry["status"] == "failed" and "kernel died" in entry["error"]
    written = json.loads((tmp_path / "outputs" / "r" / "manifest.json").read_text())
    assert written["notebooks"]["01_curation"]["status"] == "failed" and "kernel died" in capsys.readouterr().out


def test_an_unwritable_manifest_ends_failed_on_the_terminal(tmp_path, monkeypatch, capsys):
    def full_disk(path, obj):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "write_json", full_disk)
    manifest = notebook_failure(tmp_path, monkeypatch, AssertionError("not reached"))
    entry = manifest["notebooks"]["01_curation"]
    assert entry["status"] == "failed" and "No space left on device" in entry["error"]
    assert "No space left on device" in capsys.readouterr().out


@pytest.mark.slow
def test_a_rerun_notices_changed_code_and_marks_later_notebooks_stale(smoke_run, tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs"
    shutil.copytree(smoke_run[0], outputs / "t")
    monkeypatch.setattr(manifests, "code_digest", lambda: "a-code-fix")
    manifest = runner.run("smoke", only=["01"], run_id="t", outputs=outputs)
    printed = capsys.readouterr().out
    assert "01_curation: running (changed: the package code)" in printed and "01_curation: completed in" in printed
    assert [manifest["notebooks"][s]["status"] for s in runner.PIPELINE] == ["completed"] + ["stale"] * 4
    entry = manifest["notebooks"]["02_stage1_sft"]
    assert manifests.why_rerun(entry, {}, {}) == "an earlier notebook ran again"
    line, ok = runner.summary(manifest)  # what was asked completed: exit 0, and the summary says what is stale
    assert ok and line.startswith("summary: 1 completed; now stale") and "02_stage1_sft, 03_stage2_sft" in line


@pytest.mark.slow
def test_a_notebook_whose_outputs_are_gone_or_whose_corpus_changed_runs_again(smoke_run, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    shutil.copytree(smoke_run[0], outputs / "t")
    manifest = runner.run("smoke", only=["02"], run_id="t", outputs=outputs)
    assert manifest["invocation"]["outcome"] == {"02_stage1_sft": "skipped"} and runner.summary(manifest)[1]
    shutil.rmtree(outputs / "t" / "stage1" / "adapter")
    capsys.readouterr()
    runner.run("smoke", only=["02"], run_id="t", outputs=outputs)
    assert "02_stage1_sft: running (its outputs are missing (stage1/adapter/" in capsys.readouterr().out

    mine = tmp_path / "sources.yaml"
    mine.write_text("pubmedqa_mine:\n  format: pubmedqa\n  files: {test: PubMedQA/test_set.json}\n  language: en\n"
                    "  tasks: [qa]\n")  # fmt: skip
    user = profile(tmp_path, {**runner.load_profile("smoke")[1], "01_curation": {
        **runner.load_profile("smoke")[1]["01_curation"], "sources_files": [str(mine)]}})  # fmt: skip
    runner.run(user, only=["01"], run_id="t", outputs=outputs)
    mine.write_text(mine.read_text().replace("language: en", "language: en\n  family: QA"))  # an edit, same path
    capsys.readouterr()
    runner.run(user, only=["01"], run_id="t", outputs=outputs)
    assert "01_curation: running (changed: its registry files or the corpus)" in capsys.readouterr().out


def test_atomic_writes_keep_the_users_usual_permissions(tmp_path):
    import os

    from taiyi_utils.files import write_json

    mask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "card.json", {"a": 1})
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644 and json.loads(path.read_text()) == {"a": 1}


def test_every_owner_setting_can_be_set_from_a_profile(tmp_path):
    from taiyi_utils import settings

    body = {
        "04_eval": {"quantization": "none", "trust_remote_code": True},
        "02_stage1_sft": {"weight_decay": 0.1, "save_total_limit": 3, "eval_fraction": 0.1, "lora_target": "q_proj"},
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(body))
    notebooks = {p.stem: p for p in sorted(runner.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))}
    resolved = runner.resolve_params(path, runner.load_profile(str(path))[1], notebooks)
    assert resolved["04_eval"]["trust_remote_code"] is True and resolved["02_stage1_sft"]["weight_decay"] == 0.1
    for stem in settings.OWNERS:
        assert set(settings.defaults(stem)) <= set(resolved[stem])


def test_a_hand_edited_upstream_file_invalidates_the_notebooks_that_read_it(tmp_path):
    run_dir = tmp_path / "r"
    (run_dir / "data").mkdir(parents=True)
    (run_dir / "data" / "stage1.jsonl").write_text('{"a": 1}\n')
    manifest = {"notebooks": {"01_curation": {"status": "completed", "artifacts": ["data/stage1.jsonl"]}}}
    notebook = runner.NOTEBOOK_DIR / "02_stage1_sft.ipynb"
    before = manifests.notebook_inputs(
        "02_stage1_sft", {"x": 1}, notebook, "code", manifest, manifests.run_files(run_dir)
    )
    entry = {"status": "completed", "inputs": before}
    assert manifests.why_rerun(entry, before, {}) == ""
    data = run_dir / "data" / "stage1.jsonl"
    stat = data.stat()
    data.write_text('{"a": 9}\n')  # other bytes, the same size and (set back) modification time
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = manifests.notebook_inputs(
        "02_stage1_sft", {"x": 1}, notebook, "code", manifest, manifests.run_files(run_dir)
    )
    assert manifests.why_rerun(entry, after, {}) == "changed: what earlier notebooks wrote"
    other = manifests.notebook_inputs(
        "02_stage1_sft", {"x": 2}, notebook, "code", manifest, manifests.run_files(run_dir)
    )
    assert manifests.why_rerun({"status": "completed", "inputs": after}, other, {}) == "changed: its parameters"


def test_a_notebook_run_by_hand_writes_under_the_repositorys_outputs(tmp_path):
    """JupyterLab runs a notebook in notebooks/; its relative run_dir must still mean <repository>/outputs/..."""
    from taiyi_utils.paths import REPO_ROOT, run_folder

    assert run_folder("outputs/lab") == REPO_ROOT / "outputs" / "lab"
    assert run_folder(tmp_path / "r") == tmp_path / "r"  # the runner's absolute run folders stay as they are
    for stem in runner.PIPELINE:
        cells = [c["source"] for c in json.loads((runner.NOTEBOOK_DIR / f"{stem}.ipynb").read_text())["cells"]]
        setup = next(c for c in cells if "resolve(" in "".join(c))
        assert "run_dir = run_folder(run_dir)" in "".join(setup), stem


def test_paper_stage_one_resolves_to_five_epochs_by_the_runner_by_hand_and_by_the_train_command(tmp_path):
    """Taiyi's stage 1 is 5 epochs: the runner, the notebook's own setup cell (profiles.resolve, as run by hand)
    and ``taiyi_utils.train --profile paper --stage 1`` resolve the same settings; stage 2 keeps 3."""
    from taiyi_utils import profiles, train

    notebooks = {stem: runner.NOTEBOOK_DIR / f"{stem}.ipynb" for stem in ("02_stage1_sft", "03_stage2_sft")}
    by_runner = runner.resolve_params(*runner.load_profile("paper"), notebooks)
    assert by_runner["02_stage1_sft"]["epochs"] == 5.0 and by_runner["03_stage2_sft"]["epochs"] == 3.0
    by_hand = profiles.resolve("02_stage1_sft", "paper", {"profile": "paper", "run_dir": "outputs/lab"})
    seen = {}
    original = train.train
    try:
        train.train = lambda c, callbacks=(): seen.setdefault("config", c) and {}
        assert train.main(["--profile", "paper", "--stage", "1", "--run-dir", str(tmp_path)]) == 0
    finally:
        train.train = original
    by_command = seen["config"]
    for config in (by_hand, by_command):
        assert type(config).__name__ == "StageOneConfig" and config.epochs == 5.0
        assert {k: v for k, v in dataclasses.asdict(config).items() if k not in ("data", "output_dir")} == {
            k: v for k, v in by_runner["02_stage1_sft"].items() if k not in ("data", "output_dir")
        }
    assert by_command.data == str(tmp_path / "data" / "stage1.jsonl")
    override = profiles.resolve("02_stage1_sft", "paper", {"learning_rate": 1e-4, "seed": 3})
    assert (override.learning_rate, override.seed, override.epochs) == (1e-4, 3, 5.0)  # by hand wins


@pytest.mark.parametrize("stem", runner.PIPELINE)
def test_parameters_cells_declare_only_the_profile_and_the_run_folder(stem, caplog):
    """One source for every value: a parameters cell names the profile and the run folder; the setup cell
    resolves the rest from the profile (by hand as under the runner), so the demo's values live only in
    params/demo.yaml over settings.py."""
    with caplog.at_level(logging.WARNING, logger="papermill"):
        specs = runner.pm.inspect_notebook(str(runner.NOTEBOOK_DIR / f"{stem}.ipynb"))
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # e.g. "Unable to parse line 11 ..."
    assert {name: spec["default"] for name, spec in specs.items()} == {"profile": '"demo"', "run_dir": '"outputs/lab"'}
    notebook = nbformat.read(runner.NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    assert f'resolve("{stem}", profile, globals()' in "".join(c.source for c in notebook.cells)
