"""Shared fixtures: the real corpus (skipped with a reason when absent) and the tiny corpus."""

from __future__ import annotations

import os

import pytest

from taiyi_utils.data.tiny import write_tiny_corpus
from taiyi_utils.paths import SHARED_RAW

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def raw():
    """../shared/data/raw, the real corpora; tests that need it skip on a bare clone."""
    if not SHARED_RAW.is_dir():
        pytest.skip(f"real-data test: {SHARED_RAW} not found (the shared corpus sits beside the repo in CI)")
    return SHARED_RAW


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("tiny_raw"))


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole smoke profile, run once through the papermill runner: (run folder, manifest)."""
    from taiyi_utils import run as runner

    outputs = tmp_path_factory.mktemp("outputs")
    manifest = runner.run("smoke", run_id="smoke", outputs=outputs)
    return outputs / "smoke", manifest
