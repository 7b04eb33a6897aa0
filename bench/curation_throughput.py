"""Curation throughput: read -> instruct -> dedup over every split of every local corpus, and peak memory.

    python bench/curation_throughput.py [--data-root ../shared/data/raw]

Target: all of ../shared/data/raw in under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import report  # bench/common.py (the script's folder is on sys.path)


def main() -> int:
    from taiyi_utils.data import quality
    from taiyi_utils.data.instruct import build_pairs
    from taiyi_utils.data.sources import load_sources, read_split
    from taiyi_utils.memory import peak_memory_gb
    from taiyi_utils.paths import SHARED_RAW

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=SHARED_RAW)
    args = parser.parse_args()
    if not args.data_root.is_dir():
        raise SystemExit(f"{args.data_root} not found: this benchmark needs the shared corpora")

    rows, pairs, seconds = [], [], {"read": 0.0, "instruct": 0.0}
    for key, source in load_sources().items():
        for split in source.files:
            start = time.perf_counter()
            records = read_split(key, split, args.data_root)
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
    peak = peak_memory_gb()
    report(
        "Curation throughput (bench/curation_throughput.py)",
        rows,
        [
            f"Whole pipeline: {total_s:.1f} s (read {seconds['read']:.1f}, instruct {seconds['instruct']:.1f}, dedup "
            f"{seconds['dedup']:.1f}); {len(kept)} pairs kept of {len(pairs)} after exact + normalised dedup; "
            f"peak RSS {peak:.2f} GiB; target under 60 s.",
            "Token counting and the length filter are not included (they need the tokenizer: see notebook 01's card).",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
