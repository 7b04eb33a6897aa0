"""Run the numbered notebooks for a profile: ``python -m taiyi_utils.run --profile NAME``.

Each notebook is executed by papermill with its section of ``params/NAME.yaml`` into
``outputs/<run-id>/notebooks/``. ``manifest.json`` records the profile, resolved
parameters, package versions, seed, git revision and, per notebook, status, times and
the artifacts it wrote. Notebooks completed with the same parameters are skipped, so
an interrupted run continues where it stopped. Parameters are checked against each
notebook's ``parameters`` cell before anything runs.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import papermill as pm
import yaml

from .files import read_json, write_json
from .paths import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PARAMS_DIR = REPO_ROOT / "params"
OUTPUTS_DIR = REPO_ROOT / "outputs"
PIPELINE = ("01_curation", "02_stage1_sft", "03_stage2_sft", "04_eval", "05_case_studies")
INJECTED = ("profile", "run_dir")  # set by the runner, declared by every notebook
PACKAGES = ("torch", "transformers", "peft", "accelerate", "datasets", "bitsandbytes", "papermill", "plotly",
            "taiyi-workbench")
_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}


class ParameterError(ValueError):
    """A profile names a parameter a notebook does not declare, or gives it the wrong type."""


def load_profile(profile: str) -> tuple[Path, dict]:
    path = Path(profile) if profile.endswith((".yaml", ".yml")) else PARAMS_DIR / f"{profile}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PARAMS_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no profile {path}; known profiles: {known}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected one mapping per notebook section")
    return path, data


def _default(source: str):
    """A notebook default as a value (its source text when it is not a literal)."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source


def _declared_type(spec: dict, default) -> str:
    """The annotation papermill found, else the type of the default literal (None: any)."""
    if spec["inferred_type_name"] not in ("None", None):
        return spec["inferred_type_name"]
    return "None" if default is None else type(default).__name__


def _type_ok(value, declared: str) -> bool:
    if declared not in _TYPES:  # None or unknown default: any value goes
        return True
    if isinstance(value, bool) and declared != "bool":
        return False
    return isinstance(value, _TYPES[declared])


def resolve(path: Path, profile: dict, notebooks: dict[str, Path]) -> dict[str, dict]:
    """Parameters per existing notebook; unknown sections, keys or ill-typed values raise, naming them."""
    common = profile.get("common", {}) or {}
    unknown_sections = [s for s in profile if s != "common" and s not in PIPELINE]
    if unknown_sections:
        raise ParameterError(f"{path}: unknown section(s) {unknown_sections}; sections are common, {', '.join(PIPELINE)}")
    resolved, declared_anywhere = {}, set()
    for stem, notebook in notebooks.items():
        specs = pm.inspect_notebook(str(notebook))
        defaults = {name: _default(spec["default"]) for name, spec in specs.items()}
        declared = {name: _declared_type(spec, defaults[name]) for name, spec in specs.items()}
        declared_anywhere |= declared.keys()
        section = profile.get(stem) or {}
        params = {k: v for k, v in defaults.items() if k not in INJECTED}
        params.update({k: v for k, v in common.items() if k in declared})
        for key, value in section.items():
            if key not in declared or key in INJECTED:
                raise ParameterError(f"{path}: {stem}.{key}: unknown parameter; {stem} declares "
                                     f"{', '.join(k for k in declared if k not in INJECTED)}")
            params[key] = value
        for key, value in params.items():
            if not _type_ok(value, declared[key]):
                raise ParameterError(f"{path}: {stem}.{key}: expected {declared[key]}, got {type(value).__name__} {value!r}")
        resolved[stem] = params
    stray = [k for k in common if k not in declared_anywhere]
    if stray:
        raise ParameterError(f"{path}: common.{stray[0]}: no notebook declares this parameter")
    return resolved


def _git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _files(run_dir: Path) -> dict[str, float]:
    return {str(p.relative_to(run_dir)): p.stat().st_mtime for p in run_dir.rglob("*")
            if p.is_file() and p.parts[len(run_dir.parts)] != "notebooks" and p.name != "manifest.json"
            and not p.name.startswith(".")}


def run(profile: str, only: list[str] | None = None, run_id: str | None = None, force: bool = False,
        outputs: Path = OUTPUTS_DIR) -> dict:
    """Execute the profile's notebooks in order; returns the manifest (also written to the run folder)."""
    path, raw = load_profile(profile)
    notebooks = {p.stem: p for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")) if p.stem in PIPELINE}
    params = resolve(path, raw, notebooks)  # validate everything before running anything
    selected = [s for s in notebooks if not only or any(s.startswith(o) for o in only)]
    if only and not selected:
        raise ParameterError(f"--only {only} matches no notebook; have {', '.join(notebooks)}")
    run_dir = (outputs / (run_id or path.stem)).resolve()
    manifest_path = run_dir / "manifest.json"
    manifest = read_json(manifest_path, {"notebooks": {}})
    manifest.update(profile=path.stem, profile_path=str(path), run_id=run_dir.name, params=params,
                    seed=raw.get("common", {}).get("seed", params.get("01_curation", {}).get("seed")),
                    versions=_versions(), git_revision=_git_revision())
    manifest.setdefault("created", _now())
    rerun_rest = force
    for stem in selected:
        entry = manifest["notebooks"].get(stem, {})
        digest = _digest(params[stem])
        if not rerun_rest and entry.get("status") == "completed" and entry.get("params_digest") == digest:
            print(f"[{stem}] already completed for run {run_dir.name}; skipping")
            continue
        rerun_rest = True  # later notebooks depend on this one's outputs
        before = _files(run_dir) if run_dir.exists() else {}
        output = run_dir / "notebooks" / f"{stem}.ipynb"
        output.parent.mkdir(parents=True, exist_ok=True)
        entry = {"status": "running", "started": _now(), "params_digest": digest, "output_notebook": str(output)}
        manifest["notebooks"][stem] = entry
        write_json(manifest_path, manifest)
        print(f"[{stem}] running -> {output}")
        start = time.monotonic()
        try:
            pm.execute_notebook(str(notebooks[stem]), str(output), cwd=str(REPO_ROOT), progress_bar=True,
                                parameters={**params[stem], "profile": path.stem, "run_dir": str(run_dir)})
            entry["status"] = "completed"
        except pm.PapermillExecutionError as err:
            entry.update(status="failed", error=str(err).strip().splitlines()[-1])
        except KeyboardInterrupt:
            entry.update(status="interrupted", error="interrupted by the user; run again to continue")
        finally:
            after = _files(run_dir)
            entry.update(finished=_now(), seconds=round(time.monotonic() - start, 1),
                         artifacts=sorted(f for f, t in after.items() if before.get(f) != t))
            write_json(manifest_path, manifest)
        if entry["status"] != "completed":
            print(f"[{stem}] {entry['status']}: {entry['error']}\n  see the executed notebook: {output}", file=sys.stderr)
            break
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, help="name in params/ (smoke, demo, paper) or a YAML path")
    parser.add_argument("--only", action="append", help="run only notebooks starting with this (e.g. 01); repeatable")
    parser.add_argument("--run-id", help="output folder under outputs/ (default: the profile name)")
    parser.add_argument("--force", action="store_true", help="re-run notebooks even if already completed")
    args = parser.parse_args(argv)
    try:
        manifest = run(args.profile, args.only, args.run_id, args.force)
    except (ParameterError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [s for s, e in manifest["notebooks"].items() if e["status"] != "completed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
