"""Evaluation runs: resumable cached generation, the smoke run's metrics and exports, the score CLI."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest

from taiyi_utils import model as models
from taiyi_utils.evaluation.limits import LIMIT_SLACK, answer_limits
from taiyi_utils.evaluation.predict import item_key, model_identity, predict
from taiyi_utils.evaluation.runs import load_eval_rows
from taiyi_utils.files import read_jsonl


class Scripted:
    """An answering engine whose answer to each prompt is ``answer(prompt_ids, limit)``; records what it was asked.
    With ``stop``, the user interrupts the run after the first answers came back."""

    backend = "scripted"

    def __init__(self, answer, stop: bool = False):
        self.answer, self.stop, self.asked = answer, stop, []

    def identity(self):
        return {"backend": self.backend}

    def acting_as(self, label):
        return contextlib.nullcontext()

    def answer_ids(self, prompt_ids, limits, eos_token_id, on_answers=None):
        answers = {}
        for i, (ids, limit) in enumerate(zip(prompt_ids, limits)):
            self.asked.append(ids)
            answers[i] = self.answer(ids, limit)
            on_answers({i: answers[i]})
            if self.stop:
                raise KeyboardInterrupt
        return [answers[i] for i in range(len(prompt_ids))]


def test_interrupted_evaluation_resumes_without_recomputing(tiny, tmp_path):
    from taiyi_utils.curation import curate
    from taiyi_utils.evaluation.engines import ContinuousBatching

    curate(
        tiny,
        tmp_path / "data",
        train_sources={"kuake_qic": "dev"},
        eval_suites=["KUAKE-QIC-dev", "PubMedQA"],
        eval_samples=3,
    )
    rows = load_eval_rows(tmp_path / "data" / "eval", ["KUAKE-QIC-dev"])["KUAKE-QIC-dev"]
    tokenizer, model = models.load_tokenizer("tiny:llama"), models.load_base_model("tiny:llama")
    engine = ContinuousBatching(model, batch_size=2)
    real = lambda ids, limit: engine.answer_ids([ids], [limit], tokenizer.eos_token_id)[0]  # noqa: E731
    cache = tmp_path / "cache.jsonl"
    with pytest.raises(KeyboardInterrupt):
        predict(Scripted(real, stop=True), tokenizer, rows, cache)
    assert len(read_jsonl(cache)) == 1  # the finished answer was kept
    with cache.open("a") as handle:
        handle.write('{"id": "half-written')  # a line cut short by a kill
    resumed = Scripted(real)
    outputs = predict(resumed, tokenizer, rows, cache)
    assert len(resumed.asked) == len(rows) - 1 and set(outputs) == {item_key(r) for r in rows}
    assert outputs == predict(engine, tokenizer, rows, tmp_path / "uninterrupted.jsonl")  # the same answers


@pytest.mark.slow
def test_smoke_run_scores_every_suite_for_every_model_and_exports_html(smoke_run):
    run_dir, _ = smoke_run
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    suites = {p.stem for p in (run_dir / "data" / "eval").glob("*.jsonl")}
    assert {(m["model"], m["suite"]) for m in metrics} == {
        (model, s) for model in ("base", "stage 1", "stage 2") for s in suites
    }
    assert all(0 <= m["ci_low"] <= m["score"] <= m["ci_high"] <= 1 for m in metrics)
    for suite in suites:  # stage 1 answers 1 record, the others 2: every model answers under one limit
        mine = [m for m in metrics if m["suite"] == suite]
        assert len({m["answer_limit"] for m in mine}) == 1 and {m["model"]: m["records"] for m in mine}["stage 1"] == 1
    predictions = read_jsonl(run_dir / "eval" / "predictions.jsonl")
    assert {p["model"] for p in predictions} == {"base", "stage 1", "stage 2"}
    page = (run_dir / "eval" / "error_browser.html").read_text()
    assert page.startswith("<html>") and "gold only" in page and "<h2>stage 2 · " in page


def score_cli(task: str | None, gold, pred, source=None) -> dict:
    """The score CLI as a user runs it, in its own process."""
    command = [sys.executable, "-m", "taiyi_utils.evaluation", "score", "--pred", str(pred), "--json"]
    for flag, value in (("--task", task), ("--gold", gold), ("--source", source)):
        command += [flag, str(value)] if value else []
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def test_score_cli_matches_hand_computed_values(tmp_path):
    gold = ['{"id": "1", "text": "Result: a; b"}', '{"id": "2", "text": "Result: c"}']
    pred = ['{"id": "1", "text": "Result: b"}', '{"id": "2", "text": "Result: c; d"}']
    (tmp_path / "g.jsonl").write_text("\n".join(gold) + "\n")
    (tmp_path / "p.jsonl").write_text("\n".join(pred) + "\n")
    # tp=2 (b, c), fp=1 (d), fn=1 (a): P = R = F1 = 2/3
    result = score_cli("multilabel", tmp_path / "g.jsonl", tmp_path / "p.jsonl")
    assert result["n"] == 2 and result["precision"] == pytest.approx(2 / 3) and result["f1"] == pytest.approx(2 / 3)
    qa_gold = tmp_path / "qg.jsonl"
    qa_gold.write_text('{"id": "1", "text": "Answer: B. x"}\n{"id": "2", "text": "Answer: yes"}\n')
    qa_pred = tmp_path / "qp.jsonl"
    qa_pred.write_text('{"id": "1", "text": "Answer: B"}\n{"id": "2", "text": "Answer: no"}\n')
    result = score_cli("qa", qa_gold, qa_pred)
    assert (result["n"], result["accuracy"], result["metric"]) == (2, 0.5, "accuracy")


def test_answer_limits_cover_every_gold_answer_and_cut_answers_are_marked(raw, tmp_path):
    from taiyi_utils.data.instruct import build_pairs
    from taiyi_utils.data.sources import get_source, read_split

    tokenizer = models.load_tokenizer("embedded:smollm2-135m")
    rows = [
        {**p, "suite": "CMeIE-dev"}
        for p in build_pairs(
            read_split("cmeie", "dev-eval", raw)[:60], get_source("cmeie"), tasks=("re",), template_index=0
        )
    ]
    longest = max(
        len(tokenizer(r["conversation"][0]["assistant"], add_special_tokens=False)["input_ids"]) for r in rows
    )
    assert answer_limits(rows, tokenizer) == {"CMeIE-dev": longest + LIMIT_SLACK}
    assert longest > 160  # the old fixed cap would have cut the longest gold answers off

    limit = answer_limits(rows[:2], tokenizer)["CMeIE-dev"]

    engine = Scripted(lambda ids, n: [7] * (n if ids == engine.asked[0] else n - 1))  # the first stops at its limit
    outputs = predict(engine, tokenizer, rows[:2], tmp_path / "cache.jsonl")
    assert [(o["cut"], o["limit"]) for o in outputs.values()] == [(True, limit), (False, limit)]


def test_results_table_flags_comparability_and_averages_the_papers_suites():
    from taiyi_utils.viz.evaluation import results_table

    def summary(model, suite, score, macro=None):
        return {
            "model": model,
            "suite": suite,
            "score": score,
            "ci_low": score - 0.1,
            "ci_high": score + 0.1,
            "items": 30,
            "records": 10 if model == "stage 1" else 30,
            "answer_limit": 64,
            "gold_over_limit": 20 if suite == "HoC" else 0,
            **({"macro_f1": macro} if macro is not None else {}),
        }

    summaries = [
        summary(m, s, v, macro)
        for m in ("base", "stage 1", "stage 2")
        for s, v, macro in (
            ("HoC", 0.5, 0.5),
            ("HoC-sentences", 0.4, 0.2),
            ("KUAKE-QIC-dev", 0.6, 0.3),
            ("CNMLEQA", 0.9, None),
        )
    ]
    table = results_table(summaries)
    assert table.loc["HoC", "metric"] == "macro_f1" and table.loc["HoC", "unit"] == "abstract"
    assert (
        table.loc["HoC", "Taiyi (paper) comparable"] == "no"
        and table.loc["HoC", "best fine-tuned (paper) comparable"] == "no"
    )
    assert table.loc["KUAKE-QIC-dev", "base macro_f1"] == 30.0  # ChatGPT's macro-F1 gets ours beside it
    average = table.loc["average (2 suites; the paper averages 13)"]  # HoC-sentences and KUAKE-QIC only
    assert average["base"] == 50.0 and average["Taiyi (paper)"] == round((80.0 + 77.4) / 2, 1)
    assert average["Taiyi (paper) comparable"] == "2 of 2 yes"  # HoC-sentences and KUAKE-QIC
    assert table.attrs["paper_average"]["Taiyi (paper)"] == 65.1
    assert (table.loc["CNMLEQA", "base n"], table.loc["CNMLEQA", "stage 1 n"]) == (30, 10)  # each model's own n
    assert table.loc["HoC", "scorable"] == "no: 20 of 30 gold answers are longer than the 64-token limit"
    assert table.loc["CNMLEQA", "scorable"] == "yes" and "Wilson" in table.attrs["caption"]


def test_cached_answers_are_reused_only_for_the_same_model_and_prompt(tmp_path):
    tokenizer = models.load_tokenizer("tiny:llama")
    rows = [
        {
            "suite": "S",
            "conversation_id": str(i),
            "task": "qa",
            "conversation": [{"human": f"question {i}", "assistant": "Answer: yes"}],
        }
        for i in range(3)
    ]

    def echo_question(ids, limit):
        [line] = [line for line in tokenizer.decode(ids).splitlines() if "question" in line]
        return tokenizer(line, add_special_tokens=False)["input_ids"]

    echo = Scripted(echo_question)  # answers with its question
    cache = tmp_path / "cache.jsonl"
    predict(echo, tokenizer, rows, cache)
    rows[1] = {**rows[1], "conversation": [{"human": "question 1, reworded", "assistant": "Answer: yes"}]}
    echo.asked.clear()
    outputs = predict(echo, tokenizer, rows, cache)
    assert len(echo.asked) == 1 and "reworded" in tokenizer.decode(echo.asked[0])
    assert "reworded" in outputs["S/1"]["output"] and "reworded" not in outputs["S/2"]["output"]
    assert predict(echo, tokenizer, rows, cache, limits={"S": 99}) and len(echo.asked) == 4  # a new limit: asked again

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"weights v1")
    first = model_identity("tiny:llama", str(adapter), echo, "template")
    (adapter / "adapter_model.safetensors").write_bytes(b"weights v2")  # retrained in place
    assert model_identity("tiny:llama", str(adapter), echo, "template") != first
    assert model_identity("tiny:llama", None, echo, "template") != model_identity("tiny:llama", None, echo, "taiyi")

    class OtherEngine(Scripted):
        backend = "other"

    assert model_identity("tiny:llama", None, echo, "template") != model_identity(
        "tiny:llama", None, OtherEngine(echo.answer), "template"
    )  # the engine's identity is part of it


def binary_corpus(raw, root):
    """A held-out binary corpus built from real HoC sentences: 1 (related) where a hallmark is annotated."""
    from taiyi_utils.data.sources import read_split

    (root / "binary").mkdir(parents=True)
    for split in ("train", "test"):
        rows = [f"{r.id}\t{r.text}\t{int(bool(r.labels))}" for r in read_split("hoc", split, raw)[:200]]
        (root / "binary" / f"{split}.tsv").write_text("index\tsentence\tlabel\n" + "\n".join(rows) + "\n")
    (root / "sources.yaml").write_text(
        "binary:\n  format: generic\n  files: {train: binary/train.tsv, test: binary/test.tsv}\n  language: en\n"
        "  tasks: [cls]\n  options: {task: classification, columns: {id: index, text: sentence, label: label}}\n"
        "  labels: {1: related, 0: not related}\n"  # unquoted keys, as a user writes them
    )
    (root / "suites.yaml").write_text("Binary: {task: cls, metric: micro_f1, source: binary, split: test}\n")


def prose_answers(rows: list[dict], wrong_every: int = 0) -> dict[str, str]:
    """Each row's label in another case or in prose; every ``wrong_every``-th row names the other label."""
    answers = {}
    for i, row in enumerate(rows):
        (label,) = row["gold"]
        if wrong_every and i % wrong_every == 0:
            label = "related" if label == "not related" else "not related"
        styles = [f"Result: {label.title()}", f"The gene and disease are {label.upper()}.", f"result：{label}!",
                  f"I would say: {label.capitalize()}"]  # fmt: skip
        answers[row["conversation_id"]] = styles[i % len(styles)]
    return answers


def answering(by_prompt: dict[str, str], tokenizer) -> Scripted:
    """An engine that answers each prompt from ``by_prompt`` (the longest prompt its rendered text holds)."""

    def answer(ids, limit):
        text = tokenizer.decode(ids)
        said = by_prompt[max((p for p in by_prompt if p in text), key=len)]
        return tokenizer(said, add_special_tokens=False)["input_ids"]

    return Scripted(answer)


def test_a_binary_corpus_answered_in_any_case_and_prose_scores_the_same_in_cli_and_notebook(raw, tmp_path):
    from taiyi_utils.curation import curate
    from taiyi_utils.evaluation.evaluate import evaluate

    binary_corpus(raw, tmp_path)
    curate(tmp_path, tmp_path / "data", sources_files=[str(tmp_path / "sources.yaml")],
           suites_files=[str(tmp_path / "suites.yaml")], train_sources={"binary": "train"}, eval_suites=["Binary"],
           eval_samples=50, count_tokens=lambda texts: [len(t.split()) for t in texts])  # fmt: skip
    source = tmp_path / "data" / "eval" / "Binary.jsonl"
    rows = read_jsonl(source)
    assert len(rows) == 50 and all(r["options"] == ["related", "not related"] for r in rows)
    assert "related, not related" in rows[0]["conversation"][0]["human"] and {r["gold"][0] for r in rows} == {
        "related",
        "not related",
    }
    tokenizer = models.load_tokenizer("tiny:llama")
    for wrong_every, expected in ((0, 1.0), (5, 0.8)):  # 10 of 50 wrong: tp 40, fp 10, fn 10
        given = prose_answers(rows, wrong_every)
        pred = tmp_path / f"pred{wrong_every}.jsonl"
        pred.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in given.items()))
        assert score_cli(None, None, pred, source)["score"] == expected

        by_prompt = {r["conversation"][0]["human"]: given[r["conversation_id"]] for r in rows}
        summaries, _ = evaluate(
            answering(by_prompt, tokenizer),
            tokenizer,
            {"Binary": rows},
            tmp_path / f"eval{wrong_every}",
            "m",
            identity="x",
        )
        assert summaries[0]["score"] == expected


def test_every_curated_suites_gold_scores_exactly_one_through_the_cli_with_the_curated_file(raw, tmp_path):
    """All of every local suite (BC5CDR-RE's 500 test abstracts, composite mentions included), scored as the
    notebook scores it: the curated file as --source gives its prompts, options, aliases and metric."""
    from taiyi_utils.curation import curate
    from taiyi_utils.evaluation.__main__ import score_files

    result = curate(raw, tmp_path / "data", train_sources={"kuake_qic": "train"}, max_records_per_source=10,
                    eval_samples=-1, count_tokens=lambda texts: [len(t) for t in texts])  # fmt: skip
    assert len(result.eval) == 13 and len(result.eval["BC5CDR-RE"]) == 500
    for suite, rows in result.eval.items():
        gold = tmp_path / f"{suite}.gold.jsonl"
        lines = [{"id": r["conversation_id"], "text": r["conversation"][0]["assistant"]} for r in rows]
        gold.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        source = tmp_path / "data" / "eval" / f"{suite}.jsonl"
        assert score_files(None, gold, gold, source)["score"] == 1.0, suite  # gold texts parsed with the prompts
        assert score_files(None, None, gold, source)["score"] == 1.0, suite  # against the curated gold structures
    relations = score_cli("re", None, tmp_path / "BC5CDR-RE.gold.jsonl", tmp_path / "data" / "eval" / "BC5CDR-RE.jsonl")
    assert (relations["score"], relations["n"], relations["tp"]) == (1.0, 500, 1065)


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_the_run_command_answers_as_notebook_four_did_in_one_process_or_two(smoke_run, tmp_path, processes):
    """``python -m taiyi_utils.evaluation run``, alone or under ``accelerate launch`` with two CPU processes
    (gloo, each answering a shard of the prompts): the same predictions and scores as notebook 04 wrote."""
    import shutil
    from pathlib import Path

    run_dir, _ = smoke_run
    out = tmp_path / "eval"
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    launch = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
    command = [*(launch if processes == 2 else [sys.executable]), "-m", "taiyi_utils.evaluation", "run"]
    done = subprocess.run([*command, "--run-dir", str(run_dir), "--out", str(out)], capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    key = lambda rows: {(r["model"], r["id"]): (r["output"], r.get("counts"), r.get("correct")) for r in rows}  # noqa: E731
    assert key(read_jsonl(out / "predictions.jsonl")) == key(read_jsonl(run_dir / "eval" / "predictions.jsonl"))
    ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (out, run_dir / "eval"))
    assert [(m["model"], m["suite"], m["score"]) for m in ours] == [
        (m["model"], m["suite"], m["score"]) for m in theirs
    ]
    assert not list((out / "cache").glob("*.part*"))  # the shards were joined
    if processes == 2:
        assert len(list((out / "cache").glob("*.jsonl"))) == 3  # base, stage 1, stage 2
