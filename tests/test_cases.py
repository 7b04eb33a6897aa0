"""Case studies: items from the real corpora, multi-turn answering with the model's own history, reuse, chat box."""

from __future__ import annotations

import pytest

from taiyi_utils import chat
from taiyi_utils import model as models
from taiyi_utils.evaluation import cases as cs
from taiyi_utils.evaluation.chat_session import ChatSession
from taiyi_utils.viz.cases import side_by_side_html
from taiyi_utils.viz.chat_box import chat_box

TURNS = [
    {"human": "What causes anaemia?", "assistant": "Often iron deficiency."},
    {"human": "How is it treated?", "assistant": "Iron supplements."},
]


@pytest.fixture(scope="module")
def tiny_model():
    return models.load_tokenizer("tiny:llama"), models.load_base_model("tiny:llama")


def test_cases_come_from_the_real_corpora(raw):
    items, skipped = cs.build_cases(raw, per_case=10, max_turns=2)
    assert skipped == {}
    by_case = {name: [i for i in items if i["case"] == name] for name in cs.load_cases()}
    assert len(by_case["event_extraction"]) == 5  # PromptCBLUE-toy dev: 5 per task (SOURCE.md)
    assert all(
        i["conversation"][0]["assistant"].startswith("上述句子中的临床发现事件") for i in by_case["event_extraction"]
    )
    ner = by_case["unseen_type_ner"]
    assert len(ner) == 10 and all(i["options"] == ["drug", "brand", "drug group", "unapproved drug"] for i in ner)
    assert all(len({t for t, _ in i["gold"]}) >= 2 for i in ner)  # records with at least two entity types
    assert all(len(i["conversation"]) == 2 for i in by_case["clinical_case_qa"])  # CMB-Clin cut to max_turns
    assert [len(i["conversation"]) for i in by_case["dialogue_zh"]] == [2]
    assert {i["language"] for i in by_case["translation_en_zh"]} == {"en-zh"}
    assert all(i["conversation"][0]["assistant"] == "" for i in by_case["translation_zh_en"])  # no reference exists
    assert (
        cs.build_cases(raw, ["title_generation"], 3, seed=1)[0]
        == cs.build_cases(raw, ["title_generation"], 3, seed=1)[0]
    )


def test_missing_sources_are_skipped_with_the_reason_and_unknown_cases_refused(tiny):
    items, skipped = cs.build_cases(tiny, per_case=1)
    assert {"event_extraction", "unseen_type_ner", "clinical_case_qa"} <= set(skipped)
    assert "DDI" in skipped["unseen_type_ner"] and "not found" in skipped["unseen_type_ner"]
    assert {"title_generation", "dialogue_en"} <= {i["case"] for i in items}
    with pytest.raises(KeyError, match="no_such_case"):
        cs.build_cases(tiny, ["no_such_case"])


def test_mark_seen_flags_items_whose_text_the_run_trained_on():
    items = [
        {"source_text": "a b", "conversation": [{"human": "q1"}]},
        {"source_text": "", "conversation": [{"human": "q2"}]},
    ]
    train = [
        {"source_text": "a b", "conversation": [{"human": "x"}]},
        {"source_text": "", "conversation": [{"human": "q2"}]},
    ]
    assert [i["seen_in_training"] for i in cs.mark_seen(items, train)] == [True, True]
    assert [i["seen_in_training"] for i in cs.mark_seen(items, train[:1])] == [True, False]


@pytest.mark.parametrize("chat_format", ["template", "taiyi"])
def test_a_later_turn_is_prompted_with_the_earlier_turns(tiny_model, chat_format):
    tokenizer, _ = tiny_model
    prompt = chat.render_prompt(TURNS[1]["human"], tokenizer, chat_format, history=TURNS[:1])
    full = tokenizer.decode(chat.encode_conversation(TURNS, tokenizer, chat_format)["input_ids"])
    assert full.startswith(prompt) and full[len(prompt) :].startswith(TURNS[1]["assistant"])


def test_models_answer_every_turn_with_their_own_history_and_answers_are_reused(tiny_model, tmp_path, monkeypatch):
    tokenizer, model = tiny_model
    items = [
        {
            "conversation_id": "d:0",
            "case": "dialogue_en",
            "title": "D",
            "task": "free",
            "language": "en",
            "conversation": [{"human": t["human"], "assistant": ""} for t in TURNS],
        },
        {
            "conversation_id": "n:0",
            "case": "unseen_type_ner",
            "title": "N",
            "task": "ner",
            "language": "en",
            "options": ["drug"],
            "conversation": [
                {
                    "human": "Extract the drug entities from the following text:\nAspirin helps.",
                    "assistant": "drug: Aspirin",
                }
            ],
        },
    ]
    histories = []
    real = cs.generate
    monkeypatch.setattr(
        cs, "generate", lambda m, t, p, **k: histories.append([list(h) for h in k["histories"]]) or real(m, t, p, **k)
    )
    base = {"base": "base-v1"}  # label -> model identity
    rows = cs.compare_models(model, tokenizer, items, base, tmp_path, max_new_tokens=4)
    assert [(r["item"], r["turn"]) for r in rows] == [("d:0", 0), ("d:0", 1), ("n:0", 0)]
    assert histories[1] == [[{"human": TURNS[0]["human"], "assistant": rows[0]["output"]}]]  # its own answer
    assert [r["follows_format"] for r in rows] == [None, None, False] and rows[2]["reference"] == "drug: Aspirin"
    histories.clear()
    assert cs.compare_models(model, tokenizer, items, base, tmp_path, max_new_tokens=4) == rows
    assert histories == []  # reused from base.json
    cs.compare_models(model, tokenizer, items, base, tmp_path, max_new_tokens=5)
    assert len(histories) == 2  # a different request is answered again
    cs.compare_models(model, tokenizer, items, {"base": "base-v2"}, tmp_path, max_new_tokens=5)
    assert len(histories) == 4  # the same request to another model (a retrained adapter) is answered again
    with pytest.raises(KeyError, match="no adapter 'stage 1'"):
        cs.compare_models(model, tokenizer, items, {"stage 1": "s1"}, tmp_path)


def test_side_by_side_view_has_a_column_per_model_and_escapes_text():
    rows = [
        {
            "model": m,
            "case": "c",
            "title": "Case C",
            "item": "c:1",
            "turn": 0,
            "prompt": "<b>p</b>",
            "reference": "",
            "output": f"{m} says <x>",
            "follows_format": m == "stage 1",
            "seen_in_training": True,
        }
        for m in ("base", "stage 1")
    ]
    page = side_by_side_html(rows)
    assert "<h3>Case C</h3>" in page and page.count("<th") == 4 and "&lt;b&gt;p&lt;/b&gt;" in page
    assert "stage 1 says &lt;x&gt;" in page and "✓ format" in page and "✗ format" in page and "seen in training" in page


def test_chat_box_keeps_the_conversation_until_a_new_one(tiny_model):
    tokenizer, model = tiny_model
    session = ChatSession(model, tokenizer, max_new_tokens=3)
    box = chat_box(session, ["base"])
    transcript, message, (picker, send, new, status) = box.children[0], box.children[1], box.children[2].children
    send.click()
    assert status.value == "type a message first" and session.history == []
    for text in ("What is sepsis?", "<Is it treatable?>"):
        message.value = text
        send.click()
    assert picker.value == "base" and [t["human"] for t in session.history] == ["What is sepsis?", "<Is it treatable?>"]
    assert message.value == "" and "&lt;Is it treatable?&gt;" in transcript.value and "<b>base</b>" in transcript.value
    new.click()
    assert session.history == [] and transcript.value == ""
    with pytest.raises(ValueError, match="empty"):
        session.ask("  ")
