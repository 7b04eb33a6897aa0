"""curate() end to end on the tiny corpus: files, counts and gold that parses back."""

from __future__ import annotations

import json

import pytest
from test_answers import gold, parsed

from taiyi_utils.curation import curate
from taiyi_utils.data.sources import get_source
from taiyi_utils.files import read_jsonl

SUITES = ["BC5CDR-Chem", "CMeEE-dev", "BC5CDR-RE", "KUAKE-QIC-dev", "PubMedQA", "MedQA-USMLE", "CHEMDNER"]
TRAIN = {"bc5cdr": "train", "cmeee": "dev-train", "kuake_qic": "train", "pubmedqa": "train", "med_dialogue": "train"}
HOLDOUT = {"cmeee": 3}  # of the tiny corpus' 6 CMeEE records, 3 train and 3 evaluate


@pytest.fixture(scope="module")
def curated(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("curated")
    result = curate(
        tiny,
        out,
        train_sources=TRAIN,
        eval_suites=SUITES,
        eval_samples=2,
        holdout=HOLDOUT,
        base_model="embedded:smollm2-135m",
        seed=0,
    )
    return out, result


def test_files_and_card_agree(curated):
    out, result = curated
    stage1, stage2 = read_jsonl(out / "stage1.jsonl"), read_jsonl(out / "stage2.jsonl")
    card = json.loads((out / "data_card.json").read_text())
    assert (len(stage1), len(stage2)) == (card["stage1"]["pairs"], card["stage2"]["pairs"])
    # bc5cdr: 5 docs x (2 NER types + RE + title) = 20; cmeee dev-train 3 x 9 types = 27; kuake train 6:
    # stage 1 = 53. Evaluation reads other records (test abstracts, CMeEE dev-eval, KUAKE dev): no overlap
    assert card["quality"]["overlap"]["training_pairs_overlapping"] == {}
    assert card["quality"]["overlap"]["eval_items_in_training_after_removal"] == {s: 0 for s in result.eval}
    assert card["sources"]["cmeee"] == {"split": "dev-train", "records": 3}
    assert len(stage1) == 53
    assert len(stage2) == len(stage1) + 5 + 6  # replay all of stage 1 + pubmedqa + dialogue
    assert set(stage1[0]) == {"conversation_id", "dataset", "category", "language", "task", "conversation", "tokens"}
    assert {p["category"] for p in stage1} == {"NER", "RE", "TT", "TC"}


def test_eval_files_carry_gold_that_parses_back(curated):
    out, result = curated
    assert set(result.eval) == set(SUITES) - {"CHEMDNER"}
    assert (
        "BC4CHEMD/test.tsv" in result.unavailable["CHEMDNER"] and "MTL-Bioinformatics" in result.unavailable["CHEMDNER"]
    )
    for suite in result.eval:
        rows = read_jsonl(out / "eval" / f"{suite}.jsonl")
        assert rows and all(r["suite"] == suite and parsed(r) == gold(r) for r in rows)
    cmeee = read_jsonl(out / "eval" / "CMeEE-dev.jsonl")
    assert len(cmeee) == 2 * 9 and cmeee[0]["conversation"][0]["human"].startswith("从下面文本中识别出指定的实体类型")


def test_same_seed_same_files(curated, tiny, tmp_path):
    out, _ = curated
    curate(tiny, tmp_path, train_sources=TRAIN, eval_suites=SUITES, eval_samples=2, holdout=HOLDOUT, seed=0)
    assert (tmp_path / "stage2.jsonl").read_bytes() == (out / "stage2.jsonl").read_bytes()


@pytest.fixture(scope="module")
def paper_like(raw, tmp_path_factory):
    """The paper profile's sources and suites on the real local data, sliced, with the embedded tokenizer."""
    from taiyi_utils.run import load_profile

    params = load_profile("paper")[1]["01_curation"]
    out = tmp_path_factory.mktemp("paper_like")
    result = curate(
        raw,
        out,
        train_sources=params["train_sources"],
        eval_suites=params["eval_suites"],
        max_records_per_source=150,
        eval_samples=40,
        base_model="embedded:smollm2-135m",
        seed=42,
    )
    return params, result


def test_paper_like_curation_keeps_every_language_and_task_and_leaks_nothing(paper_like):
    params, result = paper_like
    card = result.card
    stage1 = card["stage1"]["by_dataset"]
    assert all(stage1.get(key, 0) > 0 for key in ("cmeee", "cmeie", "kuake_qic", "chemprot_bc6"))
    assert {"MedQA-MCMLE", "MedQA-USMLE", "CMeEE-dev", "CMeIE-dev", "KUAKE-QIC-dev", "HoC"} <= set(result.eval)
    assert set(result.unavailable) == {"CHEMDNER", "BC7LitCovid"}  # their files are not in the shared data
    after = card["quality"]["overlap"]["eval_items_in_training_after_removal"]
    assert set(after) == set(result.eval) and set(after.values()) == {0}
    overlap = card["quality"]["overlap"]  # USMLE dev shares only stock sentences with test: not leakage
    assert overlap["eval_items_in_training"]["MedQA-USMLE"] == 0 and overlap["training_pairs_overlapping"] == {}


def test_chemprot_relations_put_the_chemical_first(raw):
    from taiyi_utils.data.instruct import build_pairs
    from taiyi_utils.data.sources import get_source, read_split

    docs = read_split("chemprot_bc6", "test", raw)
    chemicals = {(d.id, e.text) for d in docs for e in d.entities if e.type == "CHEMICAL"}
    genes = {(d.id, e.text) for d in docs for e in d.entities if e.type.startswith("GENE")}
    pairs = build_pairs(docs, get_source("chemprot_bc6"), tasks=("re",), seed=0)
    gold = [(p["record_id"], head, tail) for p in pairs for _, head, tail in p["gold"]]
    assert len(gold) == 2937  # 3,458 gold relations are 2,937 distinct (relation, chemical, gene) texts
    assert all((doc, head) in chemicals and (doc, tail) in genes for doc, head, tail in gold)


def test_holdout_parts_never_share_a_record_and_follow_the_size(raw):
    from taiyi_utils.data.sources import read_split

    for key, total in (("cmeee", 5000), ("cmeie", 3585)):
        held = read_split(key, "dev-eval", raw, {key: 700})
        rest = read_split(key, "dev-train", raw, {key: 700})
        assert (len(held), len(rest)) == (700, total - 700) and not {r.id for r in held} & {r.id for r in rest}
        assert [r.id for r in read_split(key, "dev-eval", raw)][:5] == [r.id for r in read_split(key, "dev-eval", raw)][
            :5
        ]


def test_chemdner_and_litcovid_run_once_their_files_are_under_the_data_root(tiny, tmp_path):
    (tiny / "BC4CHEMD").mkdir(exist_ok=True)
    (tiny / "BC4CHEMD" / "test.tsv").write_text("Aspirin\tB-Chemical\nhelps\tO\n\nNo\tO\nchemicals\tO\n\n")
    (tiny / "BC7-LitCovid").mkdir(exist_ok=True)
    (tiny / "BC7-LitCovid" / "BC7-LitCovid-Test-GS.csv").write_text(
        "pmid,journal,title,abstract,keywords,pub_type,authors,doi,label\n"
        '1,J,"Masks, again",Masks cut spread.,,,,,Prevention;Transmission\n2,J,Remdesivir,A trial.,,,,,Treatment\n'
    )
    try:
        result = curate(tiny, tmp_path, train_sources={}, eval_suites=["CHEMDNER", "BC7LitCovid"], eval_samples=-1)
    finally:
        for folder in ("BC4CHEMD", "BC7-LitCovid"):
            for path in (tiny / folder).iterdir():
                path.unlink()
            (tiny / folder).rmdir()
    assert result.unavailable == {}
    assert [r["gold"] for r in result.eval["CHEMDNER"]] == [[("chemical", "Aspirin")], []]
    assert [r["gold"] for r in result.eval["BC7LitCovid"]] == [["Prevention", "Transmission"], ["Treatment"]]


def test_a_suite_whose_names_match_nothing_in_its_corpus_is_refused(tiny, tmp_path):
    (tiny / "BC4CHEMD").mkdir(exist_ok=True)
    (tiny / "BC4CHEMD" / "test.tsv").write_text("Aspirin\tB-CHEM\nhelps\tO\n\n")
    try:
        with pytest.raises(ValueError, match=r"suite 'CHEMDNER': its ner names \['Chemical'\] match none of .*'CHEM'"):
            curate(tiny, tmp_path, train_sources={}, eval_suites=["CHEMDNER"], eval_samples=-1)
    finally:
        (tiny / "BC4CHEMD" / "test.tsv").unlink()
        (tiny / "BC4CHEMD").rmdir()


@pytest.mark.slow
def test_demo_prompts_offer_every_label_and_relation_lists_do_not_hint(raw, tmp_path):
    """The demo's slices offer the whole label set (HoC's 10 hallmarks, KUAKE-QIC's 11 intents) in one
    fixed order, and CMeIE's 8 listed relation types are no likelier to be present than any of its 43."""
    from taiyi_utils.run import load_profile

    _, profile = load_profile("demo")
    result = curate(raw, tmp_path, **profile["01_curation"], base_model=profile["common"]["base_model"])
    for suite, source, count in (("HoC-sentences", "hoc", 10), ("HoC", "hoc", 10), ("KUAKE-QIC-dev", "kuake_qic", 11)):
        declared = tuple(get_source(source).labels.values())
        assert len(declared) == count and {tuple(p["options"]) for p in result.eval[suite]} == {declared}
    relations = result.eval["CMeIE-dev"]
    listed = sum(len(p["options"]) for p in relations)
    present = sum(len({g[0] for g in p["gold"]}) for p in relations)
    records = profile["01_curation"]["eval_samples"]  # 23 of 320 present at 40; 27-30% when lists held every gold type
    assert listed == 8 * records and present <= 0.10 * listed
