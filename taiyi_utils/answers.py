"""The answer text of every task: written here for the training data, parsed here for scoring.

One module owns both directions so that an instruction's answer always parses back
to its gold structure (tests check this on every real dataset). Formats follow
Taiyi's conventions: ``type: a; b`` lines for NER, ``relation: [head, tail]`` pairs
for RE, ``Result: label`` for classification, ``Answer: B. text`` for multiple choice.

Parsers never raise on model output: prose lines, full-width punctuation, repeated
lines and empty text give (partial) structures, never exceptions. Where ``source``
(the input text) is given it settles ambiguous splits: a mention written with
``；`` or ``,`` inside it stays whole when it occurs verbatim in the source.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

ITEM_SEP = "; "
NONE = {"en": "none", "zh": "无"}
COLON = {"en": ": ", "zh": "："}
RESULT = {"en": "Result", "zh": "上述文本被分类为"}
ANSWER = {"en": "Answer", "zh": "答案"}

_COLON = re.compile(r"[:：]")
MAX_JOINED = 8  # a mention spans at most this many "; "-separated pieces (bounds the work on long answers)
NONE_WORDS = {"none", "无", "没有", "null", "n/a", "无实体", "无关系"}


# ----------------------------------------------------------------- formatting
def _line(key: str, items: list[str], lang: str) -> str:
    return f"{key}{COLON[lang]}{ITEM_SEP.join(items) if items else NONE[lang]}"


def format_ner(entities_by_type: dict[str, list[str]], lang: str) -> str:
    """One ``type: m1; m2`` line per requested type (in the given order), ``none`` when empty."""
    return "\n".join(_line(t, _unique(m), lang) for t, m in entities_by_type.items())


def format_re(pairs_by_relation: dict[str, list[tuple[str, str]]], lang: str) -> str:
    return "\n".join(_line(r, [f"[{h}, {t}]" for h, t in _unique(p)], lang) for r, p in pairs_by_relation.items())


def format_events(events: list[tuple[str, str, tuple[tuple[str, str], ...]]], lang: str) -> str:
    """``type: (Trigger: t, Role: arg, ...)``, one line per event."""
    trigger = "Trigger" if lang == "en" else "触发词"
    sep = ", " if lang == "en" else "，"
    lines = []
    for etype, trig, args in events:
        inner = sep.join(f"{k}{COLON[lang]}{v}" for k, v in ((trigger, trig), *args))
        lines.append(f"{etype}{COLON[lang]}({inner})")
    return "\n".join(lines) if lines else NONE[lang]


CDEE_ROLES = ("发生状态", "描述词", "解剖部位")  # after 主体词 (the trigger), in Taiyi's CHIP-CDEE order
CDEE_TRIGGER = "主体词"


def format_clinical_events(events: list[tuple[str, tuple[tuple[str, str], ...]]]) -> str:
    """Taiyi's CHIP-CDEE answer: one ``主体词：t；发生状态：…；描述词：a；描述词：b；解剖部位：…`` line per event.

    A role with several values is repeated (values hold '，' and '、' but never '；'); an empty role
    is written once with nothing after the colon.
    """
    lines = []
    for trigger, arguments in events:
        fields = [f"{CDEE_TRIGGER}：{trigger}"]
        for role in CDEE_ROLES:
            fields += [f"{role}：{v}" for r, v in arguments if r == role] or [f"{role}："]
        lines.append("；".join(fields))
    return "\n".join(lines) if lines else NONE["zh"]


def format_labels(labels: list[str], lang: str) -> str:
    return _line(RESULT[lang], _unique(labels), lang)


def format_choice(letter: str, text: str, lang: str) -> str:
    return f"{ANSWER[lang]}{COLON[lang]}{letter}. {text}"


def format_yesno(answer: str, lang: str) -> str:
    return f"{ANSWER[lang]}{COLON[lang]}{answer}"


# ------------------------------------------------------------------- parsing
def key_value(line: str) -> tuple[str, str] | None:
    match = _COLON.search(line)
    if not match:
        return None
    return line[: match.start()].strip(" -*#\t"), line[match.end() :].strip()


def split_items(payload: str, source: str | None = None) -> list[str]:
    """Items of an ``a; b`` list.

    With ``source``, a piece ending in a space, or one whose open bracket the next closes, is
    re-joined with the next when the joined text occurs verbatim in the source: tokenised IOB text writes
    ``t ( 8 ; 21 )`` and ChemProt has ``serotonin (5-hydroxytryptamine; 5HT) transporter``,
    whereas ``a; b`` is otherwise two items. ``；`` and ``;`` without a
    space split only pieces that are not verbatim source text.
    """
    pieces = re.split(r";(?=\s)\s*", payload)
    items, i = [], 0
    while i < len(pieces):
        j = i + 1
        while (
            source is not None
            and j < len(pieces)
            and j - i < MAX_JOINED
            and _joins(pieces, i, j)
            and "; ".join(pieces[i : j + 1]).strip() in source
        ):
            j += 1
        item = "; ".join(pieces[i:j]).strip()
        i = j
        if not item:
            continue
        if ";" not in item and "；" not in item or source is not None and item in source:
            items.append(item)  # the membership test runs only where it can change the split: linear time
        else:
            items.extend(p.strip() for p in re.split(r"[;；]", item) if p.strip())
    return [i for i in items if i.lower() not in NONE_WORDS]


def _joins(pieces: list[str], i: int, j: int) -> bool:
    """Whether piece ``j`` may continue the item ``pieces[i:j]``: after a space, or to close its bracket."""
    return pieces[j - 1].endswith(" ") or _open_bracket(pieces[i:j]) and not _open_bracket(pieces[i : j + 1])


def _open_bracket(pieces: list[str]) -> bool:
    text = "; ".join(pieces)
    return text.count("(") > text.count(")") or text.count("[") > text.count("]")


def parse_ner(text: str, source: str | None = None, types: set[str] | None = None) -> set[tuple[str, str]]:
    """{(type, mention)} from ``type: a; b`` lines; lines of other types or prose are ignored."""
    found = set()
    for line in text.splitlines():
        kv = key_value(line)
        if kv is None or (types is not None and kv[0] not in types):
            continue
        found.update((kv[0], item) for item in split_items(kv[1], source))
    return found


def _split_pair(inner: str, source: str | None) -> tuple[str, str] | None:
    cuts = sorted(re.finditer(r",\s*|，\s*", inner), key=lambda m: m.group() != ", ")  # canonical first
    if not cuts:
        return None
    if source is not None and len(cuts) > 1:  # only an ambiguous pair needs the (linear) source search
        for cut in cuts:
            head, tail = inner[: cut.start()].strip(), inner[cut.end() :].strip()
            if head in source and tail in source:
                return head, tail
    cut = next((c for c in cuts if c.group() == ", "), cuts[0])
    return inner[: cut.start()].strip(), inner[cut.end() :].strip()


def parse_re(text: str, source: str | None = None, relations: set[str] | None = None) -> set[tuple[str, str, str]]:
    """{(relation, head, tail)} from ``relation: [h, t]; [h, t]`` lines."""
    found = set()
    for line in text.splitlines():
        kv = key_value(line)
        if kv is None or (relations is not None and kv[0] not in relations):
            continue
        payload = kv[1].strip()
        if not payload.startswith("[") or "]" not in payload:
            continue
        payload = payload[1 : payload.rindex("]")]
        for inner in re.split(r"\]\s*[;；]\s*\[", payload):
            pair = _split_pair(inner, source)
            if pair and all(pair):
                found.add((kv[0], *pair))
    return found


def parse_events(text: str) -> set[tuple[str, str, frozenset]]:
    """{(type, trigger, {(role, argument)})} from ``type: (Trigger: t, Role: a)`` lines."""
    found = set()
    for line in text.splitlines():
        kv = key_value(line)
        if kv is None or not kv[1].startswith("(") or not kv[1].endswith(")"):
            continue
        fields = [key_value(part) for part in re.split(r",\s*|，", kv[1][1:-1])]
        fields = [f for f in fields if f]
        if fields and fields[0][0] in ("Trigger", "触发词"):
            found.add((kv[0], fields[0][1], frozenset(fields[1:])))
    return found


def parse_clinical_events(text: str) -> set[tuple[str, str, str]]:
    """{(trigger, role, value)} from CHIP-CDEE answer lines, with (trigger, 主体词, trigger) for each event."""
    found = set()
    for line in text.splitlines():
        fields = [kv for part in line.split("；") if (kv := key_value(part))]
        trigger = next((v for k, v in fields if k == CDEE_TRIGGER), "")
        if trigger:
            found.add((trigger, CDEE_TRIGGER, trigger))
            found.update((trigger, k, v) for k, v in fields if k in CDEE_ROLES and v)
    return found


def label_key(text: str) -> str:
    """What "the same label" means: width-folded (NFKC), case-folded, punctuation read as space, spaces collapsed."""
    return " ".join(_NOT_LABEL_CHAR.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


_NOT_LABEL_CHAR = re.compile(r"[^\w]|_")
_LATIN_WORD_CHAR = r"[^\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"  # a word character outside CJK: needs a boundary
LABEL_KEYS = {label_key(k) for k in (*RESULT.values(), *ANSWER.values(), "Label", "Labels", "类别")}


@cache
def _label_pattern(key: str) -> re.Pattern:
    """``key`` as a whole label: Latin ends need a non-word neighbour, CJK ends (no spaces in Chinese) do not."""
    before = f"(?<!{_LATIN_WORD_CHAR})" if re.match(_LATIN_WORD_CHAR, key[0]) else ""
    after = f"(?!{_LATIN_WORD_CHAR})" if re.match(_LATIN_WORD_CHAR, key[-1]) else ""
    return re.compile(before + re.escape(key) + after)


def _named_labels(text: str, labels: list[str]) -> set[str]:
    """The ``labels`` (longest first) that ``text`` names as whole labels; a found label's text is used up."""
    rest, found = label_key(text), set()
    for label in labels:
        rest, hits = _label_pattern(label_key(label)).subn(lambda m: "\0" * len(m.group()), rest)
        if hits:
            found.add(label)
    return found


def parse_labels(text: str, labels: set[str] | None = None) -> set[str]:
    """Labels an answer gives: the items after ``Result:`` (or ``Answer:``, ``类别:``) where such a line exists,
    else the labels named anywhere in the text.

    With ``labels`` (the options the prompt offered) a label is found as a whole label, whatever its
    case, width or punctuation, longest first: a found label's text is used up, so ``not related``
    is never also ``related``, nor ``非疾病`` also ``疾病``; names are returned as ``labels`` spells them.
    An item after ``Result:`` that names no offered label is returned as written: a claim, scored as a
    wrong label. Without ``labels`` every item is returned as written (of every line, when no key is found).
    """
    payloads = [kv[1] for line in text.splitlines() if (kv := key_value(line)) and label_key(kv[0]) in LABEL_KEYS]
    offered = sorted((x for x in labels or () if label_key(x)), key=lambda x: -len(label_key(x)))
    if not payloads and labels is not None:
        return _named_labels(text, offered)  # prose: the labels it names
    found = set()
    for item in (item.strip(" 。.") for payload in payloads or text.splitlines() for item in split_items(payload)):
        found |= _named_labels(item, offered) or {item} - {""}
    return found


_YESNO_FIRST = re.compile(r"\W*(yes|no|maybe)\b", re.IGNORECASE)


def parse_choice(text: str, letters: str = "ABCDE") -> str:
    """The option letter a multiple-choice answer picks, or '' when it names none.

    The letter right after ``Answer:`` (or at the start) wins; then an explicit pick in prose
    ("the answer is (C)", "选C", "B."); then a lone letter. An answer that opens with yes / no
    / maybe names no option: "Answer: no. Vitamin D ..." is not D.
    """
    if not text.strip():
        return ""
    kv = key_value(text.strip().splitlines()[0])
    prefixed = bool(kv) and kv[0] in (ANSWER["en"], ANSWER["zh"])
    payload = kv[1] if prefixed else text.strip()
    if _YESNO_FIRST.match(payload):
        return ""
    letter = rf"([{letters}])(?![A-Za-z])"
    patterns = [
        rf"^[(（]?{letter}(?:[.)）:：、]|\s*$)",
        rf"(?i:answer is):?\s*[(（]?{letter}",
        rf"[(（]{letter}[)）]",
        rf"(?:选|答案[是为]?)\s*{letter}",
        rf"(?<![A-Za-z]){letter}[.)）]",
        rf"(?<![A-Za-z]){letter}(?! [a-z0-9])",
    ]  # a lone letter, not the article in "A patient"
    if prefixed:
        patterns.insert(0, rf"^{letter}")  # right after "Answer:"
    for pattern in patterns:
        match = re.search(pattern, payload)
        if match:
            return match.group(1)
    return ""


_VERDICT = re.compile(r"\b(yes|no|maybe)\b", re.IGNORECASE)
_OPENING_VERDICT = re.compile(r"\W*(yes|no|maybe)\b(?=\s*[,.!;:，。！；：]|\s*$)", re.IGNORECASE)
_ANSWER_MARK = re.compile(r"\banswer\b(?:\s+is)?\s*[:：]?|答案\s*(?:是|为)?\s*[:：]?", re.IGNORECASE)
_ZH_VERDICT = re.compile(r"\s*(不是|是|否|可能)")
ZH_VERDICTS = {"不是": "no", "是": "yes", "否": "no", "可能": "maybe"}


def parse_yesno(text: str) -> str:
    """yes / no / maybe, or '' when the answer gives none. The rule, in order:

    1. after the last ``Answer:`` / ``答案：`` that a verdict follows, read that part alone (a Chinese
       是 / 否 / 不是 / 可能 right after ``答案`` counts there, and only there);
    2. a verdict word that opens the answer and is followed by punctuation ("Yes, there is no doubt");
    3. else the last verdict word ("There is no evidence against it, so yes").
    """
    last_word = max((m.start() for m in _VERDICT.finditer(text)), default=-1)
    for mark in reversed(list(_ANSWER_MARK.finditer(text))):
        if zh := _ZH_VERDICT.match(text, mark.end()):
            return ZH_VERDICTS[zh.group(1)]
        if last_word >= mark.end():  # read once, from the last mark a verdict follows: linear time
            return _verdict(text[mark.end() :])
    return _verdict(text)


def _verdict(text: str) -> str:
    if opening := _OPENING_VERDICT.match(text):
        return opening.group(1).lower()
    words = _VERDICT.findall(text)
    return words[-1].lower() if words else ""


def is_pair_list(payload: str) -> bool:
    """Whether ``payload`` is ``[h, t]; [h, t] ...`` (split, not one backtracking regex: linear time)."""
    payload = payload.strip()
    if len(payload) < 3 or payload[0] != "[" or payload[-1] != "]":
        return False
    return all(piece.strip() for piece in re.split(r"\]\s*[;；]\s*\[", payload[1:-1]))


def _unique(items):
    return list(dict.fromkeys(items))
