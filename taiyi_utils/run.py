"""Run the numbered notebooks for a profile: ``python -m taiyi_utils.run --profile NAME``.

Each notebook is executed by papermill with its section of ``params/NAME.yaml`` into
``outputs/<run-id>/notebooks/``. ``manifest.json`` (manifest.py) records the profile, resolved
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
import logging
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import papermill as pm

from . import manifest as manifests
from .files import read_json, write_json
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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        versions=manifests.versions(),
        git_revision=manifests.git_revision(),
    )
    manifest.setdefault("created", _now())
    code = manifests.code_digest()
    done: dict[str, str] = {}  # what this call did per notebook: skipped, completed, failed, interrupted
    manifest["invocation"] = {"selected": selected, "outcome": done}
    for stem in selected:
        entry = manifest["notebooks"].get(stem, {})
        files = manifests.run_files(run_dir)
        inputs = manifests.notebook_inputs(stem, params[stem], notebooks[stem], code, manifest, files)
        reason = "forced (--force)" if force else manifests.why_rerun(entry, inputs, files)
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
        log.info("%s: completed in %.1f s, kernel peak %.2f GiB", stem, entry["seconds"], entry["peak_memory_gib"])
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
    after = manifests.run_files(run_dir)
    entry.update(
        finished=_now(),
        seconds=round(time.monotonic() - start, 1),
        peak_memory_gib=round(kernel.gib, 2),  # the kernel's resident peak
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
