"""A slow chapter is caught the day it lands: the build's own execution records, read back.

The book build executes every chapter once and keeps, in its execution cache (jupyter-cache,
the data behind the execution status page), how long each took. This reads those records for
the notebooks as they are now and fails when a chapter took longer than the limit.

The limit, 60 s, is twice the goal (every chapter in 30 s or less on two cores; the current
times are in tools/README.md): room for a noisy machine, while a chapter that gets much
slower fails the day it lands.
"""

from __future__ import annotations

import pytest
from browser_support import ROOT, report, toc_pages

pytestmark = pytest.mark.browser

#: Seconds one chapter may take to execute in the book build (2 CPU cores): twice the goal.
CHAPTER_LIMIT = 60.0
CACHE = ROOT / "_build" / ".jupyter_cache"
CHAPTERS = [ROOT / page.replace(".html", ".ipynb") for page in toc_pages()
            if page.startswith("notebooks/")]


@pytest.fixture(scope="module")
def cache():
    from jupyter_cache import get_cache

    if not CACHE.exists():
        pytest.fail(f"no execution cache at {CACHE}: build the book first (make book)")
    return get_cache(str(CACHE))


def execution_seconds(cache, path):
    """Seconds the build took to execute the notebook at ``path`` as it is now."""
    import nbformat

    try:
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
    except KeyError:
        pytest.fail(f"{path.name} as it is now was never executed by the book build")
    seconds = record.data.get("execution_seconds")
    assert seconds is not None, f"no execution time recorded for {path.name}"
    return float(seconds)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_executes_within_the_limit(cache, path):
    seconds = execution_seconds(cache, path)
    report(f"book build: {path.stem} executed in {seconds:.1f} s")
    assert seconds <= CHAPTER_LIMIT, (
        f"{path.stem} took {seconds:.0f} s in the book build (limit {CHAPTER_LIMIT:.0f} s)")
