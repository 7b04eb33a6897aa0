"""Paired comparisons and intervals, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from taiyi_utils.evaluation import metrics
from taiyi_utils.evaluation.compare import compare


def qa_rows(model: str, suite: str, correct: list[bool]) -> list[dict]:
    return [
        {"model": model, "suite": suite, "task": "qa", "record_id": f"r{i}", "correct": c, "gold": "A", "pred": "A"}
        for i, c in enumerate(correct)
    ]


def test_wilson_matches_the_textbook_values():
    # 8 of 10: Wilson's 95% interval is [0.4902, 0.9433] (Brown, Cai & DasGupta 2001, table values)
    assert metrics.wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    low, high = metrics.wilson(0, 30)
    assert low == 0.0 and high == pytest.approx(0.1135, abs=1e-4)  # not the bootstrap's degenerate (0, 0)
    assert metrics.wilson(30, 30)[0] == pytest.approx(1 - 0.1135, abs=1e-4)


def test_paired_interval_sees_a_gain_that_separate_intervals_do_not():
    rng = np.random.default_rng(1)
    base = list(rng.random(30) < 0.5)
    better = list(base)
    flipped = [i for i, c in enumerate(base) if not c][:6]
    for i in flipped:
        better[i] = True  # six more right, none lost
    k_a, k_b = sum(base), sum(better)
    a_low, a_high = metrics.wilson(k_a, 30)
    b_low, _ = metrics.wilson(k_b, 30)
    assert b_low < a_high  # the separate intervals overlap...
    rows = compare(qa_rows("base", "S", base) + qa_rows("stage 2", "S", better), {"S": "accuracy"})
    suite = next(r for r in rows if r["suite"] == "S")
    assert suite["diff"] == pytest.approx(6 / 30)
    assert 0 < suite["ci_low"] < suite["diff"] < suite["ci_high"]  # ...the paired one does not
    assert suite["n"] == 30 and suite["significant"]


def test_identical_models_differ_by_exactly_zero():
    correct = [True, False] * 15
    rows = compare(qa_rows("base", "S", correct) + qa_rows("stage 1", "S", correct), {"S": "accuracy"})
    assert {(r["suite"], r["diff"], r["ci_low"], r["ci_high"]) for r in rows} == {
        ("S", 0.0, 0.0, 0.0),
        ("average", 0.0, 0.0, 0.0),
    }


def test_f1_differences_resample_whole_records_and_pair_only_shared_ones():
    def ner(model, record, counts):
        return {"model": model, "suite": "N", "task": "ner", "record_id": record, "counts": counts}

    # record r1 has two prompts (two entity types); r3 was answered by the base model only
    base = [ner("base", "r1", (1, 1, 1)), ner("base", "r1", (0, 0, 2)), ner("base", "r2", (1, 0, 0))]
    base.append(ner("base", "r3", (0, 5, 0)))
    tuned = [ner("stage 2", "r1", (2, 0, 1)), ner("stage 2", "r1", (1, 0, 1)), ner("stage 2", "r2", (1, 0, 0))]
    row = next(r for r in compare(base + tuned, {"N": "micro_f1"}) if r["suite"] == "N")
    # base over r1, r2: tp 2 fp 1 fn 3 -> F1 4/8; stage 2: tp 4 fp 0 fn 2 -> F1 8/10 (r3 is not shared)
    assert row["n"] == 2
    assert row["diff"] == pytest.approx(0.8 - 0.5)


def test_average_is_the_mean_difference_over_the_chosen_suites():
    rows = compare(
        qa_rows("base", "S", [False] * 30)
        + qa_rows("stage 2", "S", [True] * 30)
        + qa_rows("base", "T", [True] * 30)
        + qa_rows("stage 2", "T", [True] * 30),
        {"S": "accuracy", "T": "accuracy"},
        average_over=["S", "T"],
    )
    average = next(r for r in rows if r["suite"] == "average")
    assert (average["diff"], average["ci_low"], average["ci_high"]) == (0.5, 0.5, 0.5)
    assert average["n"] == 60 and average["suites"] == ["S", "T"] and average["b"] == "stage 2"


def test_summaries_give_accuracies_a_wilson_interval_and_f1_a_record_bootstrap():
    from taiyi_utils.evaluation.summary import summarize

    scored = [{**r, "format_ok": True} for r in qa_rows("base", "S", [True] * 8 + [False] * 2)]
    summary = summarize("S", scored, "accuracy")
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((0.4902, 0.9433), abs=1e-4)


def test_a_model_with_fewer_records_answers_the_first_ones_and_is_paired_on_those():
    from taiyi_utils.evaluation.runs import first_records
    from taiyi_utils.settings import EvalConfig

    config = EvalConfig(records_per_suite=30, records_per_model={"stage 1": 10})
    assert (config.records_for("stage 1"), config.records_for("base")) == (10, 30)
    assert EvalConfig(records_per_model={"stage 1": 10}).records_for("base") == -1
    items = [{"record_id": f"r{i // 2}", "n": i} for i in range(8)]  # two prompts per record
    assert [r["n"] for r in first_records({"S": items}, 3)["S"]] == [0, 1, 2, 3, 4, 5]
    rows = compare(qa_rows("base", "S", [False] * 30) + qa_rows("stage 1", "S", [True] * 10), {"S": "accuracy"})
    assert next(r for r in rows if r["suite"] == "S")["n"] == 10


def test_a_users_suites_join_the_table_the_average_and_the_comparison(tmp_path):
    from taiyi_utils.evaluation.suites import load_suites
    from taiyi_utils.viz.evaluation import results_table

    mine = tmp_path / "suites.yaml"
    mine.write_text(
        "MyQA: {task: qa, metric: accuracy, source: pubmedqa, split: dev, unit: question, average: true,\n"
        "       reference: {taiyi: {score: 50.0, metric: accuracy, comparable: unverified, why: other prompts}}}\n"
    )
    suites = load_suites((str(mine),))
    scored = qa_rows("base", "MyQA", [False] * 10) + qa_rows("stage 2", "MyQA", [True] * 5 + [False] * 5)
    scored += qa_rows("base", "PubMedQA", [False] * 10) + qa_rows("stage 2", "PubMedQA", [False] * 10)
    average = next(r for r in compare(scored, {"MyQA": "accuracy", "PubMedQA": "accuracy"}, suites=suites)
                   if r["suite"] == "average")  # fmt: skip
    assert average["suites"] == ["MyQA", "PubMedQA"] and average["diff"] == pytest.approx(0.25)
    summaries = [
        {"model": m, "suite": s, "score": v, "ci_low": 0.0, "ci_high": 1.0, "items": 10, "records": 10}
        for m, s, v in (("base", "MyQA", 0.0), ("stage 2", "MyQA", 0.5), ("base", "PubMedQA", 0.2), ("stage 2", "PubMedQA", 0.2))
    ]  # fmt: skip
    table = results_table(summaries, suites)
    assert (table.loc["MyQA", "unit"], table.loc["MyQA", "metric"], table.loc["MyQA", "Taiyi (paper)"]) == (
        "question",
        "accuracy",
        50.0,
    )
    row = table.loc["average (2 suites; the paper averages 13)"]
    assert row["stage 2"] == 35.0 and row["Taiyi (paper) comparable"] == "1 of 2 yes"  # PubMedQA yes, MyQA not


def test_the_ablation_table_sets_the_papers_numbers_beside_ours():
    from taiyi_utils.viz.evaluation import ablation_table

    rows = [{"suite": "PubMedQA", "a": "one-stage", "b": "two-stage", "n": 30, "diff": -0.367, "ci_low": -0.6,
             "ci_high": -0.1}, {"suite": "PubMedQA", "a": "base", "b": "two-stage", "n": 30, "diff": 0.5,
             "ci_low": 0.1, "ci_high": 0.9}]  # fmt: skip
    table = ablation_table(rows)
    assert table.loc["PubMedQA"].to_dict() == {
        "paper one-stage": 61, "paper two-stage": 62, "paper difference": 1, "ours: difference (points)": -36.7,
        "ours: 95% CI": "[-60.0, -10.0]", "ours: n": 30, "paper's row": "PubMedQA QA",
    }  # fmt: skip
    assert table.loc["CHEMDNER", "paper difference"] == 30 and table.loc["CHEMDNER", "ours: n"] == ""
