"""Every page reads in one sitting, and the reading time its opening states is measured.

About 150 words of prose and 8 lines of shown code a minute (issue 22), counted as
``tools/page_metrics.py`` counts them, rounded to 5 minutes, on every page.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("page_metrics", ROOT / "tools" / "page_metrics.py")
page_metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page_metrics)

PAGES = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]*.ipynb"))
STATED = re.compile(r"\*\*Reading\*\* about (\d+) minutes")


def reading_minutes(metrics):
    """Prose words / 150 + shown code lines / 8, to the nearest 5 minutes."""
    minutes = metrics["prose words"] / 150 + metrics["visible code lines"] / 8
    return 5 * round(minutes / 5)


def test_reading_minutes_rounds_to_five():
    assert reading_minutes({"prose words": 1500, "visible code lines": 160}) == 30
    assert reading_minutes({"prose words": 600, "visible code lines": 16}) == 5
    assert reading_minutes({"prose words": 1800, "visible code lines": 80}) == 20


@pytest.mark.parametrize("stem", PAGES)
def test_the_stated_reading_time_is_measured(stem):
    notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    opening = "".join(notebook["cells"][0]["source"])
    stated = STATED.search(opening)
    assert stated, "the opening states '**Reading** about N minutes'"
    assert int(stated.group(1)) == reading_minutes(page_metrics.metrics(notebook))


@pytest.mark.parametrize("stem", PAGES)
def test_every_page_is_one_sitting_with_its_checks_out_of_sight(stem):
    # issue 22: at most about 3000 words of prose, at most 3 visible assert lines (the
    # lessons' own agreement checks; guards of the prose sit in hidden cells) and at
    # most 2 visible code cells over 15 lines per page
    notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    measured = page_metrics.metrics(notebook)
    assert measured["prose words"] <= 3000, measured
    assert measured["visible asserts"] <= 3, measured
    assert measured["visible cells over 15 lines"] <= 2, measured
