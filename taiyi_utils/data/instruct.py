"""Records -> instruction pairs in the Firefly/Taiyi conversation format, each with its gold structure.

A pair is a dict: ``conversation_id``, ``dataset``, ``category`` (task family),
``language``, ``task``, ``conversation: [{human, assistant}]``, plus ``record_id``,
``source_text`` (for overlap checks), ``gold`` (what ``answers.parse_*`` must give back
from the assistant text) and ``options`` (the types / labels the prompt offered).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import yaml

from .. import answers
from ..tasks import TASKS
from .records import QA, Classification, Dialogue, Document, Record, TextPair, Translation, annotation_counts, main_text
from .sources import Source

TEMPLATE_DIR = Path(__file__).with_name("templates")
JOIN = {"en": ", ", "zh": "，"}
RELATION_CANDIDATES = 8  # RE prompts of larger schemas list this many types, drawn per record (see _re)


@cache
def templates(name: str) -> dict[str, list[str]]:
    path = TEMPLATE_DIR / f"{name}.yaml"
    if not path.exists():
        raise KeyError(f"no template file {path.name}; have {sorted(p.stem for p in TEMPLATE_DIR.glob('*.yaml'))}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@dataclass
class Context:
    source: Source
    seed: int
    rng: random.Random
    template_index: int | None  # fixed template (evaluation) or None for a random paraphrase
    split_ner_by_type: bool
    relation_candidates: int
    inventory: dict[str, list[str]]  # entity types, relation types and labels of the whole split

    @cached_property
    def label_names(self) -> dict[str, str]:
        """Corpus label -> the name prompts and answers show: the source's ``labels:`` in their order, then any
        other label of the whole split, sorted, as itself: the same options whatever sample is drawn."""
        others = sorted(x for x in self.inventory["labels"] if x not in self.source.labels)
        return {**self.source.labels, **{x: x for x in others}}

    def record_rng(self, record_id: str) -> random.Random:
        """Randomness of one record alone, so a record's prompt does not depend on which others were sampled."""
        return random.Random(f"{self.seed}:{self.source.key}:{record_id}")

    @cached_property
    def label_options(self) -> list[str]:
        """The label names a classification or text-pair prompt offers, once each."""
        return list(dict.fromkeys(self.label_names.values()))

    @property
    def lang(self) -> str:
        return self.source.language

    def fill(self, name: str, lang: str | None = None, **fields: str) -> str:
        options = templates(name)[lang or self.lang]
        template = (
            options[self.template_index % len(options)] if self.template_index is not None else self.rng.choice(options)
        )
        return template.format_map(fields)


Item = tuple[str, list[tuple[str, str]], object, list[str]]  # (suffix, turns, gold, options)


def _names(task: str, ctx: Context) -> dict[str, str]:
    """Corpus name -> shown name of the types a task's prompts offer: the source's own map, else every name of the
    whole split; where to look is the scoring registry's ``names_from``, which curation checks suites against."""
    attribute, key = TASKS[task].names_from
    return getattr(ctx.source, attribute) or {name: name for name in ctx.inventory[key]}


def _ner(doc: Document, ctx: Context) -> Iterator[Item]:
    names = _names("ner", ctx)
    by_type: dict[str, list[str]] = {name: [] for name in names.values()}
    for entity in doc.entities:
        if entity.type in names:
            by_type[names[entity.type]].append(entity.text.strip())
    groups = [{t: m} for t, m in by_type.items()] if ctx.split_ner_by_type and len(by_type) > 1 else [by_type]
    for index, group in enumerate(groups):
        prompt = ctx.fill("ner", types=JOIN[ctx.lang].join(group), text=doc.text)
        gold = sorted({(t, m) for t, ms in group.items() for m in ms})
        yield f"{index}" if len(groups) > 1 else "", [(prompt, answers.format_ner(group, ctx.lang))], gold, list(group)


def _re(doc: Document, ctx: Context) -> Iterator[Item]:
    """A schema of up to ``relation_candidates`` types is listed whole. A larger one (CMeIE's 43) is listed as
    ``relation_candidates`` types drawn at random for each record (seeded by its id) whatever its gold holds,
    and the gold keeps the listed types only: a listed type is present as often as any type of the schema,
    so the list gives no hint of the answer."""
    names = _names("re", ctx)
    listed = list(dict.fromkeys(names.values()))
    if len(listed) > ctx.relation_candidates:
        listed = ctx.record_rng(doc.id).sample(listed, ctx.relation_candidates)
    pairs = {name: [] for name in listed}
    for rel in doc.relations:
        if names.get(rel.type) in pairs:
            pairs[names[rel.type]].append((rel.head.strip(), rel.tail.strip()))
    prompt = ctx.fill("re", relations=JOIN[ctx.lang].join(listed), text=doc.text)
    gold = sorted({(r, h, t) for r, ps in pairs.items() for h, t in ps})
    yield "", [(prompt, answers.format_re(pairs, ctx.lang))], gold, listed


def _ee(doc: Document, ctx: Context) -> Iterator[Item]:
    if not doc.events:
        return
    names = ctx.source.events or {e.type: e.type for e in doc.events}
    events = [(names.get(e.type, e.type), e.trigger, e.arguments) for e in doc.events]
    prompt = ctx.fill("ee", events=JOIN[ctx.lang].join(dict.fromkeys(n for n, _, _ in events)), text=doc.text)
    gold = sorted((t, trig, sorted(args)) for t, trig, args in events)
    yield "", [(prompt, answers.format_events(events, ctx.lang))], gold, sorted(set(names.values()))


def _title(doc: Document, ctx: Context) -> Iterator[Item]:
    if doc.title:
        abstract = doc.text[len(doc.title) :].strip()
        yield "", [(ctx.fill("title", text=abstract), doc.title)], doc.title, []


def _cls(rec: Classification, ctx: Context) -> Iterator[Item]:
    gold = [ctx.label_names.get(label, label) for label in rec.labels]
    name = "multilabel" if rec.multi_label else "cls"
    prompt = ctx.fill(name, labels=JOIN[ctx.lang].join(ctx.label_options), text=rec.text)
    yield "", [(prompt, answers.format_labels(gold, ctx.lang))], sorted(set(gold)), ctx.label_options


def _textpair(rec: TextPair, ctx: Context) -> Iterator[Item]:
    gold = ctx.label_names.get(rec.label, rec.label)
    labels = JOIN[ctx.lang].join(ctx.label_options)
    prompt = ctx.fill("textpair", labels=labels, text_1=rec.text_1, text_2=rec.text_2)
    yield "", [(prompt, answers.format_labels([gold], ctx.lang))], [gold], ctx.label_options


def _cdee(doc: Document, ctx: Context) -> Iterator[Item]:
    events = [(e.trigger, e.arguments) for e in doc.events]
    gold = sorted(
        {(t, answers.CDEE_TRIGGER, t) for t, _ in events} | {(t, r, v) for t, args in events for r, v in args}
    )
    yield "", [(ctx.fill("cdee", text=doc.text), answers.format_clinical_events(events))], gold, []


def _norm(rec: Classification, ctx: Context) -> Iterator[Item]:
    if rec.labels:  # unlabelled test rows teach nothing
        yield (
            "",
            [(ctx.fill("norm", text=rec.text), answers.format_labels(list(rec.labels), ctx.lang))],
            sorted(set(rec.labels)),
            [],
        )


def _qa(rec: QA, ctx: Context) -> Iterator[Item]:
    if rec.kind == "mc":
        choices = "\n".join(f"{k}. {v}" for k, v in rec.choices.items())
        prompt = ctx.fill("qa_mc", question=rec.question, choices=choices)
        yield (
            "",
            [(prompt, answers.format_choice(rec.answer, rec.choices[rec.answer], ctx.lang))],
            rec.answer,
            list(rec.choices),
        )
        return
    if not rec.answer:
        return
    if rec.kind in ("yesno", "yesnomaybe"):
        options = ["yes", "no", "maybe"] if rec.kind == "yesnomaybe" else ["yes", "no"]
        listed = "/".join(options) if ctx.lang == "zh" else ", ".join(options[:-1]) + " or " + options[-1]
        reply = answers.format_yesno(rec.answer, ctx.lang)
        yield (
            "",
            [
                (
                    ctx.fill(
                        "qa_yesno" if rec.context else "qa_open",
                        question=rec.question,
                        context=rec.context,
                        options=listed,
                    ),
                    reply,
                )
            ],
            rec.answer,
            options,
        )
        return
    name = "qa_context" if rec.context else "qa_open"
    yield "", [(ctx.fill(name, question=rec.question, context=rec.context), rec.answer)], rec.answer, []


def _dialogue(rec: Dialogue, ctx: Context) -> Iterator[Item]:
    turns = list(rec.turns)
    if rec.context and turns:
        turns[0] = (ctx.fill("dialogue", context=rec.context, question=turns[0][0]), turns[0][1])
    yield "", turns, turns[-1][1], []


def _translation(rec: Translation, ctx: Context) -> Iterator[Item]:
    yield "", [(ctx.fill("translation", lang=rec.source_lang, text=rec.source), rec.target)], rec.target, []


def _verbatim(rec: Dialogue, ctx: Context) -> Iterator[Item]:
    yield "", list(rec.turns), rec.turns[-1][1], []


@dataclass(frozen=True)
class Writer:
    """How one task's instruction pairs are written: the records it reads, the builder, the task family its pairs
    are counted under (Taiyi's categories), and whether RE pairs carry their arguments' other mentions."""

    reads: type
    build: Callable[[Record, Context], Iterator[Item]]
    family: str
    aliases: bool = False


WRITERS: dict[str, Writer] = {  # one entry per task; tasks.py scores the ones with a gold structure
    "ner": Writer(Document, _ner, "NER"),
    "re": Writer(Document, _re, "RE", aliases=True),
    "ee": Writer(Document, _ee, "EE"),
    "title": Writer(Document, _title, "TT"),
    "cls": Writer(Classification, _cls, "TC"),
    "norm": Writer(Classification, _norm, "NEN"),
    "qa": Writer(QA, _qa, "QA"),
    "textpair": Writer(TextPair, _textpair, "TP"),
    "cdee": Writer(Document, _cdee, "EE"),
    "dialogue": Writer(Dialogue, _dialogue, "MRD"),
    "translation": Writer(Translation, _translation, "MT"),
    "verbatim": Writer(Dialogue, _verbatim, ""),  # the family comes from the data (its category) or the source
}
FAMILIES = {w.family for w in WRITERS.values()} - {""}


def inventory(records: list[Record]) -> dict[str, list[str]]:
    """Entity types, relation types and labels seen, most frequent first (stable across runs)."""
    order = lambda c: [k for k, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]  # noqa: E731
    return {key: order(counts) for key, counts in annotation_counts(records).items()}


def _aliases(doc: Document) -> dict[str, list[str]]:
    """Other mentions of each relation argument that has a database id (BC5CDR's CID pairs)."""
    mentions: dict[str, set[str]] = {}
    for entity in doc.entities:
        for ident in entity.ids:
            mentions.setdefault(ident, set()).add(entity.text.strip())
    return {
        name.strip(): sorted(mentions.get(ident, set()) - {name.strip()})
        for rel in doc.relations
        for name, ident in ((rel.head, rel.head_id), (rel.tail, rel.tail_id))
        if ident
    }


def _family(task: str, rec: Record, source: Source) -> str:
    if not WRITERS[task].family:
        prefix = getattr(rec, "category", "").split("-")[0]
        return prefix if prefix in FAMILIES else (source.family or "MRD")
    return source.family or WRITERS[task].family


def build_pairs(
    records: list[Record],
    source: Source,
    *,
    tasks: tuple[str, ...] | None = None,
    seed: int = 0,
    template_index: int | None = None,
    split_ner_by_type: bool = True,
    relation_candidates: int = RELATION_CANDIDATES,
    split: list[Record] | None = None,
) -> list[dict]:
    """Instruction pairs for every (task, record); deterministic for a given seed.

    ``split`` is the whole split ``records`` were sampled from (default: ``records``): the types and labels
    prompts offer come from it, so a small sample offers the same options as the whole split.
    """
    ctx = Context(
        source,
        seed,
        random.Random(seed),
        template_index,
        split_ner_by_type,
        relation_candidates,
        inventory(records if split is None else split),
    )
    pairs = []
    for task in tasks or source.tasks:
        if task not in WRITERS:
            raise ValueError(f"source {source.key!r}: unknown task {task!r}; known: {', '.join(WRITERS)}")
        writer = WRITERS[task]
        for rec in records:
            if not isinstance(rec, writer.reads):
                raise TypeError(
                    f"source {source.key!r}: task {task!r} needs {writer.reads.__name__} records, "
                    f"got {type(rec).__name__}"
                )
            language = f"{rec.source_lang}-{rec.target_lang}" if isinstance(rec, Translation) else source.language
            for suffix, turns, gold, options in writer.build(rec, ctx):
                pairs.append(
                    {
                        "conversation_id": f"{source.key}:{task}:{rec.id}" + (f":{suffix}" if suffix else ""),
                        "dataset": source.key,
                        "category": _family(task, rec, source),
                        "language": language,
                        "task": task,
                        "conversation": [{"human": h, "assistant": a} for h, a in turns],
                        "record_id": rec.id,
                        "source_text": main_text(rec),
                        "gold": gold,
                        "options": options,
                    }
                )
                if writer.aliases and any(r.head_id for r in rec.relations):
                    pairs[-1]["aliases"] = _aliases(rec)
    return pairs
