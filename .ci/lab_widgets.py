"""Open a run's widgets in a live JupyterLab and screenshot them (a manual check: needs chromium + playwright).

    python .ci/lab_widgets.py outputs/<run-id> SHOTS_DIR

Builds a scratch notebook in the run folder that shows notebook 04's error browser and
notebook 05's chat box, runs it in JupyterLab through headless chromium, steps the
browser, sends a chat message, and saves screenshots; exits non-zero when a widget
does not render.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from playwright.sync_api import sync_playwright

LOG = Path("/tmp/lab_widgets.log")
CELLS = [
    """from taiyi_utils.files import read_jsonl
from taiyi_utils.viz.evaluation import error_browser
error_browser(read_jsonl("eval/predictions.jsonl"))""",
    """from taiyi_utils import model as models
from taiyi_utils.evaluation.evaluate import stage_adapters
from taiyi_utils.evaluation.chat_session import ChatSession
from taiyi_utils.viz.chat_box import chat_box
import json
base = json.load(open("manifest.json"))["params"]["05_case_studies"]["base_model"]
adapters = stage_adapters(".")
model = models.load_with_adapters(base, adapters)
chat_box(ChatSession(model, models.load_tokenizer(base), max_new_tokens=32), ["base", *adapters])""",
]


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


def main(run_dir: Path, shots: Path) -> int:
    shots.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
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
            page.wait_for_selector("textarea.widget-textarea, .widget-textarea textarea", timeout=300_000)
            time.sleep(3)
            page.screenshot(path=str(shots / "1_rendered.png"), full_page=True)
            page.locator("button:has-text('next')").first.click()
            time.sleep(2)
            page.screenshot(path=str(shots / "2_next_example.png"), full_page=True)
            page.locator(".widget-textarea textarea, textarea.widget-textarea").last.fill("What is sepsis?")
            page.locator("button:has-text('Send')").click()
            page.wait_for_selector("text=you: What is sepsis?", timeout=300_000)
            time.sleep(1)
            page.screenshot(path=str(shots / "3_chat.png"), full_page=True)
            browser.close()
    finally:
        lab.terminate()
        (run_dir / "widget_check.ipynb").unlink(missing_ok=True)
    print(f"screenshots in {shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
