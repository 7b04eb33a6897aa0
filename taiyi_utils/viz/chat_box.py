"""A chat box for free-form prompts to the base model or a trained adapter, keeping the conversation."""
from __future__ import annotations

import html

from ..eval.generate import generate
from ..model import acting_as


class ChatSession:
    """A multi-turn conversation; each answer comes from the model acting as the chosen label."""

    def __init__(self, model, tokenizer, *, chat_format: str = "template", max_new_tokens: int = 256):
        self.model, self.tokenizer = model, tokenizer
        self.chat_format, self.max_new_tokens = chat_format, max_new_tokens
        self.history: list[dict] = []  # {human, assistant, model}

    def ask(self, text: str, label: str = "base") -> str:
        if not text.strip():
            raise ValueError("empty message")
        with acting_as(self.model, label):
            [answer] = generate(self.model, self.tokenizer, [text], chat_format=self.chat_format,
                                max_new_tokens=self.max_new_tokens, histories=[self.history], desc=label)
        self.history.append({"human": text, "assistant": answer, "model": label})
        return answer

    def reset(self) -> None:
        self.history.clear()

    def transcript_html(self) -> str:
        return "".join(f"<p><b>you</b>: {html.escape(t['human'])}</p>"
                       f"<p style='white-space:pre-wrap;background:#f4f4f8;padding:4px'><b>{html.escape(t['model'])}</b>: "
                       f"{html.escape(t['assistant'])}</p>" for t in self.history)


def chat_box(session: ChatSession, labels: list[str]):
    """Model picker, message box, Send and New conversation buttons over a running transcript."""
    import ipywidgets as w

    picker = w.Dropdown(options=labels, value=labels[-1], description="model")
    message = w.Textarea(placeholder="Ask in English or Chinese…", layout=w.Layout(width="100%", height="70px"))
    send, new = w.Button(description="Send", button_style="primary"), w.Button(description="New conversation")
    status, transcript = w.Label(), w.HTML()

    def on_send(_):
        text = message.value
        if not text.strip():
            status.value = "type a message first"
            return
        status.value, send.disabled = f"{picker.value} is answering…", True
        try:
            session.ask(text, picker.value)
            message.value, status.value = "", ""
        except Exception as err:  # shown in the box rather than lost in the kernel log
            status.value = f"error: {err}"
        finally:
            send.disabled = False
        transcript.value = session.transcript_html()

    def on_new(_):
        session.reset()
        transcript.value, status.value = "", "new conversation"

    send.on_click(on_send)
    new.on_click(on_new)
    return w.VBox([transcript, message, w.HBox([picker, send, new, status])])
