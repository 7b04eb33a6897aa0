"""Where things live: the repository, the shared raw data, the model cache."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_RAW = REPO_ROOT.parent / "shared" / "data" / "raw"


def shared_data_root() -> Path | None:
    """``TAIYI_DATA_ROOT`` if set, else ``../shared/data/raw`` beside the repo, else None."""
    configured = os.environ.get("TAIYI_DATA_ROOT")
    if configured:
        return Path(configured)
    return SHARED_RAW if SHARED_RAW.is_dir() else None


def cache_dir() -> Path:
    """Converted models and tokenizers: ``TAIYI_CACHE`` or ``~/.cache/taiyi-workbench``."""
    path = Path(os.environ.get("TAIYI_CACHE", Path.home() / ".cache" / "taiyi-workbench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_folder(run_dir: str | Path) -> Path:
    """``run_dir`` when absolute, else under the repository, so a notebook run by hand in JupyterLab (whose
    working folder is ``notebooks/``) writes to the same ``outputs/`` as the runner does."""
    path = Path(run_dir)
    return path if path.is_absolute() else REPO_ROOT / path
