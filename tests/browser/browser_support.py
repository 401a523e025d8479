"""What the browser tests share besides fixtures: paths, the pages of the book, measurements."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
# the book's pages in reading order, and the Chromium the PDF is printed with
from print_book import CHROMIUM, CHROMIUM_ARGS, toc_pages  # noqa: E402,F401

SITE = ROOT / "_build" / "html"
#: Where a person finds the screenshots and the live-path timing after a run.
ARTIFACTS = ROOT / "_build" / "browser"

#: One file of measurements per test process (pytest-xdist runs the browser tests on every
#: core); the run's summary gathers them.
MEASUREMENTS = ARTIFACTS / "measurements"


def report(line):
    """A measurement to print in the test run's summary."""
    MEASUREMENTS.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(MEASUREMENTS / f"{worker}.txt", "a", encoding="utf-8") as f:
        f.write(line + "\n")
