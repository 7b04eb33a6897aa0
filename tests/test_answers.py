"""Answer formats: every real instruction parses back to its gold; parsers survive messy output."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taiyi_utils import answers, tasks
from taiyi_utils.data.instruct import build_pairs
from taiyi_utils.data.sources import load_sources, read_split


def parsed(pair: dict):
    """What the evaluation will read back from the assistant text, in the gold's shape."""
    text, task = pair["conversation"][-1]["assistant"], pair["task"]
    if task not in tasks.TASKS:
        return text
    value = tasks.get_task(task).parse(text, tasks.item_of(pair))
    return sorted(value) if isinstance(value, set) else value


def gold(pair: dict):
    value = tasks.gold_structure(pair) if pair["task"] in tasks.TASKS else pair["gold"]
    return sorted(value) if isinstance(value, set) else value


SPLITS = [(key, split) for key, source in load_sources().items() for split in source.files]


@pytest.mark.parametrize("key, split", SPLITS, ids=[f"{k}-{s}" for k, s in SPLITS])
def test_round_trip_on_every_real_dataset(raw, key, split):
    try:
        records = read_split(key, split, raw)
    except FileNotFoundError as err:
        pytest.skip(f"not in the shared data: {err}")
    pairs = build_pairs(records, load_sources()[key], seed=1)
    assert pairs
    mismatched = [p["conversation_id"] for p in pairs if parsed(p) != gold(p)]
    assert mismatched == []


def test_round_trip_with_whole_ner_prompts(raw):
    pairs = build_pairs(read_split("cmeee", "dev", raw)[:300], load_sources()["cmeee"], split_ner_by_type=False)
    assert len(pairs) == 300 and all(parsed(p) == gold(p) for p in pairs)
    assert all(len(p["options"]) == 9 for p in pairs)


def test_formats_follow_taiyi_conventions():
    assert (
        answers.format_ner({"gene": ["FBN1"], "disease": ["Marfan syndrome"]}, "en")
        == "gene: FBN1\ndisease: Marfan syndrome"
    )
    assert answers.format_ner({"疾病": ["沙眼衣原体肺炎"], "药物": []}, "zh") == "疾病：沙眼衣原体肺炎\n药物：无"
    assert answers.format_re({"relation": [("a", "b"), ("c", "d")]}, "en") == "relation: [a, b]; [c, d]"
    assert answers.format_labels(["Treatment", "Mechanism"], "en") == "Result: Treatment; Mechanism"
    assert answers.format_labels(["医疗费用"], "zh") == "上述文本被分类为：医疗费用"
    assert answers.format_choice("B", "Tell the attending", "en") == "Answer: B. Tell the attending"


def test_parsers_tolerate_real_model_habits():
    messy = "Sure! Here are the entities.\n疾病：糖尿病；高血压\n疾病：糖尿病\nchemical:  aspirin ;  ibuprofen \n"
    assert answers.parse_ner(messy) == {
        ("疾病", "糖尿病"),
        ("疾病", "高血压"),
        ("chemical", "aspirin"),
        ("chemical", "ibuprofen"),
    }
    assert answers.parse_ner(messy, types={"chemical"}) == {("chemical", "aspirin"), ("chemical", "ibuprofen")}
    assert answers.parse_re("药物治疗：[糖尿病，二甲双胍]；[高血压, 硝苯地平]") == {
        ("药物治疗", "糖尿病", "二甲双胍"),
        ("药物治疗", "高血压", "硝苯地平"),
    }
    assert answers.parse_labels("The answer is 治疗方案。", {"治疗方案", "其他"}) == {"治疗方案"}
    assert answers.parse_choice("I think the answer is (C) because ...") == "C"
    assert answers.parse_choice("") == "" and answers.parse_yesno("Perhaps.") == ""
    assert answers.parse_ner("") == set() and answers.parse_re("relation: none") == set()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_parsers_never_raise(text):
    answers.parse_ner(text, text)
    answers.parse_re(text, text)
    answers.parse_events(text)
    answers.parse_labels(text, {"a", "b"})
    assert answers.parse_choice(text) in ("", *"ABCDE")
    assert answers.parse_yesno(text) in ("", "yes", "no", "maybe")


REPEATED = st.sampled_from(["fever ; ", "[a, b]; ", "[a, ", "( 8 ; ", "chemical: x; ", "；", "Answer: no. ", "A"])


@settings(max_examples=25, deadline=None)
@given(
    unit=REPEATED,
    head=st.sampled_from(["disease: ", "CID: ", "Result: ", "答案：", ""]),
    size=st.integers(20_000, 100_000),
)
def test_parsers_and_format_checks_are_linear_on_long_repetitive_answers(unit, head, size):
    """A cut-off answer repeating itself (what a small model does at its token limit) parses in well
    under a second at 100 KB; the backtracking pair regex took 19 s at 28 pairs."""
    import time

    from taiyi_utils import tasks

    text = head + unit * (size // len(unit))
    source = (unit * (size // len(unit)))[:size]
    start = time.perf_counter()
    answers.parse_ner(text, source)
    answers.parse_re(text, source)
    answers.parse_labels(text, {"a", "b"})
    answers.parse_choice(text)
    for task, options in (("ner", ["disease"]), ("re", ["CID"]), ("cls", ["a"]), ("qa", list("ABCD"))):
        tasks.follows_format({"task": task, "options": options, "conversation": [{"human": source}]}, text)
    assert time.perf_counter() - start < 1.0


def shipped_label_sets() -> dict[str, list[str]]:
    """Every label set the workbench ships: declared in sources.yaml, or read from a corpus the shared data
    holds (CHIP-CTC's 44 classes, when it is there), plus the binary sets where one label contains another."""
    sets = {key: list(source.labels.values()) for key, source in load_sources().items() if source.labels}
    from taiyi_utils.paths import SHARED_RAW

    if SHARED_RAW.is_dir():
        sets["chip_ctc"] = sorted({x for r in read_split("chip_ctc", "train", SHARED_RAW) for x in r.labels})
    return {**sets, "binary": ["related", "not related"], "binary-zh": ["疾病", "非疾病"]}


LABEL_SETS = shipped_label_sets()
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
CASES = {
    "as is": str,
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "full width": lambda s: s.upper().translate(str.maketrans(FULL_WIDTH)),
}
PROSE = [
    ("Result: ", ""),
    ("result：", "。"),
    ("Result: ", " (high confidence)"),
    ("上述文本被分类为：", ""),
    ("Answer: ", "!"),
    ("I think the text is best described as ", "."),
    ("The text is about '", "', I am fairly sure."),
    ("", ""),
    ("Looking at the sentence:\n", "\n"),
]


@settings(max_examples=400, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(LABEL_SETS)))
def test_every_shipped_label_in_any_case_and_prose_parses_to_itself_alone(data, name):
    labels = LABEL_SETS[name]
    label = data.draw(st.sampled_from(labels), "label")
    written = CASES[data.draw(st.sampled_from(sorted(CASES)), "case")](label)
    before, after = data.draw(st.sampled_from(PROSE), "prose")
    assert answers.parse_labels(before + written + after, set(labels)) == {label}


def test_a_label_that_contains_another_never_flips():
    labels = {"related", "not related"}
    assert answers.parse_labels("Result: Not related", labels) == {"not related"}
    assert answers.parse_labels("The gene and disease are not related.", labels) == {"not related"}
    assert answers.parse_labels("Result: unrelated", labels) == {"unrelated"}  # a claim, not "related"
    assert answers.parse_labels("They are correlated.", labels) == set()  # no whole label named
    assert answers.parse_labels("上述文本被分类为：非疾病", {"疾病", "非疾病"}) == {"非疾病"}


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("Answer: yes", "yes"),
        ("There is no evidence against it, so yes.", "yes"),  # the last verdict word, not the first
        ("Yes, there is no doubt.", "yes"),  # an opening verdict with punctuation
        ("No. Maybe later studies will tell.", "no"),
        ("The trial was small; answer: maybe. No firm yes.", "maybe"),  # after the last Answer:
        ("I would say NO", "no"),
        ("答案：yes", "yes"),
        ("答案：是", "yes"),
        ("根据摘要，答案是否定的：no", "no"),
        ("答案：不是。", "no"),
        ("答案为：可能", "maybe"),
        ("这项研究没有给出结论。", ""),  # Chinese prose names a verdict only after 答案
        ("Perhaps.", ""),
    ],
)
def test_yes_no_rule_in_both_languages(text, verdict):
    assert answers.parse_yesno(text) == verdict
