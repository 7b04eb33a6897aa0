"""Curation throughput: read -> instruct -> dedup over every split of every local corpus, and peak memory.

    python bench/curation_throughput.py [--data-root ../shared/data/raw]

Target: all of ../shared/data/raw in under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import parse, report  # bench/common.py (the script's folder is on sys.path)


def main() -> int:
    from taiyi_utils.data import quality
    from taiyi_utils.data.instruct import build_pairs
    from taiyi_utils.data.sources import load_sources, read_split
    from taiyi_utils.memory import peak_memory_gib
    from taiyi_utils.paths import SHARED_RAW

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=SHARED_RAW)
    parser.add_argument("--sources", nargs="+", help="only these source keys (default: every registered one)")
    args = parse(parser, sources=["ncbi_disease", "cmeee"])
    if args.smoke:  # the tiny built-in corpus holds these two
        from taiyi_utils.data.tiny import write_tiny_corpus

        args.data_root = write_tiny_corpus(Path(tempfile.mkdtemp()))
    if not args.data_root.is_dir():
        raise SystemExit(f"{args.data_root} not found: this benchmark needs the shared corpora")

    rows, pairs, seconds, absent = [], [], {"read": 0.0, "instruct": 0.0}, []
    for key, source in load_sources().items():
        if args.sources and key not in args.sources:
            continue
        for split in source.files:
            start = time.perf_counter()
            try:
                records = read_split(key, split, args.data_root)
            except FileNotFoundError:
                absent.append(f"{key}:{split}")
                continue
            read_s = time.perf_counter() - start
            built = build_pairs(records, source)
            instruct_s = time.perf_counter() - start - read_s
            seconds["read"] += read_s
            seconds["instruct"] += instruct_s
            pairs += built
            rows.append(
                {
                    "source": f"{key}:{split}",
                    "records": len(records),
                    "pairs": len(built),
                    "read s": read_s,
                    "instruct s": instruct_s,
                    "records/s": len(records) / (read_s + instruct_s),
                }
            )
    start = time.perf_counter()
    kept, removed = quality.dedup(pairs)
    seconds["dedup"] = time.perf_counter() - start
    total_s = sum(seconds.values())
    records = sum(r["records"] for r in rows)
    rows.append(
        {
            "source": "all",
            "records": records,
            "pairs": len(pairs),
            "read s": seconds["read"],
            "instruct s": seconds["instruct"],
            "records/s": records / total_s,
        }
    )
    peak = peak_memory_gib()
    report(
        "Curation throughput (bench/curation_throughput.py)",
        rows,
        [
            f"Whole pipeline: {total_s:.1f} s (read {seconds['read']:.1f}, instruct {seconds['instruct']:.1f}, dedup "
            f"{seconds['dedup']:.1f}); {len(kept)} pairs kept of {len(pairs)} after exact + normalised dedup; "
            f"peak RSS {peak:.2f} GiB; target under 60 s.",
            "Token counting and the length filter are not included (they need the tokenizer: see notebook 01's card).",
            f"Splits absent from {args.data_root}: {', '.join(absent) or 'none'}.",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
