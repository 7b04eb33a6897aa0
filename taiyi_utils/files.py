"""Reading and writing outputs: atomic writes (an interrupted run never leaves a half-written output behind),
JSON and JSON lines, and content digests (what an artifact *is*, for caches and the manifest)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the user's usual permissions
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def follow_umask(folder: str | Path) -> None:
    """Files a library wrote privately (safetensors writes adapters 0600) get the user's usual permissions."""
    for path in Path(folder).rglob("*"):
        if path.is_file():
            path.chmod(0o666 & ~_umask())


def write_json(path: str | Path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_json(path: str | Path, missing=None):
    """The JSON document at ``path``, or ``missing`` when there is no such file (a first run)."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else missing


def content_digest(path: str | Path, suffixes: tuple[str, ...] = ()) -> str:
    """Digest of a file's bytes, or of every file under a folder (names and bytes): what an artifact *is*.
    ``suffixes`` keeps only files with those endings (source code, not its ``__pycache__``)."""
    path = Path(path)
    sha = hashlib.sha256()
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in sorted(f for f in files if not suffixes or f.suffix in suffixes):
        sha.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        with file.open("rb") as handle:  # in blocks: optimizer states and merged models run to gigabytes
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
    return sha.hexdigest()[:16]
