"""Measuring time and memory of a computation on this machine (chapter 5).

Python's own allocation tracing does not see TensorFlow's buffers, which
TensorFlow takes from the C allocator (``malloc``). Peak memory is therefore
measured as the growth of the bytes the C allocator has handed out and not
yet taken back (glibc's ``mallinfo2``: ``uordblks + hblkhd``), sampled by a
background thread while the computation runs. Unlike the process's resident
set size, this does not depend on what the allocator happens to keep from
earlier computations, so repeated measurements agree to a fraction of a MiB.
The thread samples about every ``interval`` seconds (and needs Python's
interpreter lock to do so), so a peak that lasts only a few milliseconds can
be missed: long computations are measured well, short ones may read low.
Where ``mallinfo2`` is missing (not glibc, or glibc older than 2.33) the
resident set size is used instead, which is coarse: the allocator may reuse
or keep memory, so only growths of many megabytes mean anything there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import psutil

from ._validation import check_int, check_positive

__all__ = ["Measurement", "measure", "memory_source"]


class Measurement(NamedTuple):
    """seconds : the fastest of the repeats, in seconds.
    peak_mib : the largest growth of memory in use over its value at the
        start, in MiB (2**20 bytes); see :func:`memory_source`."""

    seconds: float
    peak_mib: float


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _heap_reader():
    """A function returning the C heap's bytes in use, or None without mallinfo2."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    mallinfo2.argtypes = []

    def in_use():
        info = mallinfo2()
        return info.uordblks + info.hblkhd   # small chunks in use + mmapped chunks

    return in_use


_HEAP = _heap_reader()


def memory_source() -> str:
    """What :func:`measure` reads: ``"heap in use"`` (mallinfo2) or ``"resident set"``."""
    return "heap in use" if _HEAP is not None else "resident set"


def _memory_reader():
    if _HEAP is not None:
        return _HEAP
    process = psutil.Process()
    return lambda: process.memory_info().rss


def measure(fn: Callable[[], object], *, repeat: int = 3, interval: float = 0.001) -> Measurement:
    """Run ``fn`` ``repeat`` times; return its fastest time and peak memory growth.

    repeat : int >= 1. interval : seconds between memory samples (> 0).
    Memory that ``fn`` still holds when it returns counts too.
    """
    check_int("repeat", repeat, minimum=1)
    check_positive("interval", interval)
    read = _memory_reader()
    baseline = read()
    peak = baseline
    running = True

    def sample():
        nonlocal peak
        while running:
            peak = max(peak, read())
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    best = float("inf")
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    finally:
        running = False
        sampler.join()
    peak = max(peak, read())
    return Measurement(best, (peak - baseline) / 2**20)
