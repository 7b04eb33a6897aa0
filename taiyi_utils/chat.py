"""Conversations as tokens: the model's own chat template, or Taiyi's format for Qwen base models.

Taiyi (like Firefly) trains on ``<eod> user <eod> assistant <eod> ...`` where ``<eod>`` is
Qwen's ``<|endoftext|>``; instruct models come with a chat template instead. Either way
the loss covers assistant tokens only, in every turn of a multi-turn dialogue.
"""

from __future__ import annotations

IGNORE = -100
FORMATS = ("template", "taiyi")


def _check(chat_format: str) -> None:
    if chat_format not in FORMATS:
        raise ValueError(f"chat_format must be one of {FORMATS}, got {chat_format!r}")


def _messages(turns: list[dict], upto: int, with_answer: bool) -> list[dict]:
    messages = []
    for turn in turns[:upto]:
        messages += [{"role": "user", "content": turn["human"]}, {"role": "assistant", "content": turn["assistant"]}]
    messages.append({"role": "user", "content": turns[upto]["human"]})
    if with_answer:
        messages.append({"role": "assistant", "content": turns[upto]["assistant"]})
    return messages


def _segments(turns: list[dict], tokenizer, chat_format: str) -> list[tuple[str, bool]]:
    """The conversation as (text, is_assistant) pieces whose concatenation is the full rendering."""
    if chat_format == "taiyi":
        eod = tokenizer.eos_token
        pieces = [(eod, False)]
        for turn in turns:
            pieces += [(turn["human"] + eod, False), (turn["assistant"] + eod, True)]
        return pieces
    pieces, rendered = [], ""
    for i in range(len(turns)):
        prompt = tokenizer.apply_chat_template(_messages(turns, i, False), tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(_messages(turns, i, True), tokenize=False)
        if not (prompt.startswith(rendered) and full.startswith(prompt)):
            raise ValueError("the chat template does not render conversations incrementally; use chat_format: taiyi")
        pieces += [(prompt[len(rendered) :], False), (full[len(prompt) :], True)]
        rendered = full
    return pieces


def encode_conversation(
    turns: list[dict], tokenizer, chat_format: str = "template", max_length: int = 1024
) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` (-100 outside assistant turns), cut to ``max_length`` tokens."""
    _check(chat_format)
    input_ids, labels = [], []
    for text, is_answer in _segments(turns, tokenizer, chat_format):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids += ids
        labels += ids if is_answer else [IGNORE] * len(ids)
    return {"input_ids": input_ids[:max_length], "labels": labels[:max_length]}


def render_prompt(human: str, tokenizer, chat_format: str = "template", history: list[dict] = ()) -> str:
    """The text a model continues to answer ``human``, after earlier ``{human, assistant}`` turns."""
    _check(chat_format)
    if chat_format == "taiyi":
        eod = tokenizer.eos_token
        return eod + "".join(t["human"] + eod + t["assistant"] + eod for t in history) + human + eod
    turns = [*history, {"human": human}]
    return tokenizer.apply_chat_template(
        _messages(turns, len(history), False), tokenize=False, add_generation_prompt=True
    )
