"""Run the numbered notebooks for a profile: ``python -m taiyi_utils.run --profile NAME``.

Each notebook is executed by papermill with its section of ``params/NAME.yaml`` into
``outputs/<run-id>/notebooks/``. ``manifest.json`` records the profile, resolved
parameters, package versions, seed, git revision and, per notebook, status, times and
the artifacts it wrote. Parameters are checked against each notebook's ``parameters``
cell before anything runs.

A completed notebook is skipped only while everything it depends on is unchanged: its
parameters, the notebook file, the package code and what the notebooks before it wrote
(``inputs`` in the manifest). Re-running a notebook marks the later ones stale. A run
folder is locked while a runner uses it; a second runner on it refuses, naming the pid.
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import hashlib
import json
import logging
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import papermill as pm
import yaml

from . import settings
from .files import content_digest, read_json, write_json
from .paths import REPO_ROOT

log = logging.getLogger(__name__)


class _CheckedParameters(logging.Filter):
    """papermill warns about each setting a notebook's cell does not show; the runner has already checked
    every one against its owner in settings.py, so the warning only adds noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


logging.getLogger("papermill").addFilter(_CheckedParameters())

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PARAMS_DIR = REPO_ROOT / "params"
OUTPUTS_DIR = REPO_ROOT / "outputs"
PIPELINE = ("01_curation", "02_stage1_sft", "03_stage2_sft", "04_eval", "05_case_studies")
INJECTED = ("profile", "run_dir")  # set by the runner, declared by every notebook
PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "datasets",
    "bitsandbytes",
    "papermill",
    "plotly",
    "taiyi-workbench",
)
PATH_PARAMS = ("data_root", "sources_files", "suites_files")  # relative paths in a profile: to the profile file
_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict}


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ParameterError(ValueError):
    """A profile names a parameter a notebook does not declare, or gives it the wrong type."""


class RunError(RuntimeError):
    """The run folder cannot be used: locked by another runner, or not writable."""


def load_profile(profile: str) -> tuple[Path, dict]:
    path = Path(profile) if profile.endswith((".yaml", ".yml")) else PARAMS_DIR / f"{profile}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PARAMS_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no profile {path}; known profiles: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ParameterError(f"{path}: {where}invalid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected one mapping per notebook section")
    for section, values in data.items():
        if values is not None and not isinstance(values, dict):
            raise ParameterError(f"{path}: {section}: expected a mapping of parameters, got {type(values).__name__}")
    return path, {section: values or {} for section, values in data.items()}


def check_run_id(run_id: str) -> str:
    """Run ids are plain folder names under outputs/: nothing that could point elsewhere."""
    if not RUN_ID.fullmatch(run_id) or run_id in (".", ".."):
        raise ParameterError(
            f"run id {run_id!r} is not a plain name (letters, digits, '.', '_', '-'; starting with a letter or digit)"
        )
    return run_id


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


def _type_ok(value, kinds) -> bool:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def resolve_params(path: Path, profile: dict, notebooks: dict[str, Path]) -> dict[str, dict]:
    """Every setting per existing notebook: its owner's defaults (taiyi_utils/settings.py), then ``common``,
    then the notebook's section. Unknown sections or keys, ill-typed or out-of-range values raise, naming them."""
    common = profile.get("common") or {}
    unknown_sections = [s for s in profile if s != "common" and s not in PIPELINE]
    if unknown_sections:
        raise ParameterError(
            f"{path}: unknown section(s) {unknown_sections}; sections are common, {', '.join(PIPELINE)}"
        )
    resolved, declared_anywhere = {}, set()
    for stem, notebook in notebooks.items():
        owner = settings.OWNERS[stem]
        specs = pm.inspect_notebook(str(notebook))
        cell = {name: _default(spec["default"]) for name, spec in specs.items() if name not in INJECTED}
        types = {name: _TYPES.get(_declared_type(spec, cell.get(name)), ()) for name, spec in specs.items()}
        types.update(settings.field_types(owner))
        declared = set(types) - set(INJECTED)
        declared_anywhere |= declared
        owned = settings.defaults(stem)
        params = {**owned, **{k: v for k, v in cell.items() if k not in owned}}
        params.update({k: v for k, v in common.items() if k in declared})
        for key, value in (profile.get(stem) or {}).items():
            if key not in declared:
                raise ParameterError(
                    f"{path}: {stem}.{key}: unknown parameter; {stem} takes {', '.join(sorted(declared))}"
                )
            params[key] = value
        for key, value in params.items():
            if types.get(key) and not _type_ok(value, types[key]):
                raise ParameterError(
                    f"{path}: {stem}.{key}: expected {_type_name(types[key])}, got {type(value).__name__} {value!r}"
                )
        try:
            settings.from_namespace(owner, params)
        except settings.SettingError as err:
            raise ParameterError(f"{path}: {stem}.{err}") from None
        resolved[stem] = {k: _anchored(v, path) if k in PATH_PARAMS else v for k, v in params.items()}
    stray = [k for k in common if k not in declared_anywhere]
    if stray:
        raise ParameterError(f"{path}: common.{stray[0]}: no notebook declares this parameter")
    return resolved


def _type_name(kinds) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(k.__name__ for k in kinds)


def _anchored(value, profile: Path):
    """A profile's relative path (or list of them) made absolute against the profile's folder."""
    if isinstance(value, list):
        return [_anchored(v, profile) for v in value]
    if isinstance(value, str) and value and not Path(value).is_absolute():
        return str((profile.parent / value).resolve())
    return value


def _git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _versions() -> dict[str, str]:
    """Package versions, and the digest of the CPU constraints file the environment was installed from."""
    versions = {"python": platform.python_version()}
    constraints = REPO_ROOT / ".ci" / "cpu-constraints.txt"
    if constraints.is_file():
        versions["cpu-constraints.txt sha256"] = hashlib.sha256(constraints.read_bytes()).hexdigest()[:16]
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_digest() -> str:
    return content_digest(REPO_ROOT / "taiyi_utils", (".py", ".yaml"))


def _files(run_dir: Path) -> dict[str, list[int]]:
    """Relative path -> [size, mtime_ns] of everything the notebooks wrote (not the executed copies)."""
    out = {}
    for p in run_dir.rglob("*"):
        if (
            p.is_file()
            and p.parts[len(run_dir.parts)] != "notebooks"
            and p.name != "manifest.json"
            and not p.name.startswith(".")
        ):
            stat = p.stat()
            out[str(p.relative_to(run_dir))] = [stat.st_size, stat.st_mtime_ns]
    return out


def _inputs(stem: str, params: dict, notebook: Path, code: str, manifest: dict, files: dict) -> dict[str, str]:
    """What a notebook's result depends on; a completed notebook is reused only while all of these match.

    ``upstream`` digests what the earlier notebooks wrote as it is on disk now (size and modification
    time of each artifact), so a rerun upstream or a file edited by hand both count as a change.
    """
    upstream = {
        s: _digest({f: files.get(f) for f in manifest["notebooks"].get(s, {}).get("artifacts", [])})
        for s in PIPELINE[: PIPELINE.index(stem)]
    }
    return {
        "params": _digest(params),
        "notebook": content_digest(notebook),
        "code": code,
        "upstream": _digest(upstream),
    }


def _changed(entry: dict, inputs: dict) -> str:
    """Why a notebook must run again ('' when its completion still holds)."""
    if entry.get("status") != "completed":
        return entry.get("status", "not run yet")
    changed = [k for k, v in inputs.items() if entry.get("inputs", {}).get(k) != v]
    names = {
        "params": "its parameters",
        "notebook": "the notebook file",
        "code": "the package code",
        "upstream": "what earlier notebooks wrote",
    }
    return "changed: " + ", ".join(names[k] for k in changed) if changed else ""


class _Lock:
    """An exclusive lock on the run folder (released when the runner exits, even by kill -9)."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / ".lock"

    def __enter__(self):
        self.handle = self.path.open("a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "unknown"
            self.handle.close()
            raise RunError(
                f"run folder {self.path.parent} is in use by another runner (pid {holder}); "
                "wait for it or pick another --run-id"
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _save(path: Path, manifest: dict) -> str:
    """Write the manifest; the reason when it cannot be written (read-only folder, full disk), else ''."""
    try:
        write_json(path, manifest)
        return ""
    except OSError as err:
        return f"could not write {path}: {err.strerror or err}"


def run(
    profile: str,
    only: list[str] | None = None,
    run_id: str | None = None,
    force: bool = False,
    outputs: Path = OUTPUTS_DIR,
) -> dict:
    """Execute the profile's notebooks in order; returns the manifest (also written to the run folder)."""
    path, raw = load_profile(profile)
    run_dir = (outputs / check_run_id(run_id or path.stem)).resolve()
    notebooks = {p.stem: p for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")) if p.stem in PIPELINE}
    params = resolve_params(path, raw, notebooks)  # validate everything before running anything
    selected = [s for s in notebooks if not only or any(s.startswith(o) for o in only)]
    if only and not selected:
        raise ParameterError(f"--only {only} matches no notebook; have {', '.join(notebooks)}")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create the run folder {run_dir}: {err.strerror or err}") from None
    with _Lock(run_dir):
        return _run(path, params, notebooks, selected, run_dir, force)


def _run(path: Path, params: dict, notebooks: dict, selected: list[str], run_dir: Path, force: bool) -> dict:
    manifest_path = run_dir / "manifest.json"
    manifest = read_json(manifest_path, {"notebooks": {}})
    manifest.update(
        profile=path.stem,
        profile_path=str(path),
        run_id=run_dir.name,
        params=params,
        seed=params.get("01_curation", {}).get("seed"),  # common: reaches every notebook's seed
        versions=_versions(),
        git_revision=_git_revision(),
    )
    manifest.setdefault("created", _now())
    code = code_digest()
    for stem in selected:
        entry = manifest["notebooks"].get(stem, {})
        files = _files(run_dir)
        inputs = _inputs(stem, params[stem], notebooks[stem], code, manifest, files)
        reason = "forced (--force)" if force else _changed(entry, inputs)
        if not reason:
            log.info("[%s] already completed for run %s with the same inputs; skipping", stem, run_dir.name)
            continue
        if entry:
            log.info("[%s] running again: %s", stem, reason)
        entry = _execute(stem, notebooks[stem], params[stem], path.stem, run_dir, manifest, inputs, files)
        if entry["status"] != "completed":
            log.error(
                "[%s] %s: %s\n  see the executed notebook: %s",
                stem,
                entry["status"],
                entry["error"],
                entry["output_notebook"],
            )
            break
    return manifest


def _kernel_manager():
    """ipykernel 7.3+ warns at every start over unencrypted TCP, a red line users cannot act on; have
    jupyter_client provision CurveZMQ keys where it can (older versions have no such setting)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    if "transport_encryption" not in AsyncKernelManager.class_trait_names():
        return AsyncKernelManager

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _auto(self):
            return "auto"

    return EncryptedKernelManager


def _execute(
    stem: str, notebook: Path, params: dict, profile: str, run_dir: Path, manifest: dict, inputs: dict, before: dict
) -> dict:
    """Run one notebook with papermill; its entry ends completed, failed or interrupted, with the reason.
    ``before`` lists the run folder's files beforehand: what changed are the notebook's artifacts."""
    manifest_path = run_dir / "manifest.json"
    output = run_dir / "notebooks" / f"{stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    entry = {"status": "running", "started": _now(), "inputs": inputs, "output_notebook": str(output)}
    manifest["notebooks"][stem] = entry
    for later in PIPELINE[PIPELINE.index(stem) + 1 :]:  # they read what this one is about to rewrite
        if manifest["notebooks"].get(later, {}).get("status") == "completed":
            manifest["notebooks"][later]["status"] = "stale"
    problem = _save(manifest_path, manifest)
    if problem:
        entry.update(status="failed", error=problem)
        return entry
    log.info("[%s] running -> %s", stem, output)
    start = time.monotonic()
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            cwd=str(REPO_ROOT),
            progress_bar=True,
            parameters={**params, "profile": profile, "run_dir": str(run_dir)},
            kernel_manager_class=_kernel_manager(),
        )
        entry["status"] = "completed"
    except pm.PapermillExecutionError as err:
        entry.update(status="failed", error=str(err).strip().splitlines()[-1])
    except KeyboardInterrupt:
        entry.update(status="interrupted", error="interrupted by the user; run again to continue")
    except Exception as err:  # the kernel died (out of memory?), or the disk filled while saving the notebook
        reason = (
            "the kernel died (killed, perhaps out of memory)"
            if type(err).__name__ == "DeadKernelError"
            else f"{type(err).__name__}: {err}"
        )
        entry.update(status="failed", error=reason)
    after = _files(run_dir)
    entry.update(
        finished=_now(),
        seconds=round(time.monotonic() - start, 1),
        artifacts=sorted(f for f, t in after.items() if before.get(f) != t),
    )
    problem = _save(manifest_path, manifest)
    if problem and entry["status"] == "completed":
        entry.update(status="failed", error=problem)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, help="name in params/ (smoke, demo, paper) or a YAML path")
    parser.add_argument("--only", action="append", help="run only notebooks starting with this (e.g. 01); repeatable")
    parser.add_argument("--run-id", help="output folder under outputs/ (default: the profile name)")
    parser.add_argument("--force", action="store_true", help="re-run notebooks even if already completed")
    args = parser.parse_args(argv)
    try:
        manifest = run(args.profile, args.only, args.run_id, args.force)
    except (ParameterError, RunError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [s for s, e in manifest["notebooks"].items() if e["status"] != "completed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
