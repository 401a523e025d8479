"""Measure the time and memory of a computation on this machine (chapter 5).

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
Where ``mallinfo2`` is missing (not glibc, or glibc older than 2.33), or
when asked for (``memory="resident set"``), the resident set size is read,
which is coarse: the allocator may reuse or keep memory, so only growths of
many megabytes mean anything there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import psutil

from inverse_lessons._validation import check_choice, check_int, check_positive

__all__ = ["MEMORY_SOURCES", "Measurement", "measure", "memory_source"]


class Measurement(NamedTuple):
    """Hold what :func:`measure` returns.

    Attributes
    ----------
    seconds : float
        The fastest of the repeats, in seconds.
    peak_mib : float
        The largest growth of memory in use over its value at the start, in MiB (2**20
        bytes), as read from the source :func:`measure` was given.
    """

    seconds: float
    peak_mib: float


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _heap_reader():
    """Return a function that reads the C heap's bytes in use, or None without mallinfo2."""
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

#: What :func:`measure` can read, the precise source first.
MEMORY_SOURCES = ("heap in use", "resident set")


def memory_source() -> str:
    """Name what :func:`measure` reads by default.

    Returns
    -------
    str
        ``"heap in use"`` where glibc's ``mallinfo2`` is available, else ``"resident set"``.
    """
    return "heap in use" if _HEAP is not None else "resident set"


def _memory_reader(source):
    if source == "heap in use":
        if _HEAP is None:
            raise ValueError("memory='heap in use' needs glibc's mallinfo2 (glibc 2.33 or "
                             "later), which this system lacks: use 'resident set'")
        return _HEAP
    process = psutil.Process()
    return lambda: process.memory_info().rss


def measure(fn: Callable[[], object], *, repeat: int = 3, interval: float = 0.001,
            memory: str | None = None) -> Measurement:
    """Run ``fn`` ``repeat`` times; return its fastest time and its peak memory growth.

    Parameters
    ----------
    fn : callable
        Called with no arguments; what it returns is ignored.
    repeat : int, default 3
        How many times to run it (>= 1); the fastest run is reported.
    interval : float, default 0.001
        Seconds between memory samples (> 0).
    memory : {"heap in use", "resident set"}, optional
        What to read; by default :func:`memory_source`.

    Returns
    -------
    Measurement
        The fastest time in seconds and the largest growth of memory over its value before
        the first run, in MiB. Memory that ``fn`` still holds when it returns counts too.

    Raises
    ------
    TypeError, ValueError
        For a bad ``repeat``, ``interval`` or ``memory``, naming the argument.
    """
    check_int("repeat", repeat, minimum=1)
    check_positive("interval", interval)
    source = memory_source() if memory is None else check_choice("memory", memory,
                                                                   MEMORY_SOURCES)
    read = _memory_reader(source)
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
