"""Taiyi Workbench: every step of the Taiyi recipe as a plain, testable function.

The package logs through ``logging.getLogger("taiyi_utils")``; its messages print as plain lines on
standard output (a notebook cell's output, the terminal), warnings prefixed ``warning:``, so nothing
turns into a red stderr box a user cannot act on.
"""

import logging
import sys

__version__ = "0.1.0"


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return f"{record.levelname.lower()}: {text}" if record.levelno >= logging.WARNING else text


class _CurrentStdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a message comes (a notebook's cell, pytest's capture)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


_log = logging.getLogger(__name__)
if not _log.handlers:
    _handler = _CurrentStdout()
    _handler.setFormatter(_PlainFormatter())
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False  # one line per message, also where the root logger has a handler
