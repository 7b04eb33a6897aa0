"""A tiny corpus in the real formats and folder layout of the shared raw data.

Lets the ``smoke`` profile and the tests run on a fresh clone without ``../shared``:
every file goes through the same readers as the real one.
"""

from __future__ import annotations

import json
from pathlib import Path

PAIRS = [  # (chemical, disease) pairs behind every English example
    ("cisplatin", "nephrotoxicity"),
    ("haloperidol", "dyskinesia"),
    ("amiodarone", "hypothyroidism"),
    ("lithium", "tremor"),
    ("doxorubicin", "cardiomyopathy"),
    ("warfarin", "hemorrhage"),
    ("gentamicin", "ototoxicity"),
    ("isoniazid", "hepatitis"),
]
ZH = [  # (disease, symptom, drug, intent)
    ("糖尿病", "多饮", "二甲双胍", "治疗方案"),
    ("高血压", "头晕", "硝苯地平", "病情诊断"),
    ("肺炎", "咳嗽", "阿莫西林", "就医建议"),
    ("胃炎", "腹痛", "奥美拉唑", "注意事项"),
    ("哮喘", "喘息", "沙丁胺醇", "治疗方案"),
    ("贫血", "乏力", "硫酸亚铁", "病因分析"),
]


def _pubtator(offset: int, count: int) -> str:
    blocks = []
    for i, (chem, dis) in enumerate(PAIRS[offset : offset + count]):
        pmid = str(1000 + offset + i)
        title = f"{chem.capitalize()} and {dis}."
        abstract = f"We report {dis} after {chem} treatment in {i + 3} patients. Stopping {chem} resolved the {dis}."
        text = f"{title} {abstract}"
        lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
        mentions = []
        for name, kind, mesh in (
            (chem.capitalize(), "Chemical", f"C{i}"),
            (dis, "Disease", f"D{i}"),
            (chem, "Chemical", f"C{i}"),
        ):
            start = 0
            while (start := text.find(name, start)) >= 0:
                mentions.append((start, start + len(name), name, kind, mesh))
                start += len(name)
        lines += [f"{pmid}\t{s}\t{e}\t{n}\t{k}\t{m}" for s, e, n, k, m in sorted(set(mentions))]
        lines.append(f"{pmid}\tCID\tC{i}\tD{i}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def _iob(offset: int, count: int, types: tuple[str, ...]) -> str:
    sentences = []
    for chem, dis in PAIRS[offset : offset + count]:
        rows = [("Treatment", "O"), ("with", "O"), (chem, "B-Chemical"), ("caused", "O"), ("severe", "O")]
        rows += [(w, f"{'B' if j == 0 else 'I'}-Disease") for j, w in enumerate(dis.split())]
        rows += [(".", "O")]
        sentences.append("\n".join(f"{w}\t{t if t == 'O' or t[2:] in types else 'O'}" for w, t in rows))
    return "\n\n".join(sentences) + "\n\n"


def _hoc(offset: int, count: int) -> str:
    rows = ["labels\tsentence\tindex"]
    for i, (chem, _) in enumerate(PAIRS[offset : offset + count]):
        flags = ",".join(f"{k}_{int(k == i % 10 or k == 8)}" for k in range(10))
        rows.append(f"{flags}\t{chem.capitalize()} blocks proliferative signalling in tumour cells .\t{2000 + i}_s0")
    return "\n".join(rows) + "\n"


def _pubmedqa(offset: int, count: int) -> dict:
    answers = ("yes", "no", "maybe")
    return {
        str(3000 + offset + i): {
            "QUESTION": f"Does {chem} cause {dis}?",
            "CONTEXTS": [f"{chem} was given to {20 + i} patients.", f"{dis} was recorded in {i} of them."],
            "LABELS": ["METHODS", "RESULTS"],
            "final_decision": answers[i % 3],
            "LONG_ANSWER": "See results.",
        }
        for i, (chem, dis) in enumerate(PAIRS[offset : offset + count])
    }


def _medqa(options_for, question: str, letters: str = "ABCD") -> str:
    """MedQA release JSON lines: the answer is always the first option's text at a letter that cycles."""
    rows = []
    for i, (chem, dis) in enumerate(PAIRS):
        right, others = options_for(chem, dis)
        texts = others[: len(letters) - 1]
        answer = letters[i % len(letters)]
        texts.insert(i % len(letters), right)
        rows.append(
            json.dumps(
                {
                    "question": question.format(chem=chem, dis=dis),
                    "answer": right,
                    "options": dict(zip(letters, texts)),
                    "meta_info": "step1",
                    "answer_idx": answer,
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(rows) + "\n"


def _chemprot(split: str, offset: int, count: int) -> dict[str, str]:
    """The BioCreative VI release's three files for one split: abstracts, entities, gold standard."""
    abstracts, entities, gold = [], [], []
    for i, (chem, _) in enumerate(PAIRS[offset : offset + count]):
        pmid, gene = str(4000 + offset + i), ("EGFR", "CYP3A4", "TP53")[i % 3]
        title, abstract = f"{chem.capitalize()} and {gene}.", f"{chem.capitalize()} inhibits {gene} in cells."
        text = f"{title} {abstract}"
        start = text.index(chem.capitalize(), len(title))
        abstracts.append(f"{pmid}\t{title}\t{abstract}")
        entities += [
            f"{pmid}\tT1\tCHEMICAL\t{start}\t{start + len(chem)}\t{chem.capitalize()}",
            f"{pmid}\tT2\tGENE-Y\t{text.index(gene, start)}\t{text.index(gene, start) + len(gene)}\t{gene}",
        ]
        gold.append(f"{pmid}\tCPR:4\tArg1:T1\tArg2:T2")
    suffix = "_gs" if split == "test" else ""
    folder = "ChemProt-BioCreativeVI"
    return {
        f"{folder}/chemprot_{split}_abstracts{suffix}.tsv": "\n".join(abstracts) + "\n",
        f"{folder}/chemprot_{split}_entities{suffix}.tsv": "\n".join(entities) + "\n",
        f"{folder}/chemprot_{split}_gold_standard.tsv": "\n".join(gold) + "\n",
    }


def write_tiny_corpus(root: str | Path) -> Path:
    """Write the tiny corpus under ``root`` (same relative paths as ``sources.yaml``); returns root."""
    root = Path(root)
    files: dict[str, str | bytes] = {
        "BC5CDR-CDR-PubTator/CDR_TrainingSet.PubTator.txt": _pubtator(0, 5),
        "BC5CDR-CDR-PubTator/CDR_TestSet.PubTator.txt": _pubtator(5, 3),
        "BC5CDR-chem-IOB/train.tsv": _iob(0, 5, ("Chemical",)),
        "BC5CDR-chem-IOB/test.tsv": _iob(5, 3, ("Chemical",)),
        "BC5CDR-disease-IOB/train.tsv": _iob(0, 5, ("Disease",)),
        "BC5CDR-disease-IOB/test.tsv": _iob(5, 3, ("Disease",)),
        "NCBI-disease-IOB/train.tsv": _iob(0, 5, ("Disease",)),
        "NCBI-disease-IOB/test.tsv": _iob(5, 3, ("Disease",)),
        "HoC/train.tsv": _hoc(0, 5),
        "HoC/test.tsv": _hoc(5, 3),
        "PubMedQA/pqal_fold0/train_set.json": json.dumps(_pubmedqa(0, 5)),
        "PubMedQA/test_set.json": json.dumps(_pubmedqa(5, 3)),
        "MedQA-USMLE-release/US/4_options/phrases_no_exclude_test.jsonl": _medqa(
            lambda chem, dis: (chem, ["aspirin", "insulin", "saline"]),
            "A patient on a drug develops {dis}. Which drug is most likely responsible?",
        ),
        "MedQA-MCMLE/Mainland/test.jsonl": _medqa(
            lambda chem, dis: (chem, ["阿司匹林", "胰岛素", "生理盐水", "青霉素"]),
            "服药后出现{dis}，最可能的药物是",
            "ABCDE",
        ),
        **_chemprot("training", 0, 5),
        **_chemprot("test", 5, 3),
        "CMeEE-V2/CMeEE-V2_dev.json": json.dumps(
            [
                {
                    "text": f"{dis}患者常有{sym}，可服用{drug}。",
                    "entities": [
                        {"start_idx": 0, "end_idx": len(dis) - 1, "type": "dis", "entity": dis},
                        {"start_idx": len(dis) + 4, "end_idx": len(dis) + 3 + len(sym), "type": "sym", "entity": sym},
                        {
                            "start_idx": len(dis) + 8 + len(sym),
                            "end_idx": len(dis) + 7 + len(sym) + len(drug),
                            "type": "dru",
                            "entity": drug,
                        },
                    ],
                }
                for dis, sym, drug, _ in ZH
            ],
            ensure_ascii=False,
        ),
        "CMeIE/CMeIE-V2_dev.json": "".join(
            json.dumps(
                {
                    "text": f"{dis}@{dis}可用{drug}治疗，常见{sym}。",
                    "spo_list": [
                        {"predicate": "药物治疗", "subject": dis, "object": {"@value": drug}},
                        {"predicate": "临床表现", "subject": dis, "object": {"@value": sym}},
                    ],
                },
                ensure_ascii=False,
            )
            + "\n"
            for dis, sym, drug, _ in ZH
        ),
        "CBLUE-train/KUAKE-QIC/KUAKE-QIC_train.json": json.dumps(
            [
                {"id": f"t{i}", "query": f"{sym}是{dis}吗", "label": intent}
                for i, (dis, sym, _, intent) in enumerate(ZH)
            ],
            ensure_ascii=False,
        ),
        "KUAKE-QIC/KUAKE-QIC_dev.json": json.dumps(
            [
                {"id": f"s{i}", "query": f"{dis}{sym}怎么办？", "label": intent}
                for i, (dis, sym, _, intent) in enumerate(ZH)
            ],
            ensure_ascii=False,
        ),
        "CNMLEQA-3k/CNMLEQA-3k.json": json.dumps(
            [
                {
                    "id": str(i),
                    "question": f"{dis}的首选药物是",
                    "opa": drug,
                    "opb": "阿司匹林",
                    "opc": "青霉素",
                    "opd": "胰岛素",
                    "ope": "维生素C",
                    "answer": "opa",
                }
                for i, (dis, _, drug, _) in enumerate(ZH)
            ],
            ensure_ascii=False,
        ),
        "Chinese-medical-dialogue-sample/sample.csv": (
            "department,title,ask,answer\n"
            + "".join(
                f"内科,{dis}怎么治？,我有{sym}，是{dis}吗？,建议就医，可在医生指导下服用{drug}。\n"
                for dis, sym, drug, _ in ZH
            )
        ).encode("gb18030"),
        "Taiyi-instruction-example/Taiyi_Instruction_Data_Example.jsonl": "".join(
            json.dumps(
                {
                    "conversation_id": i,
                    "dataset": "tiny",
                    "category": "NER",
                    "language": "en",
                    "conversation": [
                        {
                            "human": f"Extract the chemical entities from the following text:\n{chem} caused {dis}.",
                            "assistant": f"chemical: {chem}",
                        }
                    ],
                }
            )
            + "\n"
            for i, (chem, dis) in enumerate(PAIRS)
        ),
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return root
