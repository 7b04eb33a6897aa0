"""Taiyi Workbench: every step of the Taiyi recipe as a plain, testable function.

The package logs through ``logging.getLogger("taiyi_utils")``; its messages print as plain lines on
standard output (a notebook cell's output, the terminal), warnings prefixed ``warning:``, so nothing
turns into a red stderr box a user cannot act on.
"""

import logging
import os
import sys

__version__ = "0.1.0"

# oneDNN (CPU matmuls) caches compiled kernels per shape, 1,024 by default; padding-free batches change shape at
# every step, so the cache grew a demo stage by ~0.1 GB a step. 64 still holds every shape of one forward and
# backward (no slower here). Read when the first kernel is made: set before any torch work, kept if set by the user.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")

from . import memory  # noqa: E402,F401  (caps glibc's malloc arenas before torch starts its threads)


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
