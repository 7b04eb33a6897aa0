"""``python -m taiyi_utils.data inspect PATH [--format auto|NAME] [--json]``."""
from __future__ import annotations

import argparse
import json
import sys

from . import formats
from .inspect import inspect_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taiyi_utils.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("inspect", help="count records, entities, relations and labels in a corpus file or folder")
    cmd.add_argument("path")
    cmd.add_argument("--format", default="auto", choices=["auto", *formats.FORMATS])
    cmd.add_argument("--columns", type=json.loads, help="column map (JSON) for --format generic")
    cmd.add_argument("--task", help="record task for --format generic")
    cmd.add_argument("--json", action="store_true", help="print one JSON object (default: indented JSON)")
    args = parser.parse_args(argv)
    options = {"columns": args.columns, "task": args.task} if args.format == "generic" else {}
    try:
        summary = inspect_path(args.path, args.format, **options)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
