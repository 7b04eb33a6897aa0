"""A chat box over a ``ChatSession`` (evaluation/chat_session.py): widgets only, the model lives in the session."""

from __future__ import annotations


def chat_box(session, labels: list[str]):
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
