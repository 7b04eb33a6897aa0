"""The catalog of Taiyi's datasets and the bilingual templates are data; check them as data."""

from __future__ import annotations

import re
import string

import pytest

from taiyi_utils.data.catalog import load_catalog
from taiyi_utils.data.instruct import TEMPLATE_DIR, templates
from taiyi_utils.data.sources import load_sources
from taiyi_utils.evaluation.suites import PAPER_AVERAGE, PAPER_SUITES, load_suites


def test_catalog_has_taiyis_140_datasets():
    catalog = load_catalog()
    assert len(catalog) == 140 and not catalog[["name", "task"]].duplicated().any()
    assert catalog["language"].value_counts().to_dict() == {"en": 102, "zh": 38}
    bc5cdr = catalog.set_index("name").loc["bc5cdr"]
    assert (bc5cdr.train, bc5cdr.dev, bc5cdr.test, bc5cdr.hub_id, bc5cdr.reader) == (
        500,
        500,
        500,
        "bigbio/bc5cdr",
        "pubtator",
    )
    cmeee = catalog.set_index("name").loc["CMeEE-V2"]
    assert (cmeee.train, cmeee.dev, cmeee.local_sources) == (15000, 5000, ["cmeee"])


def test_sources_and_suites_point_at_real_entries():
    names = set(load_catalog()["name"])
    sources = load_sources()
    assert all(s.catalog in names for s in sources.values() if s.catalog)
    suites = load_suites()
    averaged = [s for s in suites.values() if s.average]
    assert len(averaged) == PAPER_SUITES == 13 and all(s.source in sources for s in suites.values())
    for key, published in PAPER_AVERAGE.items():  # the averaged suites reproduce the paper's AVG row
        scores = [s.reference[key].score for s in averaged]
        assert round(sum(scores) / len(scores), 1) == published
    assert suites["HoC"].metric == "macro_f1" and suites["KUAKE-QIC-dev"].reference["chatgpt"].metric == "macro_f1"
    # "yes" only where unit, metric and matching rule are known to match; every other flag says why
    flags = {(name, col): ref.comparable for name, suite in suites.items() for col, ref in suite.reference.items()}
    assert flags[("BC5CDR-Chem", "taiyi")] == flags[("BC5CDR-Dise", "taiyi")] == "unverified"  # matching unstated
    assert flags[("HoC", "sota")] == "no"  # BLURB's, BLUE's and our HoC averages differ on the same answers
    assert flags[("MedQA-USMLE", "taiyi")] == flags[("MedQA-MCMLE", "taiyi")] == "unverified"  # option count
    assert flags[("CMeIE-dev", "taiyi")] == flags[("CMeIE-dev", "chatgpt")] == "no"  # our 8 listed types
    assert all(ref.why for suite in suites.values() for ref in suite.reference.values() if ref.comparable != "yes")


def test_a_suite_with_a_misspelt_source_is_an_error(tmp_path):
    bad = tmp_path / "suites.yaml"
    bad.write_text("X: {task: ner, metric: micro_f1, source: ncbi_diseas, split: test, unit: sentence}\n")
    with pytest.raises(
        ValueError, match=r"suites.yaml: suite 'X': source 'ncbi_diseas' is not in the sources registry"
    ):
        load_suites((str(bad),))


TASKS = sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


@pytest.mark.parametrize("task", TASKS)
def test_at_least_five_paraphrases_per_language_with_consistent_slots(task):
    fields = lambda t: {f for _, f, _, _ in string.Formatter().parse(t) if f}  # noqa: E731
    by_lang = templates(task)
    assert set(by_lang) == {"en", "zh"}
    for lang, options in by_lang.items():
        assert len(options) >= 5 and len(set(options)) == len(options), (task, lang)
        assert len({frozenset(fields(t)) for t in options}) == 1, (task, lang)  # same slots in every paraphrase
        if lang == "zh":
            words = [re.sub(r"\{\w+\}", "", t).strip() for t in options]
            assert all(not w or re.search(r"[\u4e00-\u9fff]", w) for w in words), (task, words)
