"""What every benchmark shares: the device and versions line, a markdown table, appending to RESULTS.md."""

from __future__ import annotations

import datetime
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
SMOKE = {"on": False}  # set by parse(): a --smoke run prints its tables but does not add them to RESULTS.md


def parse(parser, **smoke_sizes):
    """The script's arguments; with ``--smoke`` the ``smoke_sizes`` replace them (a tiny model and sizes: the
    whole path in seconds, run by the test suite so no bench can rot unnoticed)."""
    parser.add_argument("--smoke", action="store_true", help="tiny model and sizes, seconds; not recorded")
    args = parser.parse_args()
    if args.smoke:
        SMOKE["on"] = True
        vars(args).update(smoke_sizes)
    return args


def device() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return (
        f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    )


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("torch", "transformers", "peft", "trl", "bitsandbytes", "datasets"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    return ", ".join([f"python {platform.python_version()}", *found])


def table(rows: list[dict]) -> str:
    """Rows of equal keys as a markdown table (floats to 3 significant digits)."""
    cells = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    head = list(rows[0])
    return "\n".join(
        [
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
            *("| " + " | ".join(cells(r[k]) for k in head) + " |" for r in rows),
        ]
    )


def report(title: str, rows: list[dict], notes: list[str] = ()) -> str:
    """Print the table and append it to RESULTS.md with the date, device and versions."""
    text = "\n".join(
        [
            f"## {title}",
            "",
            f"{datetime.date.today()} · {device()} · {versions()}",
            "",
            table(rows),
            "",
            *[f"- {n}" for n in notes],
            "",
        ]
    )
    print(text)
    if not SMOKE["on"]:
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return text


def peak_flops(seconds: float = 3.0) -> tuple[float, str]:
    """Measured dense matmul FLOP/s in the dtype training computes in (``precision: auto``: bf16 on CUDA and on a
    CPU with native bf16, else fp32)."""
    import torch

    from taiyi_utils.model import resolve_precision

    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if resolve_precision("auto") == "bf16" else torch.float32
    n = 8192 if cuda else 2048
    a = torch.randn(n, n, dtype=dtype, device="cuda" if cuda else "cpu")
    b = torch.randn_like(a)
    a @ b  # warm-up
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        runs += 1
        if cuda:
            torch.cuda.synchronize()
    return 2 * n**3 * runs / (time.perf_counter() - start), str(dtype).replace("torch.", "")


def alternating(paths: list[str], rounds: int, measure) -> dict[str, list]:
    """``measure(path)`` for every path, 2 x ``rounds`` times, in the order A B .. then .. B A each round: a change
    of load during the run (another job starting, the machine warming) cannot favour one path."""
    runs = {path: [] for path in paths}
    for sequence in [paths, paths[::-1]] * rounds:
        for path in sequence:
            runs[path].append(measure(path))
    return runs


def median_ratio(values: list[float], reference: list[float]) -> tuple[float, str]:
    """The median of the per-run ratios ``values[i] / reference[i]`` (runs pair in order: A1 and B1 ran back to
    back, as did B2 and A2) and their range, e.g. ``(1.31, "1.12-1.40")``."""
    import statistics

    ratios = sorted(v / r for v, r in zip(values, reference))
    return statistics.median(ratios), f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
