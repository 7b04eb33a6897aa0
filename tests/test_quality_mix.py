"""Dedup, length filter, overlap and stage mixtures on small hand-made pair lists."""

from __future__ import annotations

import pytest

from taiyi_utils.data import mix, quality

ABSTRACT = (
    "Cisplatin nephrotoxicity was seen in twelve of the forty patients treated for ovarian cancer. "
    "Hydration reduced the incidence of renal damage in a later cohort of thirty patients."
)


def pair(dataset, human, assistant="x", category="NER", task="ner", source_text=None):
    return {
        "conversation_id": f"{dataset}:{human}",
        "dataset": dataset,
        "category": category,
        "task": task,
        "language": "en",
        "conversation": [{"human": human, "assistant": assistant}],
        "source_text": source_text or human,
        "record_id": human,
    }


def test_dedup_counts_exact_then_normalized():
    pairs = [
        pair("a", "Fever  and cough"),
        pair("a", "Fever  and cough"),
        pair("b", "fever and COUGH"),
        pair("b", "Ｆｅｖｅｒ and cough"),
        pair("b", "headache"),
    ]
    kept, removed = quality.dedup(pairs)
    assert [p["conversation"][0]["human"] for p in kept] == ["Fever  and cough", "headache"]
    assert removed == {"exact": {"a": 1}, "normalized": {"b": 2}}


def test_length_filter_uses_stored_token_counts():
    pairs = [pair("a", "one"), pair("a", "two words"), pair("b", "three words here")]
    quality.add_token_counts(pairs, lambda texts: [len(t.split()) for t in texts])
    assert [p["tokens"] for p in pairs] == [2, 3, 4]  # human words + the one-word answer
    kept, dropped = quality.length_filter(pairs, 3)
    assert len(kept) == 2 and dropped == {"b": 1}


def test_overlap_finds_a_test_sentence_inside_a_training_abstract():
    train = [pair("bc5cdr", "abstract", source_text=ABSTRACT), pair("bc5cdr", "other", source_text="Unrelated text.")]
    sentence = "Hydration reduced the incidence of renal damage in a later cohort of thirty patients."
    evaluation = {
        "suite": [pair("t", "q1", source_text=sentence), pair("t", "q2", source_text="Not in training.")],
        "exact": [pair("t", "q3", source_text="unrelated   TEXT.")],
    }
    kept, report = quality.overlap(train, evaluation)
    assert [p["record_id"] for p in kept] == []  # both training pairs overlap (sentence; exact short text)
    assert report["eval_items_in_training"] == {"suite": 1, "exact": 1}
    assert report["training_pairs_overlapping"] == {"bc5cdr": 2}
    kept, report = quality.overlap(train, {"suite": evaluation["suite"]}, remove=False)
    assert len(kept) == 2 and report["training_pairs_overlapping"] == {"bc5cdr": 1}


def test_short_boilerplate_sentences_are_not_overlap():
    train = [pair("p", "a", source_text="Retrospective review. Patients did well after surgery of the knee joint.")]
    evaluation = {
        "s": [pair("t", "b", source_text="Retrospective review. Something entirely different happened here.")]
    }
    kept, report = quality.overlap(train, evaluation)
    assert len(kept) == 1 and report["eval_items_in_training"] == {"s": 0}


def mixture():
    return (
        [pair("ner_ds", f"n{i}") for i in range(10)]
        + [pair("cls_ds", f"c{i}", category="TC", task="cls") for i in range(4)]
        + [pair("qa_ds", f"q{i}", category="QA", task="qa") for i in range(6)]
        + [pair("chat", f"d{i}", category="MRD", task="dialogue") for i in range(3)]
    )


def test_stages_split_by_family_with_caps_and_replay():
    stage1, stage2 = mix.build_stages(
        mixture(), cap_per_dataset=5, caps={"cls_ds": 2, "qa_ds:qa": 4}, replay_fraction=0.5, seed=3
    )
    assert sorted(p["dataset"] for p in stage1) == ["cls_ds"] * 2 + ["ner_ds"] * 5
    families = [p["category"] for p in stage2]
    assert families.count("QA") == 4 and families.count("MRD") == 3
    assert families.count("NER") + families.count("TC") == round(0.5 * 7)
    assert {p["conversation_id"] for p in stage2 if p["category"] in ("NER", "TC")} <= {
        p["conversation_id"] for p in stage1
    }


def test_stages_are_deterministic_by_seed():
    first = mix.build_stages(mixture(), cap_per_dataset=5, seed=7)
    again = mix.build_stages(mixture(), cap_per_dataset=5, seed=7)
    other = mix.build_stages(mixture(), cap_per_dataset=5, seed=8)
    ids = lambda stages: [[p["conversation_id"] for p in s] for s in stages]  # noqa: E731
    assert ids(first) == ids(again) != ids(other)
    with pytest.raises(ValueError, match="replay_fraction"):
        mix.build_stages(mixture(), replay_fraction=1.5)


def test_overlap_is_content_not_stock_phrasing_on_the_medqa_releases(raw):
    """USMLE questions share stock sentences ("Which of the following is the most likely diagnosis?" in 137)
    but no dev question repeats a test one; 69 MCMLE dev questions equal test ones and more share their case."""
    from taiyi_utils.data.records import main_text
    from taiyi_utils.data.sources import read_split

    def pairs(source, split):
        return [pair(source, r.id, source_text=main_text(r)) for r in read_split(source, split, raw)]

    for source, at_most, at_least in (("medqa_usmle", 20, 0), ("medqa_mcmle", 10_000, 69)):
        _, report = quality.overlap(pairs(source, "dev"), {"test": pairs(source, "test")})
        flagged = report["eval_items_in_training"]["test"]
        assert at_least <= flagged <= at_most, (source, flagged)
        assert report["eval_items_in_training_after_removal"]["test"] == 0
    assert len(report["examples"]["test"]) == 3 and report["examples"]["test"][0]["training_dataset"] == "medqa_mcmle"
