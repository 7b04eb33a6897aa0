"""Memory: what a process peaked at, what its kernels peak at, and giving freed heap pages back.

The demo must fit a small laptop, so each stage's train card and each notebook's manifest entry record the peak
resident memory they reached.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
import threading


def peak_memory_gib() -> float:
    """Peak GPU memory allocated, or this process's peak resident memory on CPU (GiB)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()
if _LIBC is not None:  # at most two malloc arenas (the main thread and torch's workers): fewer heaps to fragment
    _LIBC.mallopt(-8, 2)  # M_ARENA_MAX; must run before worker threads allocate, hence at import


def release_freed_memory() -> None:
    """Hand the heap pages freed since the last call back to the system (glibc only; elsewhere nothing).
    Without it the pages each training step's activations freed stay resident and fragment: a demo stage grew
    to 4.3 GiB, 2.6 GiB with it."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class ChildrenPeak:
    """Samples the resident memory of this process's children (a notebook's kernel) while open; ``gib`` is the
    highest total seen. A kernel's own peak is not readable from outside once it exits, hence the sampling."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.gib = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # exited between listing and reading
                    pass
            self.gib = max(self.gib, total / 2**30)
            self._stop.wait(self.interval)

    def __enter__(self) -> ChildrenPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
