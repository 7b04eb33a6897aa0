"""Metrics and scoring against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from taiyi_utils.evaluation import metrics
from taiyi_utils.evaluation.score import score_row


def row(task, gold, options, human="text", **extra):
    return {
        "conversation_id": "x",
        "suite": "s",
        "task": task,
        "language": "en",
        "record_id": "r",
        "gold": gold,
        "options": options,
        "conversation": [{"human": human, "assistant": ""}],
        **extra,
    }


def test_micro_prf_by_hand():
    # tp=3, fp=1, fn=2 -> P=3/4, R=3/5, F1=2*.75*.6/1.35=0.6667
    result = metrics.micro([(2, 1, 0), (1, 0, 2)])
    assert (result["tp"], result["fp"], result["fn"]) == (3, 1, 2)
    assert result["precision"] == pytest.approx(0.75) and result["recall"] == pytest.approx(0.6)
    assert result["f1"] == pytest.approx(2 / 3)
    # nothing to find and nothing claimed: no error was made; something to find and nothing claimed: 0
    assert metrics.prf(0, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert metrics.prf(0, 0, 3) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_macro_f1_by_hand():
    gold = [{"a"}, {"a"}, {"b"}, {"c"}]
    pred = [{"a"}, {"b"}, {"b"}, {"a"}]
    # a: tp1 fp1 fn1 -> .5 ; b: tp1 fp1 fn0 -> .6667 ; c: tp0 fp0 fn1 -> 0 ; mean = .3889
    assert metrics.macro_f1(gold, pred) == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    # d was offered but neither present nor predicted: its F1 is undefined and left out, not a 0
    assert metrics.macro_f1(gold, pred, ["a", "b", "c", "d"]) == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert metrics.macro_f1([{"a"}, set()], [{"a"}, set()], ["a", "b"]) == 1.0


def test_bootstrap_interval_brackets_the_estimate_and_shrinks_with_data():
    small = [True, False] * 10
    large = [True, False] * 500
    lo_s, hi_s = metrics.bootstrap_ci(metrics.item_statistics([{"correct": c} for c in small], "accuracy"), "accuracy")
    lo_l, hi_l = metrics.bootstrap_ci(metrics.item_statistics([{"correct": c} for c in large], "accuracy"), "accuracy")
    assert lo_s < 0.5 < hi_s and lo_l < 0.5 < hi_l and (hi_l - lo_l) < (hi_s - lo_s) / 3


def test_intervals_at_0_and_1_are_wilsons_over_records_not_a_point():
    """Every resample of a perfect (or hitless) slice repeats its score, so the percentile bootstrap gives
    [1, 1] (or [0, 0]); 30 records cannot show that much: Wilson's interval for 30 of 30 (0 of 30)."""
    perfect, hitless = np.array([(2, 0, 0)] * 30, dtype=float), np.array([(0, 1, 2)] * 30, dtype=float)
    assert metrics.bootstrap_ci(perfect, "micro_f1") == metrics.wilson(30, 30)
    assert metrics.bootstrap_ci(hitless, "micro_f1") == metrics.wilson(0, 30)
    assert metrics.wilson(30, 30)[0] == pytest.approx(0.8865, abs=1e-4)  # 1 - z^2 / (n + z^2)
    # perfect multi-label answers on abstracts that lack some labels: every resample scores 1, so Wilson again
    labels = ["a", "b", "c"]
    gold = [{"a"}] * 28 + [{"b"}, {"c"}]
    stats = metrics.item_statistics([{"gold": g, "pred": g} for g in gold], "macro_f1", labels)
    assert metrics.bootstrap_ci(stats, "macro_f1") == metrics.wilson(30, 30)


def test_ner_scoring_and_error_categories():
    gold = [["chemical", "cisplatin"], ["disease", "renal failure"], ["disease", "fever"]]
    output = "chemical: cisplatin; renal failure\ndisease: failure; rash"
    scored = score_row(row("ner", gold, ["chemical", "disease"]), output)
    assert scored["counts"] == (1, 3, 2)
    categories = sorted((e["category"], e["pred"] or e["gold"]) for e in scored["errors"])
    assert categories == [
        ("boundary error", "failure"),
        ("exact", "cisplatin"),
        ("missing", "fever"),
        ("spurious", "rash"),
        ("type error", "renal failure"),
    ]


def test_re_scoring_with_document_level_aliases():
    gold = [["CID", "cisplatin", "nephrotoxicity"], ["CID", "lithium", "tremor"]]
    aliases = {"cisplatin": ["Cisplatin", "CDDP"], "nephrotoxicity": ["renal toxicity"]}
    output = (
        "CID: [CDDP, Renal  toxicity]; [cisplatin, nephrotoxicity]; [tremor, lithium]; [aspirin, rash]\n"
        "other: [lithium, tremor]"
    )
    scored = score_row(row("re", gold, ["CID", "other"], aliases=aliases), output)
    # two predictions hit the cisplatin pair (count once, tp=1); reversed lithium/tremor and aspirin/rash are fp;
    # the lithium pair under the wrong relation is fp too; lithium-tremor is not found -> fn=1
    assert scored["counts"] == (1, 3, 1)
    assert sorted(e["category"] for e in scored["errors"]) == [
        "exact",
        "reversed direction",
        "spurious",
        "wrong relation",
    ]


def test_classification_and_qa_scoring():
    single = score_row(row("cls", ["治疗方案"], ["治疗方案", "其他"]), "上述文本被分类为：其他")
    assert single["counts"] == (0, 1, 1) and single["errors"][0] == {
        "category": "confusion",
        "type": "",
        "gold": "治疗方案",
        "pred": "其他",
    }
    multi = score_row(row("cls", ["a", "b"], ["a", "b", "c"]), "Result: b; c")
    assert multi["counts"] == (1, 1, 1)
    mc = score_row(row("qa", "C", ["A", "B", "C", "D"]), "Answer: B. something")
    assert (mc["correct"], mc["errors"][0]["pred"]) == (False, "B")
    yesno = score_row(row("qa", "maybe", ["yes", "no", "maybe"]), "Answer: maybe")
    assert yesno["correct"] and yesno["errors"] == [] and yesno["format_ok"]
