"""One reader per source format, all returning unified records; ``read`` picks one by sniffing."""

from __future__ import annotations

import inspect
from pathlib import Path

from ..records import Record
from . import (
    bigbio,
    bioasq,
    bioc,
    cblue_cdn,
    cblue_pairs,
    chemprot,
    chemprot_bc6,
    chip_cdee,
    chip_cdn,
    chip_ctc,
    cmb_clin,
    cmeee,
    cmeie,
    cnmleqa,
    ddi_tsv,
    ddi_xml,
    firefly,
    generic,
    hoc,
    iob,
    kuake_qic,
    litcovid_csv,
    med_dialogue_csv,
    medqa_jsonl,
    medqa_tsv,
    promptcblue,
    pubmedqa,
    pubtator,
    squad,
)
from ._base import FormatError, Peek, field, iter_jsonl

FORMATS = {
    m.NAME: m
    for m in (
        pubtator,
        bioc,
        iob,
        cmeee,
        cmeie,
        kuake_qic,
        chip_cdee,
        chip_cdn,
        cblue_cdn,
        cblue_pairs,
        chip_ctc,
        promptcblue,
        pubmedqa,
        medqa_tsv,
        medqa_jsonl,
        cnmleqa,
        bioasq,
        squad,
        hoc,
        chemprot,
        chemprot_bc6,
        ddi_tsv,
        ddi_xml,
        cmb_clin,
        med_dialogue_csv,
        firefly,
        bigbio,
        litcovid_csv,
        generic,
    )
}

__all__ = ["FORMATS", "FormatError", "detect", "field", "iter_jsonl", "read"]


def detect(path: str | Path) -> str:
    """The one format whose sniffer accepts ``path``; otherwise an error listing what was tried."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    peek = Peek(path)
    matches = [name for name, module in FORMATS.items() if module.sniff(peek)]
    if len(matches) == 1:
        return matches[0]
    considered = ", ".join(FORMATS)
    if not matches:
        raise FormatError(
            path,
            "format",
            "no known format matched; pass --format NAME (a table of your own: "
            f"--format generic with --task and a --columns map); considered: {considered}",
        )
    raise FormatError(path, "format", f"several formats matched ({', '.join(matches)}); pass --format NAME")


def read(path: str | Path, format: str = "auto", **options) -> list[Record]:
    """Records from ``path`` in ``format`` (a name from FORMATS, or auto).

    A folder is read only by formats that take one (DDI's XML tree); a file that is not UTF-8
    (a GB18030 CSV, say) is an error naming the byte, never a silent mis-decoding.
    """
    path = Path(path)
    name = detect(path) if format == "auto" else format
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir() and not getattr(FORMATS[name], "READS_FOLDERS", False):
        raise FormatError(
            path,
            "path",
            f"is a folder; format {name!r} reads one file "
            f"(inspect the folder without --format to read every file in it)",
        )
    accepted = set(inspect.signature(FORMATS[name].read).parameters) - {"path"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"reader {name!r} has no option(s) {unknown}; it accepts {sorted(accepted) or 'none'}")
    try:
        return FORMATS[name].read(path, **options)
    except UnicodeDecodeError as err:
        line = err.object[: err.start].count(b"\n") + 1 if isinstance(err.object, bytes) else f"byte {err.start}"
        raise FormatError(
            path,
            line,
            f"not UTF-8 ({err.reason}); re-encode the file as UTF-8 (GB18030 data: iconv -f gb18030 -t utf-8)",
        ) from None
