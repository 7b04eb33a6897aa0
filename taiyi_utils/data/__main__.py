"""``python -m taiyi_utils.data inspect PATH [--format auto|NAME] [--json]``, or an entry of a sources registry:
``python -m taiyi_utils.data inspect --sources my_sources.yaml --source gad --split train [--data-root DIR] --json``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import formats
from .summary import inspect_path, summarize


def inspect_source(key: str, split: str, sources_files: list[str], data_root: str = "") -> dict:
    """What curation will read for ``key``'s ``split``: the same reader, options and (holdout) split."""
    from ..paths import shared_data_root
    from .sources import load_sources, read_split

    sources = load_sources(tuple(sources_files))
    root = Path(data_root) if data_root else shared_data_root()
    if root is None:
        raise FileNotFoundError("no data root: pass --data-root (../shared/data/raw was not found)")
    records = read_split(key, split, root, sources=sources)
    return {"source": key, "split": split, **summarize(records, sources[key].format)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("inspect", help="count records, entities, relations and labels in a corpus file or folder")
    cmd.add_argument("path", nargs="?", help="a corpus file or folder (or use --source)")
    cmd.add_argument("--format", default="auto", choices=["auto", *formats.FORMATS])
    cmd.add_argument("--columns", type=json.loads, help="column map (JSON) for --format generic")
    cmd.add_argument("--task", help="record task for --format generic")
    cmd.add_argument(
        "--options",
        type=json.loads,
        default={},
        help='other generic reader options (JSON), e.g. \'{"header": false, "kind": "yesno"}\'',
    )
    cmd.add_argument("--sources", action="append", default=[], help="a sources registry YAML of your own (repeatable)")
    cmd.add_argument("--source", help="a source key (shipped or from --sources): read it as curation will")
    cmd.add_argument("--split", default="train", help="the split of --source (default train)")
    cmd.add_argument("--data-root", default="", help="data root for --source (default ../shared/data/raw)")
    cmd.add_argument("--json", action="store_true", help="print one JSON object (default: indented JSON)")
    args = parser.parse_args(argv)
    generic_only = [
        flag
        for flag, value in (("--columns", args.columns), ("--task", args.task), ("--options", args.options))
        if value
    ]
    try:
        if generic_only and args.format != "generic":
            raise ValueError(f"{', '.join(generic_only)} apply to --format generic only (got --format {args.format})")
        if args.source:
            summary = inspect_source(args.source, args.split, args.sources, args.data_root)
        elif args.path:
            options = {"columns": args.columns, "task": args.task, **args.options} if args.format == "generic" else {}
            summary = inspect_path(args.path, args.format, **options)
        else:
            raise ValueError("give a PATH to a corpus file or folder, or --source KEY")
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
