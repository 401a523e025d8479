"""Measuring time and memory of a computation on this machine (chapter 5).

Python's own allocation tracing does not see TensorFlow's buffers, so peak
memory is measured as the growth of the process's resident set size (RSS),
sampled by a background thread while the computation runs. That is coarse
(the allocator may reuse or keep memory), so compare sizes that differ by
much more than a few megabytes.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, NamedTuple

import psutil

__all__ = ["Measurement", "measure"]


class Measurement(NamedTuple):
    """seconds : the fastest of the repeats, in seconds.
    peak_mib : the largest RSS growth over the starting RSS, in MiB."""

    seconds: float
    peak_mib: float


def measure(fn: Callable[[], object], *, repeat: int = 3, interval: float = 0.001) -> Measurement:
    """Run ``fn`` ``repeat`` times; return its fastest time and peak memory growth."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    running = True

    def sample():
        nonlocal peak
        while running:
            peak = max(peak, process.memory_info().rss)
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
    peak = max(peak, process.memory_info().rss)
    return Measurement(best, (peak - baseline) / 2**20)
