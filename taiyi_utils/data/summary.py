"""Counts that describe a corpus file or folder, as ``python -m taiyi_utils.data inspect`` prints them."""

from __future__ import annotations

from pathlib import Path

from . import formats
from .records import QA, Dialogue, Record, annotation_counts


def summarize(records: list[Record], format_name: str) -> dict:
    """``format`` and ``records``, plus entity / relation / label counts where they apply.

    Labels are class labels for classification and the gold answers (yes/no/maybe,
    option letters) for yes/no and multiple-choice QA.
    """
    counts = annotation_counts(records)
    counts["labels"].update(r.answer for r in records if isinstance(r, QA) and r.kind in ("yesno", "yesnomaybe", "mc"))
    turns = sum(len(r.turns) for r in records if isinstance(r, Dialogue))
    summary = {"format": format_name, "records": len(records)}
    summary.update({key: dict(c.most_common()) for key, c in counts.items() if c})
    if turns:
        summary["turns"] = turns
    return summary


def inspect_path(path: str | Path, format: str = "auto", **options) -> dict:
    """Summary of one file, or of every readable file under a folder (others listed as skipped)."""
    path = Path(path)
    if format != "auto":
        return summarize(formats.read(path, format, **options), format)
    try:
        name = formats.detect(path)
        return summarize(formats.read(path, name), name)
    except formats.FormatError:
        if path.is_file():
            raise
    files, skipped = {}, {}
    _walk(path, path, files, skipped, set())
    return {"path": str(path), "files": files, "skipped": skipped}


def _walk(root: Path, folder: Path, files: dict, skipped: dict, seen: set) -> None:
    """Summaries of readable files; unreadable ones are listed with the reason, FIFOs and devices ignored; a
    folder reached again through a symlink (a loop) is read once."""
    if folder.resolve() in seen:
        return
    seen.add(folder.resolve())
    for entry in sorted(folder.iterdir()):
        rel = str(entry.relative_to(root))
        if entry.name.startswith(".") or entry.suffix.lower() == ".md" or not (entry.is_file() or entry.is_dir()):
            continue
        try:
            name = formats.detect(entry)
        except formats.FormatError as err:
            if entry.is_dir():
                _walk(root, entry, files, skipped, seen)
            else:
                skipped[rel] = str(err)
            continue
        except OSError as err:  # unreadable: permissions, a broken link
            skipped[rel] = f"{entry}: cannot be read ({err.strerror or err})"
            continue
        try:
            files[rel] = summarize(formats.read(entry, name), name)
        except (formats.FormatError, OSError, ValueError) as err:
            skipped[rel] = f"detected as {name} but unreadable: {err}"
