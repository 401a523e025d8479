"""What the browser tests share besides fixtures: paths, the pages of the book, measurements."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
# the book's pages in reading order, and the Chromium the PDF is printed with
from print_book import CHROMIUM, CHROMIUM_ARGS, toc_pages  # noqa: E402,F401

SITE = ROOT / "_build" / "html"
#: Where a person finds the screenshots and the live-path timing after a run.
ARTIFACTS = ROOT / "_build" / "browser"

measurements: list[str] = []


def report(line):
    """A measurement to print in the test run's summary."""
    measurements.append(line)
