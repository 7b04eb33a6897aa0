"""Inputs a hostile (or hurried) user gives: each ends in a clear error naming the file, line, entry or setting,
or is read correctly; never a traceback from deep inside, never a silent misread."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from taiyi_utils.data import formats
from taiyi_utils.data.sources import load_sources
from taiyi_utils.evaluation.suites import load_suites
from taiyi_utils.registry import load_yaml


def cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)


def test_pubmedqa_contexts_that_are_not_text_name_the_file(tmp_path):
    path = tmp_path / "pqa.json"
    path.write_text(json.dumps({"1": {"QUESTION": "q?", "CONTEXTS": [1, 2], "final_decision": "yes"}}))
    with pytest.raises(formats.FormatError, match=r"pqa\.json.*'CONTEXTS' should be a list of strings"):
        formats.read(path, "pubmedqa")


def test_generic_reader_takes_long_fields_and_json_label_lists(tmp_path):
    long_text = "word " * 60_000  # 300 KB: past csv's 128 KB field limit
    (tmp_path / "long.csv").write_text(f'text,label\n"{long_text}",yes\n')
    (record,) = formats.read(tmp_path / "long.csv", "generic", task="classification",
                             columns={"text": "text", "label": "label"})  # fmt: skip
    assert len(record.text) == len(long_text) and record.labels == ("yes",)
    (tmp_path / "multi.jsonl").write_text(json.dumps({"text": "t", "labels": ["a", "b"]}) + "\n")
    (record,) = formats.read(tmp_path / "multi.jsonl", "generic", task="classification", label_sep=";",
                             columns={"text": "text", "label": "labels"})  # fmt: skip
    assert record.labels == ("a", "b")


def test_a_misspelt_reader_option_is_named(tmp_path):
    (tmp_path / "x.tsv").write_text("text\tlabel\na\tb\n")
    done = cli("taiyi_utils.data", "inspect", str(tmp_path / "x.tsv"), "--format", "generic", "--task",
               "classification", "--columns", '{"text": "text", "label": "label"}', "--options", '{"headr": false}')  # fmt: skip
    assert done.returncode == 2 and "reader 'generic' has no option(s) ['headr']" in done.stderr


@pytest.mark.parametrize("content", ["folder", "binary", "gb18030"])
def test_the_score_cli_refuses_what_is_not_a_json_lines_file(tmp_path, content):
    bad = tmp_path / "pred"
    if content == "folder":
        bad.mkdir()
    else:
        bad.write_bytes(
            b"\x89PNG\r\n\x1a\n\x00\xff" if content == "binary" else '{"id": "1", "text": "答案：是"}'.encode("gb18030")
        )
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "1", "text": "Answer: yes"}\n')
    done = cli("taiyi_utils.evaluation", "score", "--task", "qa", "--gold", str(gold), "--pred", str(bad))
    assert done.returncode == 2 and str(bad) in done.stderr and "Traceback" not in done.stderr
    assert ("is a folder" if content == "folder" else "not UTF-8") in done.stderr


def test_source_options_must_be_a_list(tmp_path):
    for name, text in (
        ("gold", '{"id": "1", "text": "Result: a"}'),
        ("source", '{"id": "1", "text": "t", "options": "ab"}'),
    ):
        (tmp_path / f"{name}.jsonl").write_text(text + "\n")
    done = cli("taiyi_utils.evaluation", "score", "--task", "cls", "--gold", str(tmp_path / "gold.jsonl"),
               "--pred", str(tmp_path / "gold.jsonl"), "--source", str(tmp_path / "source.jsonl"))  # fmt: skip
    assert done.returncode == 2 and "options should be a list, got 'ab'" in done.stderr


def test_a_hand_edited_answer_cache_is_answered_again_not_a_crash(tmp_path):
    from taiyi_utils.evaluation.engines import read_answers

    cache = tmp_path / "cache.jsonl"
    cache.write_text('42\n{"id": "a", "ids": null}\n{"id": "b", "ids": [5, "x"]}\n{"id": "c", "ids": [5, 6]}\n')
    assert read_answers(cache) == {"c": [5, 6]}


def test_a_folder_summary_follows_no_symlink_loop(tmp_path):
    from taiyi_utils.data.summary import inspect_path

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "q.jsonl").write_text('{"id": "1", "question": "q", "answer": "a"}\n')
    os.symlink(tmp_path / "corpus", tmp_path / "corpus" / "again")
    summary = inspect_path(tmp_path / "corpus")
    assert len(summary["files"]) + len(summary["skipped"]) == 1


@pytest.mark.parametrize(
    "registry, entry, message",
    [
        ("sources", "x:\n  format: hoc\n  files: {test: a.tsv}\n  language: en\n  tasks: cls\n",
         r"source 'x': tasks must be a list of task names, e.g. \[cls\], got 'cls'"),
        ("sources", "a/b:\n  format: hoc\n  files: {test: a.tsv}\n  language: en\n  tasks: [cls]\n",
         r"source 'a/b' is not a plain name"),
        ("suites", "../../evil-suite: {task: qa, metric: accuracy, source: pubmedqa, split: test}\n",
         r"suite '../../evil-suite' is not a plain name"),
        ("suites", "X: {task: qa, metric: accuracy, source: pubmedqa, split: test}\n"
                   "X: {task: qa, metric: accuracy, source: pubmedqa, split: dev}\n",
         r"line 2: key 'X' repeats the one on line 1"),
    ],
)  # fmt: skip
def test_registry_mistakes_are_named_before_anything_is_written(tmp_path, registry, entry, message):
    path = tmp_path / f"{registry}.yaml"
    path.write_text(entry)
    with pytest.raises(ValueError, match=message):
        load_sources((str(path),)) if registry == "sources" else load_suites((str(path),))


def test_unquoted_label_keys_are_the_corpus_labels_and_a_missing_class_is_named(tmp_path, caplog):
    from taiyi_utils.curation import _warn_unmapped
    from taiyi_utils.data.records import Classification

    path = tmp_path / "sources.yaml"
    path.write_text("g:\n  format: generic\n  files: {test: g.tsv}\n  language: en\n  tasks: [cls]\n"
                    "  labels: {1: related, 0: not related}\n")  # fmt: skip
    source = load_sources((str(path),))["g"]
    assert source.labels == {"1": "related", "0": "not related"}
    with caplog.at_level(logging.WARNING, logger="taiyi_utils"):
        _warn_unmapped("g", source, [Classification(str(i), "t", (label,)) for i, label in enumerate("012")])
    assert "labels ['2'] are not in its labels: map" in caplog.text


def test_the_train_cli_names_a_broken_or_empty_config(tmp_path):
    for text, message in (("lora_r: [1,\n", "invalid YAML"), ("", "expected a mapping of training settings")):
        config = tmp_path / "c.yaml"
        config.write_text(text)
        done = cli("taiyi_utils.train", "--config", str(config), "--stage", "2")
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_yaml_loading_names_a_repeated_key(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("04_eval:\n  batch_size: 8\n  batch_size: 16\n")
    with pytest.raises(ValueError, match=r"p\.yaml: line 3: key 'batch_size' repeats the one on line 2"):
        load_yaml(path)


def test_empty_mixtures_plot_as_empty(tmp_path):
    from taiyi_utils.viz.curation import length_histogram, mixture_bar

    assert mixture_bar([], "Stage 1").layout.title.text == "Stage 1: no pairs"
    assert length_histogram([], 512).layout.title.text.endswith("no pairs")
