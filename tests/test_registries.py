"""Bring your own corpus without Python: registry YAMLs outside the package, reader options, label names."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from taiyi_utils import run as runner
from taiyi_utils.data.__main__ import main as data_cli
from taiyi_utils.data.sources import load_sources, read_split
from taiyi_utils.files import read_jsonl

MY_SOURCES = """\
# my_sources.yaml
gad:
  format: generic
  files: {train: GAD/train.tsv, test: GAD/test.tsv}
  language: en
  tasks: [cls]
  options: {task: classification, columns: {id: index, text: sentence, label: label}}
  labels: {"1": related, "0": not related}
bioasq_yesno:
  format: generic
  files: {train: BioASQ/train.tsv, test: BioASQ/test.tsv}
  language: en
  tasks: [qa]
  options: {task: qa, header: false, kind: yesno, columns: {id: 0, question: 1, context: 2, answer: 3}}
"""
MY_SUITES = """\
# my_suites.yaml
GAD: {task: cls, metric: micro_f1, source: gad, split: test}
BioASQ-yesno: {task: qa, metric: accuracy, source: bioasq_yesno, split: test}
"""


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def own_corpora(raw, tmp_path_factory):
    """A BLURB-style relation TSV (header index, sentence, label; made from real HoC sentences: 1 when a
    hallmark is present) and a header-less yes/no TSV (id, question, context, answer; real BioASQ items)."""
    root = tmp_path_factory.mktemp("my_data")
    hoc = read_split("hoc", "train", raw)
    counts = {}
    for split, rows in (("train", hoc[:240]), ("test", hoc[240:300])):
        (root / "GAD").mkdir(exist_ok=True)
        with (root / "GAD" / f"{split}.tsv").open("w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t")
            writer.writerow(["index", "sentence", "label"])
            writer.writerows([r.id, flat(r.text), "1" if r.labels else "0"] for r in rows)
        counts[f"gad:{split}"] = (len(rows), sum(bool(r.labels) for r in rows))
    yesno = [q for q in read_split("bioasq", "train", raw) if q.kind == "yesno" and q.context]
    for split, rows in (("train", yesno[:120]), ("test", yesno[120:160])):
        (root / "BioASQ").mkdir(exist_ok=True)
        with (root / "BioASQ" / f"{split}.tsv").open("w", newline="") as handle:
            csv.writer(handle, delimiter="\t").writerows(
                [q.id, flat(q.question), flat(q.context), q.answer] for q in rows
            )
        counts[f"bioasq:{split}"] = (len(rows), None)
    config = tmp_path_factory.mktemp("config")
    (config / "my_sources.yaml").write_text(MY_SOURCES)
    (config / "my_suites.yaml").write_text(MY_SUITES)
    profile = {
        "01_curation": {
            "data_root": str(root),
            "sources_files": ["my_sources.yaml"],
            "suites_files": ["my_suites.yaml"],
            "train_sources": {"gad": "train", "bioasq_yesno": "train"},
            "eval_suites": ["GAD", "BioASQ-yesno"],
            "max_records_per_source": -1,
            "eval_samples": -1,
        }
    }
    (config / "profile.yaml").write_text(yaml.safe_dump(profile))
    return root, config, counts


@pytest.mark.slow
def test_two_unseen_corpora_become_training_sources_and_suites_from_yaml(own_corpora, tmp_path):
    root, config, counts = own_corpora
    manifest = runner.run(str(config / "profile.yaml"), only=["01"], run_id="mine", outputs=tmp_path)
    assert manifest["notebooks"]["01_curation"]["status"] == "completed", manifest["notebooks"]["01_curation"]
    assert manifest["params"]["01_curation"]["sources_files"] == [str(config / "my_sources.yaml")]  # profile-relative
    card = json.loads((tmp_path / "mine" / "data" / "data_card.json").read_text())
    assert card["sources"]["gad"]["records"] == counts["gad:train"][0] == 240
    assert card["sources"]["bioasq_yesno"]["records"] == 120
    assert (card["eval"]["GAD"]["records"], card["eval"]["BioASQ-yesno"]["records"]) == (60, 40)
    assert card["registries"]["replaced"] == {"sources": {}, "suites": {}}
    gad = read_jsonl(tmp_path / "mine" / "data" / "eval" / "GAD.jsonl")
    assert all(
        "Labels: related, not related" in r["conversation"][0]["human"]
        or "not related, related" in r["conversation"][0]["human"]
        for r in gad
    )
    assert sum(r["gold"] == ["related"] for r in gad) == counts["gad:test"][1]
    bioasq = read_jsonl(tmp_path / "mine" / "data" / "eval" / "BioASQ-yesno.jsonl")
    assert all(r["options"] == ["yes", "no"] and "maybe" not in r["conversation"][0]["human"] for r in bioasq)


def test_inspect_prints_what_curation_reads_for_a_registry_entry(own_corpora, capsys):
    root, config, counts = own_corpora
    assert (
        data_cli(
            [
                "inspect",
                "--sources",
                str(config / "my_sources.yaml"),
                "--source",
                "gad",
                "--split",
                "train",
                "--data-root",
                str(root),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 240 and summary["labels"] == {
        "1": counts["gad:train"][1],
        "0": 240 - counts["gad:train"][1],
    }
    assert data_cli(["inspect", str(root / "GAD" / "train.tsv"), "--task", "classification"]) == 2
    assert "--task apply to --format generic only" in capsys.readouterr().err
    assert data_cli(["inspect", str(root / "GAD" / "train.tsv")]) == 2
    assert "--format generic with --task and a --columns map" in capsys.readouterr().err


def test_a_header_row_read_as_data_and_bad_options_say_where(own_corpora, tmp_path):
    root, config, _ = own_corpora
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(MY_SOURCES.replace("header: false, ", ""))
    with pytest.raises(
        Exception,
        match=r"source 'bioasq_yesno': .*test.tsv: line 2: column 0 \(for id\) "
        r"is not among the columns found \(the first line was read as the header; "
        r"set header: false",
    ):
        read_split("bioasq_yesno", "test", root, sources=load_sources((str(wrong),)))
    typo = tmp_path / "typo.yaml"
    typo.write_text(MY_SOURCES.replace("header: false", "headers: false"))
    with pytest.raises(
        ValueError,
        match=r"typo.yaml: source 'bioasq_yesno': reader 'generic' has no option\(s\) "
        r"\['headers'\]",
    ):
        load_sources((str(typo),))


def test_a_user_entry_replaces_a_shipped_one_and_the_card_says_so(raw, tmp_path):
    from taiyi_utils.curation import curate

    mine = tmp_path / "sources.yaml"
    mine.write_text(
        "kuake_qic:\n  format: kuake_qic\n  files: {train: KUAKE-QIC/KUAKE-QIC_dev.json, dev: KUAKE-QIC/KUAKE-QIC_dev.json}\n"
        "  language: zh\n  tasks: [cls]\n"
    )
    result = curate(
        raw,
        tmp_path / "out",
        train_sources={"kuake_qic": "train"},
        eval_suites=[],
        max_records_per_source=5,
        sources_files=[str(mine)],
    )
    assert result.card["registries"]["replaced"]["sources"] == {"kuake_qic": str(mine)}
    assert result.card["sources"]["kuake_qic"] == {"split": "train", "records": 5}
