"""Every bench script runs its whole path with ``--smoke`` (tiny model and sizes): a bench cannot rot unseen."""

from __future__ import annotations

import subprocess
import sys

import pytest

from taiyi_utils.paths import REPO_ROOT

BENCH = REPO_ROOT / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if p.name != "common.py")


def test_every_bench_script_is_covered():
    assert SCRIPTS == [
        "curation_throughput.py",
        "eval_throughput.py",
        "precision.py",
        "qlora_memory.py",
        "train_throughput.py",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_smoke_runs_and_records_nothing(script):
    results = BENCH / "RESULTS.md"
    before = results.read_bytes()
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "## " in done.stdout and "|---|" in done.stdout  # a titled table
    assert results.read_bytes() == before  # smoke tables are printed, not recorded
