"""Every reader on the real files: counts must equal the figures in each folder's SOURCE.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from taiyi_utils.data import formats
from taiyi_utils.data.formats import FormatError
from taiyi_utils.data.summary import inspect_path

# (file or folder under the raw root, expected subset of the inspect summary), figures from SOURCE.md
EXPECTED = [
    (
        "BC5CDR-CDR-PubTator/CDR_TrainingSet.PubTator.txt",
        {
            "format": "pubtator",
            "records": 500,
            "entities": {"Chemical": 5203, "Disease": 4182},
            "relations": {"CID": 1038},
        },
    ),
    (
        "BC5CDR-CDR-PubTator/CDR_DevelopmentSet.PubTator.txt",
        {"records": 500, "entities": {"Chemical": 5347, "Disease": 4244}, "relations": {"CID": 1012}},
    ),
    (
        "BC5CDR-CDR-PubTator/CDR_TestSet.BioC.xml",
        {"format": "bioc", "records": 500, "entities": {"Chemical": 5385, "Disease": 4424}, "relations": {"CID": 1066}},
    ),
    ("BC5CDR-IOB/train.tsv", {"format": "iob", "records": 4560}),
    ("BC5CDR-IOB/devel.tsv", {"records": 4581}),
    ("BC5CDR-chem-IOB/test.tsv", {"records": 4797}),
    ("BC5CDR-disease-IOB/train.tsv", {"records": 4560}),
    ("NCBI-disease-IOB/train.tsv", {"records": 5424}),
    ("NCBI-disease-IOB/devel.tsv", {"records": 923}),
    ("NCBI-disease-IOB/test.tsv", {"records": 940}),
    ("JNLPBA-biobert/train.tsv", {"records": 14690}),
    ("JNLPBA-biobert/test.tsv", {"records": 3856}),
    (
        "CMeEE-V2/CMeEE-V2_dev.json",
        {
            "format": "cmeee",
            "records": 5000,
            "entities": {
                "bod": 7361,
                "dis": 6328,
                "sym": 5297,
                "pro": 3319,
                "dru": 1566,
                "ite": 1339,
                "mic": 621,
                "equ": 164,
                "dep": 86,
            },
        },
    ),
    ("CMeEE-V2/CMeEE-V2_test.json", {"records": 3000}),
    ("CMeIE/CMeIE-V2_dev.json", {"format": "cmeie", "records": 3585}),
    (
        "KUAKE-QIC/KUAKE-QIC_dev.json",
        {
            "format": "kuake_qic",
            "records": 1955,
            "labels": {
                "治疗方案": 676,
                "其他": 395,
                "病情诊断": 288,
                "疾病表述": 158,
                "就医建议": 134,
                "注意事项": 120,
                "医疗费用": 50,
                "后果表述": 45,
                "指标解读": 32,
                "病因分析": 29,
                "功效作用": 28,
            },
        },
    ),
    ("CHIP-CDN/formatted_train.json", {"format": "chip_cdn", "records": 6000}),
    ("CHIP-CDN/formatted_dev.json", {"records": 2000}),
    ("CHIP-CDN/formatted_test.json", {"records": 10000}),
    ("PromptCBLUE-toy/train.json", {"format": "promptcblue", "records": 80}),
    (
        "PubMedQA/ori_pqal.json",
        {"format": "pubmedqa", "records": 1000, "labels": {"yes": 552, "no": 338, "maybe": 110}},
    ),
    ("PubMedQA/test_set.json", {"records": 500, "labels": {"yes": 276, "no": 169, "maybe": 55}}),
    ("PubMedQA/pqal_fold0/train_set.json", {"records": 450}),
    ("PubMedQA/pqal_fold0/dev_set.json", {"records": 50}),
    (
        "MedQA-USMLE/test.tsv",
        {"format": "medqa_tsv", "records": 1273, "labels": {"A": 353, "B": 309, "C": 346, "D": 265}},
    ),
    (
        "MedQA-USMLE-release/US/4_options/phrases_no_exclude_test.jsonl",  # the same questions as the TSV copy
        {"format": "medqa_jsonl", "records": 1273, "labels": {"A": 353, "B": 309, "C": 346, "D": 265}},
    ),
    (
        "MedQA-USMLE-release/US/dev.jsonl",
        {"records": 1272, "labels": {"A": 256, "B": 279, "C": 245, "D": 278, "E": 214}},
    ),
    (
        "MedQA-MCMLE/Mainland/test.jsonl",
        {"records": 3426, "labels": {"A": 601, "B": 727, "C": 730, "D": 735, "E": 633}},
    ),
    ("MedQA-MCMLE/Mainland/4_options/dev.jsonl", {"records": 3425, "labels": {"A": 770, "B": 927, "C": 895, "D": 833}}),
    (
        "ChemProt-BioCreativeVI/chemprot_test_abstracts_gs.tsv",
        {
            "format": "chemprot_bc6",
            "records": 800,
            "entities": {"CHEMICAL": 10810, "GENE-N": 3360, "GENE-Y": 6658},
            "relations": {"CPR:3": 665, "CPR:4": 1661, "CPR:5": 195, "CPR:6": 293, "CPR:9": 644},
        },
    ),
    (
        "ChemProt-BioCreativeVI/chemprot_training_abstracts.tsv",
        {
            "records": 1020,
            "entities": {"CHEMICAL": 13017, "GENE-N": 4387, "GENE-Y": 8348},
            "relations": {"CPR:3": 768, "CPR:4": 2254, "CPR:5": 173, "CPR:6": 235, "CPR:9": 727},
        },
    ),
    (
        "ChemProt-BioCreativeVI/chemprot_development_abstracts.tsv",
        {
            "records": 612,
            "entities": {"CHEMICAL": 8004, "GENE-N": 2412, "GENE-Y": 5151},
            "relations": {"CPR:3": 550, "CPR:4": 1094, "CPR:5": 116, "CPR:6": 199, "CPR:9": 457},
        },
    ),
    ("CBLUE-train/KUAKE-QIC/KUAKE-QIC_train.json", {"format": "kuake_qic", "records": 6931}),
    ("CHIP-CDEE/CHIP-CDEE_train.json", {"format": "chip_cdee", "records": 1587}),
    (
        "CBLUE-train/KUAKE-QQR/KUAKE-QQR_train.json",
        {"format": "cblue_pairs", "records": 15000, "labels": {"0": 8946, "1": 2603, "2": 3451}},
    ),
    ("CBLUE-train/KUAKE-QQR/KUAKE-QQR_dev.json", {"records": 1600, "labels": {"0": 1006, "1": 260, "2": 334}}),
    (
        "CBLUE-train/KUAKE-QTR/KUAKE-QTR_train.json",
        {"format": "cblue_pairs", "records": 24174, "labels": {"0": 3880, "1": 5384, "2": 5514, "3": 9396}},
    ),
    (
        "CBLUE-train/CHIP-STS/CHIP-STS_train.json",
        {"format": "cblue_pairs", "records": 16000, "labels": {"0": 7989, "1": 8011}},
    ),
    ("CBLUE-train/CHIP-STS/CHIP-STS_dev.json", {"records": 4000, "labels": {"0": 2011, "1": 1989}}),
    ("CBLUE-train/CHIP-CTC/CHIP-CTC_train.json", {"format": "chip_ctc", "records": 22962}),
    ("CBLUE-train/CHIP-CTC/CHIP-CTC_dev.json", {"records": 7682}),
    ("CBLUE-train/CHIP-CDN/CHIP-CDN_train.json", {"format": "cblue_cdn", "records": 6000}),
    ("CBLUE-train/CHIP-CDN/CHIP-CDN_dev.json", {"records": 2000}),
    ("CHIP-CDEE/CHIP-CDEE_dev.json", {"records": 384}),
    ("CNMLEQA-3k/CNMLEQA-3k.json", {"format": "cnmleqa", "records": 2949}),
    ("HoC/train.tsv", {"format": "hoc", "records": 12119}),
    ("HoC/dev.tsv", {"records": 1798}),
    ("HoC/test.tsv", {"records": 3547}),
    ("ChemProt/train.txt", {"format": "chemprot", "records": 4169}),
    ("ChemProt/dev.txt", {"records": 2427}),
    ("ChemProt/test.txt", {"records": 3469}),
    ("DDI/dev.tsv", {"format": "ddi_tsv", "records": 2496}),
    ("DDI/test.tsv", {"records": 5716}),
    ("DDI/xml/DDICorpus/Train/DrugBank", {"format": "ddi_xml", "records": 5675}),
    ("DDI/xml/DDICorpus/Train/MedLine", {"records": 1301}),
    ("DDI/xml/DDICorpus/Test/Test for DDI Extraction task/DrugBank", {"records": 973}),
    ("DDI/xml/DDICorpus/Test/Test for DDI Extraction task/MedLine", {"records": 326}),
    ("CMB-Clin/CMB-test-qa.json", {"format": "cmb_clin", "records": 74, "turns": 208}),
    ("Chinese-medical-dialogue-sample/样例_内科5000-6000.csv", {"format": "med_dialogue_csv", "records": 7644}),
    ("Taiyi-instruction-example/Taiyi_Instruction_Data_Example.jsonl", {"format": "firefly", "records": 21}),
]


@pytest.mark.parametrize("rel, expected", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_counts_match_source_md(raw, rel, expected):
    summary = inspect_path(raw / rel)
    assert {k: summary[k] for k in expected} == expected


def test_cmeie_triples_and_top_predicates(raw):
    relations = inspect_path(raw / "CMeIE/CMeIE-V2_dev.json")["relations"]
    assert sum(relations.values()) == 16309 and len(relations) == 43
    assert (relations["临床表现"], relations["相关（导致）"], relations["药物治疗"]) == (4153, 1673, 1352)


def test_bioasq_golden_and_squad_counts(raw):
    files = inspect_path(raw / "BioASQ-factoid-biobert")["files"]
    golden = sum(v["records"] for v in files.values() if v["format"] == "bioasq")
    squad = sum(v["records"] for v in files.values() if v["format"] == "squad")
    assert (golden, squad) == (1497, 1672)


def test_ddi_document_counts(raw):
    sentences = formats.read(raw / "DDI/xml/DDICorpus/Train")
    assert len({s.id.rsplit(".s", 1)[0] for s in sentences}) == 572 + 142


def test_pubtator_and_bioc_give_identical_records(raw):
    for split in ("Training", "Development", "Test"):
        pubtator = formats.read(raw / f"BC5CDR-CDR-PubTator/CDR_{split}Set.PubTator.txt")
        bioc = formats.read(raw / f"BC5CDR-CDR-PubTator/CDR_{split}Set.BioC.xml")
        assert pubtator == bioc


def test_composite_mentions_keep_all_ids(raw):
    doc = next(d for d in formats.read(raw / "BC5CDR-CDR-PubTator/CDR_TrainingSet.PubTator.txt") if d.id == "2234245")
    composite = next(e for e in doc.entities if e.text == "Ocular and auditory toxicity")
    assert composite.ids == ("D014786", "D006311") and (composite.start, composite.end) == (0, 28)


def test_every_folder_is_detected_or_explained(raw):
    for folder in sorted(p for p in raw.iterdir() if p.is_dir()):
        result = inspect_path(folder)
        assert result["files"], folder
        for reason in result["skipped"].values():
            assert "considered:" in reason  # e.g. PubMedQA's label-only test_ground_truth.json


def test_entity_offsets_point_at_their_text(raw):
    for rel in ("CMeEE-V2/CMeEE-V2_dev.json", "NCBI-disease-IOB/test.tsv", "ChemProt/dev.txt"):
        for doc in formats.read(raw / rel):
            assert all(doc.text[e.start : e.end] == e.text for e in doc.entities)


def test_iob1_iob2_and_docstart(tmp_path):
    iob2 = "-DOCSTART-\tO\n\nAspirin\tB-Chemical\ncauses\tO\nreye\tB-Disease\nsyndrome\tI-Disease\n\n"
    iob1 = "Aspirin\tI-Chemical\ncauses\tO\nreye\tI-Disease\nsyndrome\tI-Disease\n"
    (tmp_path / "a.tsv").write_text(iob2)
    (tmp_path / "b.tsv").write_text(iob1)
    a, b = formats.read(tmp_path / "a.tsv"), formats.read(tmp_path / "b.tsv")
    assert [(e.type, e.text) for e in a[0].entities] == [("Chemical", "Aspirin"), ("Disease", "reye syndrome")]
    assert a[0].entities == b[0].entities and len(a) == 1


def test_bigbio_local_file_and_generic_column_map(tmp_path):
    kb = {
        "id": "1",
        "document_id": "d1",
        "passages": [{"id": "p", "type": "abstract", "text": ["Aspirin helps."], "offsets": [[0, 14]]}],
        "entities": [
            {
                "id": "e1",
                "type": "Chemical",
                "text": ["Aspirin"],
                "offsets": [[0, 7]],
                "normalized": [{"db_name": "MESH", "db_id": "D001241"}],
            }
        ],
        "events": [],
        "coreferences": [],
        "relations": [],
    }
    (tmp_path / "kb.jsonl").write_text(json.dumps(kb) + "\n")
    [doc] = formats.read(tmp_path / "kb.jsonl")
    assert (doc.text, doc.entities[0].text, doc.entities[0].ids) == ("Aspirin helps.", "Aspirin", ("MESH:D001241",))
    (tmp_path / "t.csv").write_text("sentence,tags\nfever and cough,symptom|sign\n")
    [rec] = formats.read(
        tmp_path / "t.csv",
        "generic",
        task="classification",
        columns={"text": "sentence", "label": "tags"},
        label_sep="|",
    )
    assert rec.labels == ("symptom", "sign") and rec.multi_label


def test_bigbio_parquet_goes_through_datasets(tmp_path):
    import pandas as pd

    rows = [
        {
            "id": "q1",
            "question_id": "q1",
            "document_id": "d",
            "question": "Is it?",
            "type": "multiple_choice",
            "choices": ["yes", "no"],
            "context": "",
            "answer": ["no"],
        }
    ]
    pd.DataFrame(rows).to_parquet(tmp_path / "qa.parquet")
    [qa] = formats.read(tmp_path / "qa.parquet")
    assert (qa.kind, qa.answer, qa.choices) == ("mc", "B", {"A": "yes", "B": "no"})


# ------------------------------------------------------------------ malformed input
MALFORMED = [  # (file under the tiny corpus, how to break it, expected message fragment)
    ("BC5CDR-CDR-PubTator/CDR_TestSet.PubTator.txt", lambda t: t.replace("\tChemical\t", "\t", 1), r"line \d+"),
    ("BC5CDR-chem-IOB/test.tsv", lambda t: t.replace("B-Chemical", "X-Chemical", 1), r"line \d+: tag 'X-Chemical'"),
    ("CMeEE-V2/CMeEE-V2_dev.json", lambda t: t.replace('"start_idx": 0', '"start_idx": 1', 1), "record 0: mention"),
    ("CMeEE-V2/CMeEE-V2_dev.json", lambda t: t[:-5], r"line 1: invalid JSON"),
    ("CMeIE/CMeIE-V2_dev.json", lambda t: t.replace('"spo_list"', '"spo"', 1), "line 1: missing field 'spo_list'"),
    ("KUAKE-QIC/KUAKE-QIC_dev.json", lambda t: t.replace('"query"', '"q"', 1), "record 0: missing field 'query'"),
    (
        "PubMedQA/test_set.json",
        lambda t: t.replace('"final_decision": "yes"', '"final_decision": "perhaps"', 1),
        "final_decision 'perhaps'",
    ),
    (
        "MedQA-USMLE-release/US/4_options/phrases_no_exclude_test.jsonl",
        lambda t: t.replace('"answer_idx": "A"', '"answer_idx": "Z"', 1),
        r"line 1: answer_idx 'Z'",
    ),
    ("CNMLEQA-3k/CNMLEQA-3k.json", lambda t: t.replace('"answer": "opa"', '"answer": "opz"', 1), "record 0: answer"),
    ("HoC/test.tsv", lambda t: t.replace("1_0", "1_7", 1), r"line 2: label flag '1_7'"),
    ("HoC/test.tsv", lambda t: "", r"line 1: empty file"),
    (
        "BC5CDR-CDR-PubTator/CDR_TestSet.PubTator.txt",  # start and end swapped on the first mention
        lambda t: re.sub(r"^(\d+)\t(\d+)\t(\d+)\t", lambda m: f"{m[1]}\t{m[3]}\t{m[2]}\t", t, count=1, flags=re.M),
        r"line 3: offsets \d+-\d+ of .* outside 0-\d+ or reversed",
    ),
    (
        "CMeEE-V2/CMeEE-V2_dev.json",
        lambda t: t.replace('"start_idx": 0', '"start_idx": -3', 1),
        r"record 0: offsets -3-\d+ of .* outside",
    ),
    (
        "Taiyi-instruction-example/Taiyi_Instruction_Data_Example.jsonl",
        lambda t: t.replace('"assistant"', '"bot"', 1),
        "line 1: each conversation turn",
    ),
]


@pytest.mark.parametrize("rel, damage, message", MALFORMED, ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_input_names_file_and_place(tiny, tmp_path, rel, damage, message):
    broken = tmp_path / rel.replace("/", "_")
    broken.write_text(damage((tiny / rel).read_text(encoding="utf-8")), encoding="utf-8")
    fmt = formats.detect(tiny / rel)
    with pytest.raises(FormatError, match=message) as err:
        formats.read(broken, fmt)
    assert str(broken) in str(err.value)


def test_malformed_gb18030_and_xml(tiny, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_bytes((tiny / "Chinese-medical-dialogue-sample/sample.csv").read_bytes() + b"\xff\xff\n")
    with pytest.raises(FormatError, match=r"line 8: neither UTF-8 nor GB18030"):
        formats.read(csv, "med_dialogue_csv")
    original = tiny / "Chinese-medical-dialogue-sample/sample.csv"
    utf8 = tmp_path / "utf8.csv"  # the same table saved as UTF-8 reads the same, not as GB18030 mojibake
    utf8.write_text(original.read_bytes().decode("gb18030"), encoding="utf-8")
    assert formats.read(utf8, "med_dialogue_csv") == [
        type(r)(**{**r.__dict__, "id": r.id.replace("sample", "utf8")}) for r in formats.read(original)
    ]
    with pytest.raises(FormatError, match=r"sample.csv: line 2: not UTF-8 .*iconv -f gb18030"):
        formats.read(original, "generic", task="dialogue", columns={"human": "ask", "assistant": "answer"})
    xml = tmp_path / "b.xml"
    xml.write_text("<collection><document><id>1</id></passage></collection>")
    with pytest.raises(FormatError, match=r"b.xml: line 1: invalid XML"):
        formats.read(xml, "bioc")


def test_unknown_format_lists_what_was_considered(tmp_path):
    odd = tmp_path / "notes.txt"
    odd.write_text("just some prose\n")
    with pytest.raises(FormatError, match="considered: pubtator, bioc, iob"):
        formats.detect(odd)


def test_inspect_cli_prints_one_json_object(tiny, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "taiyi_utils.data", "inspect", str(tiny / "KUAKE-QIC/KUAKE-QIC_dev.json"), "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == {
        "format": "kuake_qic",
        "records": 6,
        "labels": {"治疗方案": 2, "病情诊断": 1, "就医建议": 1, "注意事项": 1, "病因分析": 1},
    }
    bad = tmp_path / "bad.json"
    shutil.copy(tiny / "KUAKE-QIC/KUAKE-QIC_dev.json", bad)
    bad.write_text(bad.read_text()[:-3])
    proc = subprocess.run(
        [sys.executable, "-m", "taiyi_utils.data", "inspect", str(bad), "--format", "kuake_qic"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "bad.json: line" in proc.stderr


def test_a_folder_with_a_single_file_format_is_an_error(tiny):
    with pytest.raises(FormatError, match=r"NCBI-disease-IOB: path: is a folder; format 'iob' reads one file"):
        formats.read(tiny / "NCBI-disease-IOB", "iob")


def test_bioc_and_bigbio_without_offsets_name_the_place(tmp_path):
    xml = tmp_path / "b.xml"
    xml.write_text(
        "<collection><document><id>7</id><passage><offset>0</offset><text>Aspirin.</text>"
        "<annotation id='1'><infon key='type'>Chemical</infon><location length='7'/><text>Aspirin</text>"
        "</annotation></passage></document></collection>"
    )
    with pytest.raises(FormatError, match=r"b.xml: document 7, annotation 1: location offset None is not an integer"):
        formats.read(xml, "bioc")
    kb = tmp_path / "kb.jsonl"
    kb.write_text(
        json.dumps(
            {
                "id": "1",
                "document_id": "1",
                "passages": [{"id": "p", "type": "abstract", "text": ["Aspirin."]}],
                "entities": [],
                "events": [],
                "coreferences": [],
                "relations": [],
            }
        )
        + "\n"
    )
    with pytest.raises(FormatError, match=r"kb.jsonl: line 1 passage 0: missing field 'offsets'"):
        formats.read(kb, "bigbio")


def test_generic_reader_refuses_short_rows_split_choices_and_misspelt_keys(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("sentence,label\nAspirin helps.,1\nShort row\n")
    with pytest.raises(FormatError, match=r"t.csv: line 3: the row has 1 columns, fewer than the header's 2"):
        formats.read(table, "generic", task="classification", columns={"text": "sentence", "label": "label"})
    with pytest.raises(ValueError, match=r"unknown column-map key\(s\) \['lable'\]"):
        formats.read(
            table, "generic", task="classification", columns={"text": "sentence", "label": "label", "lable": "label"}
        )
    qa = tmp_path / "q.jsonl"
    qa.write_text(json.dumps({"q": "Which?", "a": "A", "c": "ABCD"}) + "\n")
    with pytest.raises(FormatError, match=r"q.jsonl: line 1: column 'c' \(choices\) should hold a list"):
        formats.read(qa, "generic", task="qa", columns={"question": "q", "answer": "a", "choices": "c"})


def test_folder_summary_skips_unreadable_files_and_ignores_fifos(tiny, tmp_path):
    import os

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.json").write_bytes((tiny / "KUAKE-QIC/KUAKE-QIC_dev.json").read_bytes())
    (folder / "bad.json").write_text('[{"query": "x", "label": "y"}, {"query": "' + "z" * 5000 + '"}]')
    os.mkfifo(folder / "pipe")
    result = inspect_path(folder)
    assert result["files"]["good.json"]["records"] == 6 and "pipe" not in result["skipped"]
    reason = result["skipped"]["bad.json"]
    assert reason.startswith("detected as kuake_qic but unreadable") and len(reason) < 400


def test_cblue_counts_beyond_the_summary(raw):
    """SOURCE.md's figures that the summary does not show: CTC's 44 classes, CDN's multi-term mentions,
    CDEE's events."""
    ctc = formats.read(raw / "CBLUE-train/CHIP-CTC/CHIP-CTC_train.json")
    assert len({r.labels[0] for r in ctc}) == 44
    cdn = formats.read(raw / "CBLUE-train/CHIP-CDN/CHIP-CDN_train.json")
    # 3,264 results join several terms with ##; 32 repeat a term, and 7 of those are one term twice
    assert sum(len(r.labels) > 1 for r in cdn) == 3264 - 7
    cdee = formats.read(raw / "CHIP-CDEE/CHIP-CDEE_train.json")
    assert sum(len(d.events) for d in cdee) == 8761
