"""What the browser tests share besides fixtures: paths, the pages of the book, measurements."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
#: Where a person finds the screenshots and the live-path timing after a run.
ARTIFACTS = ROOT / "_build" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

measurements: list[str] = []


def toc_pages():
    """Every page of _toc.yml, as the path of its HTML file inside the site."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [f"{file}.html" for file in files]


def report(line):
    """A measurement to print in the test run's summary."""
    measurements.append(line)
