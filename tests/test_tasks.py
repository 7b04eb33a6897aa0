"""One scoring path: the score CLI and the notebooks' score_row/summarize agree, prose answers included."""

from __future__ import annotations

import json
import random

import pytest

from taiyi_utils import answers, tasks
from taiyi_utils.data.formats import FormatError
from taiyi_utils.data.instruct import build_pairs
from taiyi_utils.data.sources import get_source, read_split
from taiyi_utils.evaluation.__main__ import main as cli
from taiyi_utils.evaluation.__main__ import score_files
from taiyi_utils.evaluation.score import score_row
from taiyi_utils.evaluation.summary import summarize


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_prose_yes_no_is_never_read_as_a_letter():
    assert answers.parse_choice("Answer: no. Vitamin D and hepatitis B were studied.") == ""
    assert answers.parse_choice("Yes, D is plausible") == ""
    assert answers.parse_choice("A 45-year-old man should receive D") == "D"
    assert answers.parse_choice("正确答案是C。") == "C" and answers.parse_choice("答案：E. 24小时内") == "E"
    item = tasks.Item(frozenset(tasks.YESNO))
    assert tasks.get_task("qa").parse("Answer: no. Vitamin D and hepatitis B were studied.", item) == "no"


def test_cli_scores_real_bioasq_yes_no_with_prose_answers(raw, tmp_path):
    questions = [q for q in read_split("bioasq", "train", raw) if q.kind == "yesno"][:140]
    assert len(questions) == 140
    flip = {"yes": "no", "no": "yes"}
    gold, pred = [], []
    for n, q in enumerate(questions):
        said = flip[q.answer] if n % 5 == 0 else q.answer  # 28 of 140 wrong: accuracy 0.80
        gold.append({"id": q.id, "text": answers.format_yesno(q.answer, "en")})
        pred.append({"id": q.id, "text": f"Answer: {said}. Vitamin D and hepatitis B were studied."})
    result = score_files("qa", write(tmp_path / "g.jsonl", gold), write(tmp_path / "p.jsonl", pred))
    assert (result["n"], result["accuracy"]) == (140, pytest.approx(0.8))


def prose(pair: dict, rng: random.Random) -> str:
    """A model-like answer: the gold answer with one line dropped or prose around it, in the pair's language."""
    text = pair["conversation"][0]["assistant"]
    lines = text.splitlines()
    choice = rng.randrange(4)
    if choice == 0 and len(lines) > 1:
        lines.pop(rng.randrange(len(lines)))
    elif choice == 1:
        lines.insert(0, "好的，结果如下：" if pair["language"] == "zh" else "Sure, here is the answer:")
    elif choice == 2:
        lines = ["I am not sure." if pair["language"] == "en" else "我不确定。"]
    return "\n".join(lines)


CASES = [
    ("ner", "cmeee", "dev", "ner", 40),
    ("ner", "ncbi_disease", "test", "ner", 60),
    ("re", "cmeie", "dev", "re", 40),
    ("re", "bc5cdr", "test", "re", 20),
    ("cls", "kuake_qic", "dev", "cls", 80),
    ("multilabel", "hoc", "test", "cls", 80),
    ("qa", "pubmedqa", "test", "qa", 60),
    ("qa", "cnmleqa", "test", "qa", 60),
]


@pytest.mark.parametrize("cli_task, key, split, task, n", CASES, ids=[c[1] for c in CASES])
def test_cli_and_notebook_agree_on_real_test_files(raw, tmp_path, cli_task, key, split, task, n):
    rows = build_pairs(read_split(key, split, raw)[:n], get_source(key), tasks=(task,), template_index=0)
    rng = random.Random(0)
    outputs = [prose(r, rng) for r in rows]
    notebook = summarize("", [score_row(r, o) for r, o in zip(rows, outputs)], tasks.get_task(cli_task).metric)
    ids = [r["conversation_id"] for r in rows]
    gold = write(
        tmp_path / "g.jsonl", [{"id": i, "text": r["conversation"][0]["assistant"]} for i, r in zip(ids, rows)]
    )
    pred = write(tmp_path / "p.jsonl", [{"id": i, "text": o} for i, o in zip(ids, outputs)])
    source = write(
        tmp_path / "s.jsonl",
        [{"id": i, "text": r["conversation"][0]["human"], "options": r["options"]} for i, r in zip(ids, rows)],
    )
    result = score_files(cli_task, gold, pred, source)
    assert 0 < notebook["score"] < 1
    assert result["score"] == notebook["score"] and result["n"] == notebook["items"] == len(rows)


def test_cli_by_hand_on_ner_and_re(tmp_path):
    gold = write(
        tmp_path / "g.jsonl",
        [{"id": "1", "text": "chemical: aspirin; ibuprofen\ndisease: none"}, {"id": "2", "text": "疾病：糖尿病"}],
    )
    pred = write(
        tmp_path / "p.jsonl",
        [
            {"id": "1", "text": "Here you go.\nchemical: aspirin\ndisease: fever"},
            {"id": "2", "text": "疾病：糖尿病；高血压"},
        ],
    )
    # tp 2 (aspirin, 糖尿病); fp 2 (fever, 高血压); fn 1 (ibuprofen): P = R = F1 = 0.5 and 2/3
    result = score_files("ner", gold, pred)
    assert (result["tp"], result["fp"], result["fn"]) == (2, 2, 1)
    assert result["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    gold = write(tmp_path / "rg.jsonl", [{"id": "1", "text": "CID: [cisplatin, nephrotoxicity]"}])
    pred = write(
        tmp_path / "rp.jsonl", [{"id": "1", "text": "CID: [nephrotoxicity, cisplatin]; [cisplatin, nephrotoxicity]"}]
    )
    assert (score_files("re", gold, pred)["tp"], score_files("re", gold, pred)["fp"]) == (1, 1)


def test_cli_refuses_duplicate_ids_naming_id_and_line(tmp_path, capsys):
    gold = write(tmp_path / "g.jsonl", [{"id": "q1", "text": "Answer: yes"}, {"id": "q1", "text": "Answer: no"}])
    with pytest.raises(FormatError, match=r"g.jsonl: line 2: duplicate id 'q1' \(first on line 1\)"):
        score_files("qa", gold, gold)
    assert cli(["score", "--task", "qa", "--gold", str(gold), "--pred", str(gold)]) == 2
    assert "duplicate id 'q1'" in capsys.readouterr().err
