"""Every scored task in one place: how its answer is parsed, checked for format and scored.

The notebooks (``eval.score.score_row``), the score CLI (``python -m taiyi_utils.evaluation score``)
and the tests all call ``TASKS``, so each task has exactly one answer to "how is this scored".
``answers.py`` writes and parses the answer texts; a ``Task`` binds those parsers to a scorer
and its error categories. Scoring decisions:

- NER: strict micro-F1 over (type, mention) pairs per prompt; a mention matches only as the
  exact string (surrounding whitespace ignored). Repeated mentions count once per prompt, so a
  document-level prompt's gold is its set of distinct (type, mention) pairs.
- RE: strict micro-F1 over (relation, head, tail). Where an item carries entity aliases
  (BC5CDR's document-level CID pairs), a predicted pair is correct when its head and tail match,
  case- and whitespace-normalised, any mention of the gold pair's arguments; several predictions
  hitting one gold pair count once.
- Classification (``cls``, ``multilabel``, ``norm``, ``textpair``): micro-F1 over (example, label); with
  one label per example it equals accuracy. A label is found as a whole label, in any case, width or
  punctuation, longest first, so ``not related`` is never read as ``related`` (``answers.parse_labels``).
  Macro-F1 over the suite's labels is reported beside it.
- CHIP-CDEE: micro-F1 over (主体词, role, value) triples, one (t, 主体词, t) per event.
- QA: accuracy. Options ``yes/no/maybe`` are read with ``parse_yesno`` (the verdict after ``Answer:`` /
  ``答案``, else an opening one, else the last one), letters with ``parse_choice``; an answer that
  names yes / no / maybe is never read as a letter.

Errors per example: NER exact / boundary error / type error / spurious / missing; RE wrong
relation / reversed direction / spurious / missing; classification confusion (gold -> predicted)
or missing / spurious labels; QA the chosen vs the gold option.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import answers

YESNO = ("yes", "no", "maybe")
Counts = tuple[int, int, int]


@dataclass(frozen=True)
class Item:
    """What scoring knows of one prompt: the options it offered, its input text, entity aliases."""

    options: frozenset = frozenset()
    source: str | None = None
    aliases: dict | None = None


@dataclass(frozen=True)
class Task:
    name: str
    metric: str  # the task's own metric; a suite may report others beside it
    parse: Callable[[str, Item], object]
    score: Callable[[object, object, Item], tuple[Counts | bool, list[dict]]]
    follows_format: Callable[[list[str], Item], bool]  # over the answer's non-empty, stripped lines
    structured: bool = False  # gold and predictions are sets of tuples (mentions, triples), not labels
    confusion: bool = False  # one label or option per answer: a gold-vs-predicted heatmap reads well
    macro_over_options: bool = False  # macro-F1 is reported, averaged over the labels the prompts offered
    # the score CLI (gold answer texts without curated rows): the options each prompt would have offered, read off
    # the gold texts; None: the CLI does not take this task
    gold_options: Callable[[list[str]], list[set[str]]] | None = None
    rows_as: str = ""  # the task its evaluation rows carry, when another (multi-label prompts are curated as cls)
    names_from: tuple[str, str] | None = None  # (source attribute listing its names, inventory key) for curation


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


# ------------------------------------------------------------------ scorers
def _score_ner(gold: set, pred: set, item: Item) -> tuple[Counts, list[dict]]:
    errors, implicated = [], set()
    for kind, mention in sorted(pred):
        if (kind, mention) in gold:
            errors.append({"category": "exact", "type": kind, "pred": mention, "gold": mention})
            continue
        same_text = [g for g in gold if g[1] == mention]
        overlapping = [g for g in gold if g[0] == kind and (g[1] in mention or mention in g[1])]
        if same_text:
            errors.append(
                {"category": "type error", "type": kind, "pred": mention, "gold": f"{same_text[0][0]}: {mention}"}
            )
            implicated.update(same_text)
        elif overlapping:
            errors.append({"category": "boundary error", "type": kind, "pred": mention, "gold": overlapping[0][1]})
            implicated.update(overlapping)
        else:
            errors.append({"category": "spurious", "type": kind, "pred": mention, "gold": ""})
    errors += [
        {"category": "missing", "type": kind, "pred": "", "gold": mention}
        for kind, mention in sorted(gold - pred - implicated)
    ]
    tp = len(gold & pred)
    return (tp, len(pred) - tp, len(gold) - tp), errors


def _score_re(gold: set, pred: set, item: Item) -> tuple[Counts, list[dict]]:
    aliases = item.aliases or {}
    names = {name: {norm(a) for a in [name, *aliases.get(name, [])]} for g in gold for name in g[1:]}
    matches = lambda p, g: p[0] == g[0] and norm(p[1]) in names[g[1]] and norm(p[2]) in names[g[2]]  # noqa: E731
    found, wrong, errors = set(), 0, []
    for p in sorted({(r, norm(h), norm(t)): (r, h, t) for r, h, t in pred}.values()):
        candidates = [g for g in sorted(gold) if matches(p, g)]  # its own name first, then one not yet found
        exact = [g for g in candidates if (norm(g[1]), norm(g[2])) == (norm(p[1]), norm(p[2]))]
        hit = next(iter(exact + [g for g in candidates if g not in found] + candidates), None)
        if hit:
            if hit not in found:
                errors.append(
                    {"category": "exact", "type": p[0], "pred": f"[{p[1]}, {p[2]}]", "gold": f"[{hit[1]}, {hit[2]}]"}
                )
            found.add(hit)
            continue
        other = next((g for g in sorted(gold) if matches((g[0], p[1], p[2]), g)), None)
        reverse = next((g for g in sorted(gold) if matches((p[0], p[2], p[1]), g)), None)
        target = other or reverse
        wrong += 1
        errors.append(
            {
                "category": "wrong relation" if other else "reversed direction" if reverse else "spurious",
                "type": p[0],
                "pred": f"[{p[1]}, {p[2]}]",
                "gold": f"{target[0]}: [{target[1]}, {target[2]}]" if target else "",
            }
        )
        if target:
            found.add(target)  # explained by this error, not missing; still not a true positive
    tp = sum(1 for e in errors if e["category"] == "exact")
    errors += [
        {"category": "missing", "type": g[0], "pred": "", "gold": f"[{g[1]}, {g[2]}]"} for g in sorted(gold - found)
    ]
    return (tp, wrong, len(gold) - tp), errors


def _score_labels(gold: set, pred: set, item: Item) -> tuple[Counts, list[dict]]:
    """Labels compare as ``answers.label_key`` (case, width, punctuation): ``Not related`` is ``not related``."""
    keys = {answers.label_key(label): label for label in gold}
    pred = {keys.get(answers.label_key(label), label) for label in pred}
    tp = len(gold & pred)
    if len(gold) == 1 and gold != pred:
        errors = [
            {"category": "confusion", "type": "", "gold": "; ".join(sorted(gold)), "pred": "; ".join(sorted(pred))}
        ]
    else:
        errors = [{"category": "missing", "type": label, "gold": label, "pred": ""} for label in sorted(gold - pred)]
        errors += [{"category": "spurious", "type": label, "gold": "", "pred": label} for label in sorted(pred - gold)]
    return (tp, len(pred) - tp, len(gold) - tp), errors


def _score_set(gold: set, pred: set, item: Item) -> tuple[Counts, list[dict]]:
    """Items of a flat set (CHIP-CDEE's (trigger, role, value) triples): found, missing or spurious."""
    show = lambda x: " / ".join(x) if isinstance(x, tuple) else str(x)  # noqa: E731
    errors = [{"category": "exact", "type": "", "gold": show(x), "pred": show(x)} for x in sorted(gold & pred)]
    errors += [{"category": "missing", "type": "", "gold": show(x), "pred": ""} for x in sorted(gold - pred)]
    errors += [{"category": "spurious", "type": "", "gold": "", "pred": show(x)} for x in sorted(pred - gold)]
    tp = len(gold & pred)
    return (tp, len(pred) - tp, len(gold) - tp), errors


def _score_qa(gold: str, pred: str, item: Item) -> tuple[bool, list[dict]]:
    correct = pred == gold and gold != ""
    return correct, [] if correct else [
        {"category": "wrong option", "type": "", "gold": gold, "pred": pred or "(none)"}
    ]


# ------------------------------------------------------------------ options read off gold answer texts
def _keys_offered(texts: list[str]) -> list[set[str]]:
    return [{kv[0] for line in text.splitlines() if (kv := answers.key_value(line))} for text in texts]


def _choices_offered(texts: list[str]) -> list[set[str]]:
    return [
        set(YESNO) if not answers.parse_choice(text) and answers.parse_yesno(text) else set("ABCDE") for text in texts
    ]


def _labels_offered(texts: list[str]) -> list[set[str]]:
    label_set = set().union(*(answers.parse_labels(text) for text in texts))
    return [label_set for _ in texts]


# ------------------------------------------------------------------ parsers
def _parse_qa(text: str, item: Item) -> str:
    if not item.options:
        return text.strip()  # open question: the answer text itself
    if set(item.options) <= set(YESNO):
        return answers.parse_yesno(text)
    return answers.parse_choice(text, "".join(sorted(item.options)))


def _parse_labels(text: str, item: Item) -> set[str]:
    return answers.parse_labels(text, set(item.options) or None)


# ------------------------------------------------------------- format checks
def _keyed_lines(lines: list[str], item: Item, relation: bool) -> bool:
    pairs = [answers.key_value(line) for line in lines]
    if not all(kv and kv[0] in item.options for kv in pairs):
        return False
    return not relation or all(kv[1].lower() in answers.NONE_WORDS or answers.is_pair_list(kv[1]) for kv in pairs)


def _labels_format(lines: list[str], item: Item) -> bool:
    kv = answers.key_value(lines[0])
    if not kv or kv[0] not in answers.RESULT.values():
        return False
    labels = {answers.label_key(label) for label in answers.split_items(kv[1])}
    offered = {answers.label_key(option) for option in item.options}
    return not item.options or (labels <= offered if labels else kv[1] in answers.NONE.values())


def _qa_format(lines: list[str], item: Item) -> bool:
    prefix = "|".join(answers.ANSWER.values())
    if not item.options:
        return True
    if set(item.options) <= set(YESNO):
        return bool(re.fullmatch(rf"({prefix})[:：]\s*(yes|no|maybe)", lines[0]))
    return bool(re.match(rf"({prefix})[:：]\s*[{''.join(sorted(item.options))}]\.", lines[0]))


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "ner",
            "micro_f1",
            lambda text, item: answers.parse_ner(text, item.source, set(item.options) or None),
            _score_ner,
            lambda lines, item: _keyed_lines(lines, item, relation=False),
            structured=True,
            gold_options=_keys_offered,
            names_from=("types", "entities"),
        ),
        Task(
            "re",
            "micro_f1",
            lambda text, item: answers.parse_re(text, item.source, set(item.options) or None),
            _score_re,
            lambda lines, item: _keyed_lines(lines, item, relation=True),
            structured=True,
            gold_options=_keys_offered,
            names_from=("relations", "relations"),
        ),
        Task(
            "cls",
            "micro_f1",
            _parse_labels,
            _score_labels,
            _labels_format,
            confusion=True,
            macro_over_options=True,
            gold_options=_labels_offered,
        ),
        Task(
            "multilabel",
            "micro_f1",
            _parse_labels,
            _score_labels,
            _labels_format,
            gold_options=_labels_offered,
            rows_as="cls",
        ),  # fmt: skip
        Task("norm", "micro_f1", _parse_labels, _score_labels, _labels_format, macro_over_options=True),
        Task("textpair", "micro_f1", _parse_labels, _score_labels, _labels_format),
        Task(
            "cdee",
            "micro_f1",
            lambda text, item: answers.parse_clinical_events(text),
            _score_set,
            lambda lines, item: (
                all(line.startswith(answers.CDEE_TRIGGER) for line in lines) or lines == [answers.NONE["zh"]]
            ),
            structured=True,
        ),
        Task("qa", "accuracy", _parse_qa, _score_qa, _qa_format, confusion=True, gold_options=_choices_offered),
    )
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; scored tasks: {', '.join(TASKS)}")
    return TASKS[name]


def item_of(row: dict) -> Item:
    """The scoring view of a curated evaluation row (its prompt is the parsers' source text)."""
    return Item(frozenset(row.get("options") or ()), row["conversation"][0]["human"], row.get("aliases"))


def gold_structure(row: dict):
    """A row's gold in the shape the parser returns: sets of tuples, a set of labels, or a string."""
    task = TASKS.get(row["task"])
    if task and task.structured:
        return {tuple(g) for g in row["gold"]}
    if task and task.metric == "micro_f1":
        return set(row["gold"])
    return row["gold"].strip()  # answers compare whitespace-trimmed, as parsers return them


def follows_format(pair: dict, text: str) -> bool:
    """Whether ``text`` answers ``pair``'s instruction in the workbench's answer format.

    NER / RE: every non-empty line is ``key: ...`` with a key the prompt offered (RE lines hold
    ``[head, tail]`` pairs or ``none``); classification: a ``Result:`` line (labels from the
    offered set when there is one); multiple choice: ``Answer: X.``; yes/no: ``Answer: yes|no|maybe``.
    Tasks without a scorer (free text) need only a non-empty answer.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return False
    task = TASKS.get(pair["task"])
    return task.follows_format(lines, item_of(pair)) if task else True
