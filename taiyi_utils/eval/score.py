"""Scoring decisions, in one place.

- NER: strict micro-F1 over (type, mention) pairs per prompt; a mention matches only
  as the exact string (surrounding whitespace ignored). Repeated predictions count once.
- RE: strict micro-F1 over (relation, head, tail). Where a suite carries entity aliases
  (BC5CDR's document-level CID pairs), a predicted pair is correct when its head and
  tail match, case- and whitespace-normalised, any mention of the gold pair's chemical
  and disease; several predictions hitting one gold pair count once.
- Classification: micro-F1 over (example, label); single-label micro-F1 equals accuracy.
  Macro-F1 (mean of per-label F1) is reported too, as PromptCBLUE does.
- QA: accuracy of the chosen option letter / yes-no-maybe against the gold.

Errors per example: NER exact / boundary error / type error / spurious / missing;
RE wrong relation / reversed direction / spurious / missing; classification confusion
(gold -> predicted) or missing / spurious labels; QA chosen vs gold option.
"""
from __future__ import annotations

from .. import answers


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def ner_errors(gold: set, pred: set) -> tuple[tuple[int, int, int], list[dict]]:
    errors, implicated = [], set()
    for kind, mention in sorted(pred):
        if (kind, mention) in gold:
            errors.append({"category": "exact", "type": kind, "pred": mention, "gold": mention})
            continue
        same_text = [g for g in gold if g[1] == mention]
        overlapping = [g for g in gold if g[0] == kind and (g[1] in mention or mention in g[1])]
        if same_text:
            errors.append({"category": "type error", "type": kind, "pred": mention, "gold": f"{same_text[0][0]}: {mention}"})
            implicated.update(same_text)
        elif overlapping:
            errors.append({"category": "boundary error", "type": kind, "pred": mention, "gold": overlapping[0][1]})
            implicated.update(overlapping)
        else:
            errors.append({"category": "spurious", "type": kind, "pred": mention, "gold": ""})
    errors += [{"category": "missing", "type": kind, "pred": "", "gold": mention}
               for kind, mention in sorted(gold - pred - implicated)]
    tp = len(gold & pred)
    return (tp, len(pred) - tp, len(gold) - tp), errors


def re_errors(gold: set, pred: set, aliases: dict[str, list[str]] | None) -> tuple[tuple[int, int, int], list[dict]]:
    names = {name: {norm(a) for a in [name, *(aliases or {}).get(name, [])]} for g in gold for name in g[1:]}
    matches = lambda p, g: p[0] == g[0] and norm(p[1]) in names[g[1]] and norm(p[2]) in names[g[2]]  # noqa: E731
    found, wrong = set(), {}
    errors = []
    for p in sorted({(r, norm(h), norm(t)): (r, h, t) for r, h, t in pred}.values()):
        hit = next((g for g in sorted(gold) if matches(p, g)), None)
        if hit:
            if hit not in found:
                errors.append({"category": "exact", "type": p[0], "pred": f"[{p[1]}, {p[2]}]", "gold": f"[{hit[1]}, {hit[2]}]"})
            found.add(hit)
            continue
        other = next((g for g in sorted(gold) if matches((g[0], p[1], p[2]), g)), None)
        reverse = next((g for g in sorted(gold) if matches((p[0], p[2], p[1]), g)), None)
        category = "wrong relation" if other else "reversed direction" if reverse else "spurious"
        target = other or reverse
        wrong[p] = category
        errors.append({"category": category, "type": p[0], "pred": f"[{p[1]}, {p[2]}]",
                       "gold": f"{target[0]}: [{target[1]}, {target[2]}]" if target else ""})
        if target:
            found.add(target)  # explained by this error, not missing; still not a true positive
    tp = sum(1 for e in errors if e["category"] == "exact")
    errors += [{"category": "missing", "type": g[0], "pred": "", "gold": f"[{g[1]}, {g[2]}]"} for g in sorted(gold - found)]
    return (tp, len(wrong), len(gold) - tp), errors


def label_errors(gold: set, pred: set, single: bool) -> tuple[tuple[int, int, int], list[dict]]:
    tp = len(gold & pred)
    if single and gold != pred:
        errors = [{"category": "confusion", "type": "", "gold": "; ".join(sorted(gold)), "pred": "; ".join(sorted(pred))}]
    else:
        errors = [{"category": "missing", "type": label, "gold": label, "pred": ""} for label in sorted(gold - pred)]
        errors += [{"category": "spurious", "type": label, "gold": "", "pred": label} for label in sorted(pred - gold)]
    return (tp, len(pred) - tp, len(gold) - tp), errors


def parse_answer(row: dict, text: str):
    """The structure an answer text holds for ``row``'s task, parsed as scoring sees it."""
    options, source = set(row.get("options") or []), row["conversation"][0]["human"]
    task = row["task"]
    if task == "ner":
        return answers.parse_ner(text, source, types=options or None)
    if task == "re":
        return answers.parse_re(text, source, relations=options or None)
    if task in ("cls", "norm"):
        return answers.parse_labels(text, options or None)
    if options == {"yes", "no", "maybe"}:
        return answers.parse_yesno(text)
    if options:
        return answers.parse_choice(text, "".join(sorted(options)))
    return text.strip()


def score_row(row: dict, output: str) -> dict:
    """One evaluation item against a model output: counts (or correctness), parse and errors."""
    pred = parse_answer(row, output)
    task, gold = row["task"], row["gold"]
    result = {"id": row["conversation_id"], "suite": row.get("suite", ""), "task": task, "language": row["language"],
              "record_id": row["record_id"], "prompt": row["conversation"][0]["human"], "output": output,
              "source_text": row.get("source_text", ""), "format_ok": answers.follows_format(row, output)}
    if task == "ner":
        counts, errors = ner_errors({tuple(g) for g in gold}, pred)
    elif task == "re":
        counts, errors = re_errors({tuple(g) for g in gold}, pred, row.get("aliases"))
    elif task in ("cls", "norm"):
        counts, errors = label_errors(set(gold), pred, single=len(gold) == 1)
    else:
        correct = pred == gold
        return {**result, "gold": gold, "pred": pred, "correct": correct,
                "errors": [] if correct else [{"category": "wrong option", "type": "", "gold": gold, "pred": pred or "(none)"}]}
    return {**result, "gold": sorted(map(list, gold)) if task in ("ner", "re") else gold,
            "pred": sorted(map(list, pred)) if task in ("ner", "re") else sorted(pred), "counts": counts, "errors": errors}
