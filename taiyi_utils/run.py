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

from .files import content_digest, read_json, write_json
from .memory import ChildrenPeak
from .paths import REPO_ROOT
from .profiles import NOTEBOOK_DIR, PIPELINE, ParameterError, load_profile, resolve_params

log = logging.getLogger(__name__)


class _CheckedParameters(logging.Filter):
    """papermill warns about each setting a notebook's cell does not show; the runner has already checked
    every one against its owner in settings.py, so the warning only adds noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


logging.getLogger("papermill").addFilter(_CheckedParameters())

OUTPUTS_DIR = REPO_ROOT / "outputs"
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


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class RunError(RuntimeError):
    """The run folder cannot be used: locked by another runner, or not writable."""


def check_run_id(run_id: str) -> str:
    """Run ids are plain folder names under outputs/: nothing that could point elsewhere."""
    if not RUN_ID.fullmatch(run_id) or run_id in (".", ".."):
        raise ParameterError(
            f"run id {run_id!r} is not a plain name (letters, digits, '.', '_', '-'; starting with a letter or digit)"
        )
    return run_id


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
    """Package versions, and the digest of the constraints file this environment's kind installs from (the CPU
    lock, or the GPU one where torch is a CUDA build)."""
    versions = {"python": platform.python_version()}
    kind = "gpu" if _cuda_build() else "cpu"
    constraints = REPO_ROOT / ".ci" / f"{kind}-constraints.txt"
    if constraints.is_file():
        versions[f"{constraints.name} sha256"] = hashlib.sha256(constraints.read_bytes()).hexdigest()[:16]
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _cuda_build() -> bool:
    """Whether the installed torch is a CUDA build, read from its version.py (importing torch costs seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    version = Path(spec.origin).with_name("version.py") if spec and spec.origin else None
    found = re.search(r"^cuda\b.*=\s*'([^']+)'", version.read_text(), re.M) if version and version.is_file() else None
    return found is not None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_digest() -> str:
    return content_digest(REPO_ROOT / "taiyi_utils", (".py", ".yaml"))


def _files(run_dir: Path) -> dict[str, str]:
    """Relative path -> content digest of everything the notebooks wrote: not the executed copies, and not the
    training checkpoints, which no later notebook reads and whose own markers carry their digests."""
    out = {}
    for p in run_dir.rglob("*"):
        relative = p.relative_to(run_dir)
        if (
            p.is_file()
            and not p.is_symlink()
            and relative.parts[0] != "notebooks"
            and not any(part.startswith("checkpoints") for part in relative.parts[:-1])
            and p.name != "manifest.json"
            and not p.name.startswith(".")
        ):
            out[str(relative)] = content_digest(p)
    return out


def data_digest(root: Path, block: int = 1 << 16) -> str:
    """A cheap digest of the corpus files under ``root``: each file's path, size and first and last 64 KiB, so a
    file edited, replaced or added under the data root changes it (without reading gigabytes)."""
    sha = hashlib.sha256()
    for folder, dirs, names in sorted(os.walk(root)):  # os.walk follows no symlinked folder: no loops
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            try:
                size = path.stat().st_size
                with path.open("rb") as handle:
                    head = handle.read(block)
                    handle.seek(max(size - block, 0))
                    tail = handle.read(block)
            except OSError:
                continue  # unreadable or a dangling link: curation reports what it needs
            sha.update(f"{path.relative_to(root)}\0{size}\0".encode() + head + tail)
    return sha.hexdigest()[:16]


def _curation_data(params: dict) -> str:
    """What notebook 01 reads besides its parameters: the content of the user's registry files and the corpus."""
    from .paths import shared_data_root

    registries = [content_digest(p) if Path(p).is_file() else "missing" for key in ("sources_files", "suites_files")
                  for p in params.get(key, [])]  # fmt: skip
    root = Path(params["data_root"]) if params.get("data_root") else shared_data_root()
    return _digest({"registries": registries, "data": data_digest(root) if root and root.is_dir() else "tiny"})


def _inputs(stem: str, params: dict, notebook: Path, code: str, manifest: dict, files: dict) -> dict[str, str]:
    """What a notebook's result depends on; a completed notebook is reused only while all of these match.

    ``upstream`` digests what the earlier notebooks wrote as it is on disk now (each artifact's content),
    so a rerun upstream or a file edited by hand both count as a change; for curation, ``data`` digests the
    user's registry files and the corpus under the data root.
    """
    upstream = {
        s: _digest({f: files.get(f) for f in manifest["notebooks"].get(s, {}).get("artifacts", [])})
        for s in PIPELINE[: PIPELINE.index(stem)]
    }
    inputs = {
        "params": _digest(params),
        "notebook": content_digest(notebook),
        "code": code,
        "upstream": _digest(upstream),
    }
    if stem == "01_curation":
        inputs["data"] = _curation_data(params)
    return inputs


def _changed(entry: dict, inputs: dict, files: dict) -> str:
    """Why a notebook must run again ('' when its completion still holds)."""
    if entry.get("status") != "completed":
        return {"stale": "an earlier notebook ran again"}.get(entry.get("status"), entry.get("status", "not run yet"))
    missing = [f for f in entry.get("artifacts", []) if f not in files]
    if missing:
        return f"its outputs are missing ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
    changed = [k for k, v in inputs.items() if entry.get("inputs", {}).get(k) != v]
    names = {
        "params": "its parameters",
        "notebook": "the notebook file",
        "code": "the package code",
        "upstream": "what earlier notebooks wrote",
        "data": "its registry files or the corpus",
    }
    return "changed: " + ", ".join(names[k] for k in changed) if changed else ""


class _Lock:
    """An exclusive lock on the run folder (released when the runner exits, even by kill -9)."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / ".lock"

    def __enter__(self):
        try:
            self.handle = self.path.open("a+")
        except OSError as err:
            raise RunError(f"cannot lock the run folder {self.path.parent}: {err.strerror or err}") from None
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
        try:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.write(str(os.getpid()))
            self.handle.flush()
        except OSError as err:  # a full disk: the lock is held, the pid just not written
            log.warning("could not write the runner's pid into %s: %s", self.path, err.strerror or err)
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
    done: dict[str, str] = {}  # what this call did per notebook: skipped, completed, failed, interrupted
    manifest["invocation"] = {"selected": selected, "outcome": done}
    for stem in selected:
        entry = manifest["notebooks"].get(stem, {})
        files = _files(run_dir)
        inputs = _inputs(stem, params[stem], notebooks[stem], code, manifest, files)
        reason = "forced (--force)" if force else _changed(entry, inputs, files)
        if not reason:
            log.info("%s: skipped: already completed with the same inputs", stem)
            done[stem] = "skipped"
            continue
        log.info("%s: running (%s)", stem, reason)
        entry = _execute(stem, notebooks[stem], str(path), run_dir, manifest, inputs, files)
        done[stem] = entry["status"]
        if entry["status"] != "completed":
            log.info("%s: %s: %s\n  see the executed notebook: %s", stem, entry["status"], entry["error"],
                     entry["output_notebook"])  # fmt: skip
            break
        log.info("%s: completed in %.1f s, kernel peak %.1f GB", stem, entry["seconds"], entry["peak_memory_gb"])
    return manifest


def summary(manifest: dict) -> tuple[str, bool]:
    """(one line on what the last call did and what is left stale, whether every notebook it was asked to run
    completed or was already complete)."""
    invocation = manifest.get("invocation", {})
    done, selected = invocation.get("outcome", {}), invocation.get("selected", [])
    counts = {k: list(done.values()).count(k) for k in ("completed", "skipped", "failed", "interrupted")}
    ok = all(done.get(s) in ("completed", "skipped") for s in selected)
    never = [s for s in selected if s not in done]
    stale = [s for s, e in manifest["notebooks"].items() if e.get("status") == "stale"]
    parts = [", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing run"]
    if never:
        parts.append(f"not reached: {', '.join(never)}")
    if stale:
        parts.append(
            f"now stale (an earlier notebook ran again): {', '.join(stale)}; run them to bring them up to date"
        )
    return "summary: " + "; ".join(parts), ok


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
    stem: str, notebook: Path, profile: str, run_dir: Path, manifest: dict, inputs: dict, before: dict
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
    with ChildrenPeak() as kernel:
        try:
            pm.execute_notebook(
                str(notebook),
                str(output),
                cwd=str(REPO_ROOT),
                progress_bar=True,
                # the notebook resolves its settings from the profile itself (profiles.resolve), as by hand
                parameters={"profile": profile, "run_dir": str(run_dir)},
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
        peak_memory_gb=round(kernel.gb, 2),  # the kernel's resident peak
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
    line, ok = summary(manifest)
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
