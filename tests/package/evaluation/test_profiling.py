"""measure(): time and peak memory growth of a computation."""

import time

import numpy as np
import pytest

from inverse_lessons.evaluation.profiling import measure, memory_source


def hold(mib, seconds=0.03):
    """Allocate and touch ``mib`` MiB, keep them ``seconds``, then free them."""
    block = np.ones(int(mib * 2**20 // 8))
    time.sleep(seconds)
    del block


@pytest.mark.skipif(memory_source() != "heap in use", reason="needs glibc's mallinfo2")
def test_peak_memory_of_a_freed_block_is_seen_and_repeatable():
    first = measure(lambda: hold(64), repeat=1)
    again = measure(lambda: hold(64), repeat=1)   # the allocator now has the pages at hand
    for result in (first, again):
        assert 63 < result.peak_mib < 66
    assert measure(lambda: hold(32), repeat=1).peak_mib == pytest.approx(32, abs=1)


@pytest.mark.skipif(memory_source() != "heap in use", reason="needs glibc's mallinfo2")
def test_memory_still_held_counts_and_nothing_is_nothing():
    kept = []
    assert measure(lambda: kept.append(np.ones(2**22)), repeat=1).peak_mib > 31
    assert abs(measure(lambda: None, repeat=1).peak_mib) < 1


def test_time_is_the_fastest_repeat():
    calls = []

    def slow_then_fast():
        time.sleep(0.05 if not calls else 0.0)
        calls.append(1)

    result = measure(slow_then_fast, repeat=3)
    assert len(calls) == 3 and result.seconds < 0.04


def test_the_resident_set_sees_touched_memory():
    # Fresh pages of a large block join the resident set when written: a block still held at
    # the end must show in full, a freed one while it is held (the sampler reads every
    # millisecond; the block is held for 0.2 s).
    kept = []
    held = measure(lambda: kept.append(np.ones(128 * 2**20 // 8)), repeat=1,
                   memory="resident set").peak_mib
    assert 0.9 * 128 < held < 2 * 128
    freed = measure(lambda: hold(64, seconds=0.2), repeat=1, memory="resident set").peak_mib
    assert 0.9 * 64 < freed < 2 * 64


@pytest.mark.skipif(memory_source() != "heap in use", reason="needs glibc's mallinfo2")
def test_the_heap_counts_memory_handed_out_the_resident_set_only_memory_touched():
    # np.empty maps 64 MiB without writing them: handed out by the allocator, not resident.
    kept = []

    def untouched():
        kept.append(np.empty(64 * 2**20 // 8))

    assert 63 < measure(untouched, repeat=1, memory="heap in use").peak_mib < 66
    assert 63 < measure(untouched, repeat=1).peak_mib < 66     # the default reads the heap
    assert measure(untouched, repeat=1, memory="resident set").peak_mib < 8


@pytest.mark.skipif(memory_source() == "heap in use", reason="glibc's mallinfo2 is here")
def test_the_heap_cannot_be_asked_for_without_mallinfo2():
    with pytest.raises(ValueError, match="mallinfo2"):
        measure(lambda: None, memory="heap in use")


@pytest.mark.parametrize("kwargs, error", [({"repeat": 0}, ValueError),
                                           ({"repeat": 1.5}, TypeError),
                                           ({"interval": 0.0}, ValueError),
                                           ({"memory": "rss"}, ValueError)])
def test_bad_arguments_are_named(kwargs, error):
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        measure(lambda: None, **kwargs)
