"""curate() end to end on the tiny corpus: files, counts and gold that parses back."""
from __future__ import annotations

import json

import pytest

from taiyi_utils.data.curate import curate
from taiyi_utils.files import read_jsonl
from test_answers import gold, parsed

SUITES = ["BC5CDR-Chem", "CMeEE-dev", "BC5CDR-RE", "KUAKE-QIC-dev", "PubMedQA", "MedQA-USMLE", "CHEMDNER"]


@pytest.fixture(scope="module")
def curated(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("curated")
    result = curate(tiny, out, train_sources={"bc5cdr": "train", "cmeee": "dev", "kuake_qic": "dev",
                                              "pubmedqa": "train", "med_dialogue": "train"},
                    eval_suites=SUITES, eval_samples=2, tokenizer="embedded:smollm2-135m", seed=0)
    return out, result


def test_files_and_card_agree(curated):
    out, result = curated
    stage1, stage2 = read_jsonl(out / "stage1.jsonl"), read_jsonl(out / "stage2.jsonl")
    card = json.loads((out / "data_card.json").read_text())
    assert (len(stage1), len(stage2)) == (card["stage1"]["pairs"], card["stage2"]["pairs"])
    # bc5cdr: 5 docs x (2 NER types + RE + title) = 20; cmeee 6 x 9 types = 54; kuake 6 -> stage 1 = 80,
    # less the pairs of the items drawn for evaluation (2 CMeEE sentences x 9 types, 2 KUAKE queries)
    assert card["quality"]["overlap"]["training_pairs_overlapping"] == {"cmeee": 18, "kuake_qic": 2}
    assert len(stage1) == 80 - 20
    assert len(stage2) == len(stage1) + 5 + 6  # replay all of stage 1 + pubmedqa + dialogue
    assert set(stage1[0]) == {"conversation_id", "dataset", "category", "language", "task", "conversation", "tokens"}
    assert {p["category"] for p in stage1} == {"NER", "RE", "TT", "TC"}


def test_eval_files_carry_gold_that_parses_back(curated):
    out, result = curated
    assert set(result.eval) == set(SUITES) - {"CHEMDNER"}
    assert "CHEMDNER" in result.unavailable and "network" in result.unavailable["CHEMDNER"]
    for suite in result.eval:
        rows = read_jsonl(out / "eval" / f"{suite}.jsonl")
        assert rows and all(r["suite"] == suite and parsed(r) == gold(r) for r in rows)
    cmeee = read_jsonl(out / "eval" / "CMeEE-dev.jsonl")
    assert len(cmeee) == 2 * 9 and cmeee[0]["conversation"][0]["human"].startswith("从下面文本中识别出指定的实体类型")


def test_same_seed_same_files(curated, tiny, tmp_path):
    out, _ = curated
    curate(tiny, tmp_path, train_sources={"bc5cdr": "train", "cmeee": "dev", "kuake_qic": "dev",
                                          "pubmedqa": "train", "med_dialogue": "train"},
           eval_suites=SUITES, eval_samples=2, seed=0)
    assert (tmp_path / "stage2.jsonl").read_bytes() == (out / "stage2.jsonl").read_bytes()
