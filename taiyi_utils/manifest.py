"""What a run's manifest records: the environment (git revision, package versions, constraints) and the digests
of each notebook's inputs, by which a completed notebook is reused only while nothing it depends on changed."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

from .files import content_digest
from .paths import REPO_ROOT
from .profiles import PIPELINE

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


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Package versions, and the digest of the constraints file this environment's kind installs from (the CPU
    lock, or the GPU one where torch is a CUDA build)."""
    versions = {"python": platform.python_version()}
    kind = "gpu" if cuda_build() else "cpu"
    constraints = REPO_ROOT / ".ci" / f"{kind}-constraints.txt"
    if constraints.is_file():
        versions[f"{constraints.name} sha256"] = hashlib.sha256(constraints.read_bytes()).hexdigest()[:16]
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def cuda_build() -> bool:
    """Whether the installed torch is a CUDA build, read from its version.py (importing torch costs seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    version = Path(spec.origin).with_name("version.py") if spec and spec.origin else None
    found = re.search(r"^cuda\b.*=\s*'([^']+)'", version.read_text(), re.M) if version and version.is_file() else None
    return found is not None


def value_digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_digest() -> str:
    return content_digest(REPO_ROOT / "taiyi_utils", (".py", ".yaml"))


def run_files(run_dir: Path) -> dict[str, str]:
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
    return value_digest({"registries": registries, "data": data_digest(root) if root and root.is_dir() else "tiny"})


def notebook_inputs(stem: str, params: dict, notebook: Path, code: str, manifest: dict, files: dict) -> dict[str, str]:
    """What a notebook's result depends on; a completed notebook is reused only while all of these match.

    ``upstream`` digests what the earlier notebooks wrote as it is on disk now (each artifact's content),
    so a rerun upstream or a file edited by hand both count as a change; for curation, ``data`` digests the
    user's registry files and the corpus under the data root.
    """
    upstream = {
        s: value_digest({f: files.get(f) for f in manifest["notebooks"].get(s, {}).get("artifacts", [])})
        for s in PIPELINE[: PIPELINE.index(stem)]
    }
    inputs = {
        "params": value_digest(params),
        "notebook": content_digest(notebook),
        "code": code,
        "upstream": value_digest(upstream),
    }
    if stem == "01_curation":
        inputs["data"] = _curation_data(params)
    return inputs


def why_rerun(entry: dict, inputs: dict, files: dict) -> str:
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
