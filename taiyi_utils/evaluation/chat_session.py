"""A multi-turn conversation with the base model or one of its adapters (the chat box's model side)."""

from __future__ import annotations

import html

from .engines import as_engine
from .generate import generate


class ChatSession:
    """A multi-turn conversation; each answer comes from the model acting as the chosen label."""

    def __init__(self, engine, tokenizer, *, chat_format: str = "template", max_new_tokens: int = 256):
        self.engine, self.tokenizer = as_engine(engine), tokenizer
        self.chat_format, self.max_new_tokens = chat_format, max_new_tokens
        self.history: list[dict] = []  # {human, assistant, model}

    def ask(self, text: str, label: str = "base") -> str:
        if not text.strip():
            raise ValueError("empty message")
        with self.engine.acting_as(label):
            [answer] = generate(
                self.engine,
                self.tokenizer,
                [text],
                chat_format=self.chat_format,
                max_new_tokens=self.max_new_tokens,
                histories=[self.history],
                desc=label,
            )
        self.history.append({"human": text, "assistant": answer, "model": label})
        return answer

    def reset(self) -> None:
        self.history.clear()

    def transcript_html(self) -> str:
        return "".join(
            f"<p><b>you</b>: {html.escape(t['human'])}</p>"
            f"<p style='white-space:pre-wrap;background:#f4f4f8;padding:4px'><b>{html.escape(t['model'])}</b>: "
            f"{html.escape(t['assistant'])}</p>"
            for t in self.history
        )
