"""The smoke profile end to end: both SFT stages train, continue from each other and leave their artifacts."""

from __future__ import annotations

import json

import pytest

from taiyi_utils.files import read_jsonl
from taiyi_utils.paths import shared_data_root

pytestmark = pytest.mark.slow

# (first, last) training loss of the smoke profile, seed 0, fp32 on CPU: deterministic, so a change in the
# data, the chat encoding, the loss mask or the loop shows here. Keyed by the corpus the smoke run read.
PINNED_CPU_LOSS = {
    "shared": {1: (10.818559646606445, 10.62409782409668), 2: (10.542062759399414, 10.438470840454102)},
    "tiny": {1: (10.796510696411133, 10.644434928894043), 2: (10.771942138671875, 10.682144165039062)},
}


@pytest.mark.parametrize("stage", [1, 2])
def test_each_stage_trains_to_its_pinned_losses(smoke_run, stage):
    run_dir, _ = smoke_run
    stage_dir = run_dir / f"stage{stage}"
    card = json.loads((stage_dir / "train_card.json").read_text())
    if card["device"] == "cpu":
        corpus = "shared" if shared_data_root() else "tiny"
        assert (card["first_loss"], card["last_loss"]) == pytest.approx(PINNED_CPU_LOSS[corpus][stage], rel=1e-4)
    assert card["last_loss"] < card["first_loss"]
    assert card["steps"] == 12 and card["tokens_seen"] > 0 and card["peak_memory_gib"] > 0
    for name in (
        "adapter/adapter_model.safetensors",
        "adapter/adapter_config.json",
        "adapter/tokenizer.json",
        "training_args.json",
        "log.jsonl",
        "probes.jsonl",
    ):
        assert (stage_dir / name).is_file(), name
    labels = ["base", "stage 1"] if stage == 1 else ["base", "stage 1", "stage 2"]
    assert list(card["probe_format_rate"]) == labels
    probes = read_jsonl(stage_dir / "probes.jsonl")
    assert len(probes) == 4 * len(labels) and {p["model"] for p in probes} == set(labels)
    logged = [r for r in read_jsonl(stage_dir / "log.jsonl") if "eval_loss" in r]
    assert logged, "eval loss on the held-out slice is logged"
    assert all(r["eval_loss_by_source"] and r["eval_loss_by_family"] for r in logged)  # at each evaluation


def test_stage_two_continues_from_stage_one(smoke_run):
    run_dir, _ = smoke_run
    card = json.loads((run_dir / "stage2" / "train_card.json").read_text())
    assert card["init_adapter"] == str(run_dir / "stage1" / "adapter")
    assert card["config"]["data"].endswith("data/stage2.jsonl")
