"""Open a run's widgets in a live JupyterLab and screenshot them (a manual check: needs chromium + playwright).

    python .ci/lab_widgets.py outputs/<run-id> SHOTS_DIR

Builds a scratch notebook in the run folder that shows notebook 04's error browser and
notebook 05's chat box, runs it in JupyterLab through headless chromium, steps the
browser, sends a chat message, and saves screenshots. Exits non-zero, saying why, when a
widget does not render, the browser's "next" does not change the example shown, or the
chat gives no answer (waited for, however slow the machine). ``--answer-with TEXT``
replaces the model by a stub that answers TEXT: how the check itself is tested.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat

LOG = Path("/tmp/lab_widgets.log")
CELLS = [
    """from taiyi_utils.files import read_jsonl
from taiyi_utils.viz.evaluation import error_browser
error_browser(read_jsonl("eval/predictions.jsonl"))""",
    """from taiyi_utils import model as models  # chat
from taiyi_utils.evaluation.runs import stage_adapters
from taiyi_utils.evaluation.chat_session import ChatSession
from taiyi_utils.viz.chat_box import chat_box
import json
base = json.load(open("manifest.json"))["params"]["05_case_studies"]["base_model"]
adapters = stage_adapters(".")
model = models.load_with_adapters(base, adapters)
chat_box(ChatSession(model, models.load_tokenizer(base), max_new_tokens=32), ["base", *adapters])""",
]


STUB_CHAT = """from taiyi_utils.evaluation.chat_session import ChatSession
from taiyi_utils.viz.chat_box import chat_box
class Stub(ChatSession):  # answers {answer!r} to everything
    def ask(self, text, label="base"):
        self.history.append({{"human": text, "assistant": {answer!r}, "model": label}})
        return {answer!r}
chat_box(Stub(None, None), ["base", "stage 2"])"""
QUESTION = "What is sepsis?"


class CheckFailed(RuntimeError):
    pass


def chat_verdict(transcript: str, status: str) -> str:
    """Why the chat check fails ('' when it passes): an error shown, no exchange, or an empty answer."""
    if status.startswith("error:"):
        return f"the chat box shows {status!r}"
    lines = [line.strip() for line in transcript.splitlines() if line.strip()]
    if f"you: {QUESTION}" not in lines:
        return "the question never appeared in the transcript"
    after = lines[lines.index(f"you: {QUESTION}") + 1 :]
    answer = after[0].split(":", 1)[1].strip() if after and ":" in after[0] else ""
    return "" if answer else "the model's answer is empty"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, seconds: int = 90) -> None:
    for _ in range(seconds):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    raise TimeoutError(f"JupyterLab did not start on port {port}; see {LOG}")


def poll(ready, seconds: float) -> bool:
    """Whether ``ready()`` became true within ``seconds`` (checked twice a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.5)
    return ready()


def main(run_dir: Path, shots: Path, answer: str | None = None) -> int:
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    cells = CELLS if answer is None else [CELLS[0], STUB_CHAT.format(answer=answer)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, run_dir / "widget_check.ipynb")
    port = free_port()
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--allow-root",
            f"--ServerApp.root_dir={run_dir}",
        ],
        stdout=LOG.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(port)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/widget_check.ipynb")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            time.sleep(5)
            page.click("text=Run", timeout=10_000)
            page.click("text=Run All Cells")
            page.wait_for_selector(".widget-dropdown", timeout=120_000)
            page.wait_for_selector("textarea.widget-textarea, .widget-textarea textarea", timeout=600_000)
            time.sleep(3)
            page.screenshot(path=str(shots / "1_rendered.png"), full_page=True)
            example = page.locator(".widget-html-content").nth(0)
            shown = example.inner_text()
            page.locator("button:has-text('next')").first.click()
            if not poll(lambda: example.inner_text() != shown, 30):
                raise CheckFailed("the error browser's 'next' did not change the example shown")
            page.screenshot(path=str(shots / "2_next_example.png"), full_page=True)
            page.locator(".widget-textarea textarea, textarea.widget-textarea").last.fill(QUESTION)
            page.locator("button:has-text('Send')").click()
            status, log = page.locator(".widget-label").last, page.locator(".widget-html-content").last
            # the transcript shows the exchange once the answer is complete; an error shows in the status
            poll(lambda: QUESTION in log.inner_text() or status.inner_text().startswith("error:"), 600)
            transcript = log.inner_text()
            page.screenshot(path=str(shots / "3_chat.png"), full_page=True)
            problem = chat_verdict(transcript, status.inner_text())
            if problem:
                raise CheckFailed(f"{problem}; see {shots / '3_chat.png'}")
            browser.close()
    except CheckFailed as err:
        print(f"lab-check failed: {err}", file=sys.stderr)
        return 1
    finally:
        lab.terminate()
        (run_dir / "widget_check.ipynb").unlink(missing_ok=True)
    print(f"lab-check passed: the widgets render, the browser steps, the chat answered; screenshots in {shots}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("shots", type=Path)
    parser.add_argument("--answer-with", help="a stub chat model that answers this text (tests the check)")
    args = parser.parse_args()
    sys.exit(main(args.run_dir.resolve(), args.shots.resolve(), args.answer_with))
