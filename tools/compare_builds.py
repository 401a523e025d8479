"""Do two builds of the book show the same text? Chapter by chapter, apart from timings.

Usage::

    .venv/bin/python tools/compare_builds.py BUILD_A BUILD_B

BUILD_A and BUILD_B are two ``_build/html`` folders of the same commit, each built from clean
(for example this clone's and a fresh clone's, or one built before and one after
``rm -rf _build``). For every chapter page (``notebooks/*.html``; the execution status page is
all timings and is left out), the visible text (tags, scripts and styles stripped; images are
compared by their alt text, not their pixels) is compared line by line, with the numbers that
measure time or machine masked (figures followed by s, ms, seconds, minutes, MiB; "N times
slower"; dates and times of day). Prints the differing lines of each page and a summary; exits
with status 1 when any page differs.
"""

from __future__ import annotations

import argparse
import difflib
import html
import re
import sys
from pathlib import Path

#: Text that measures the run, not the book: replaced by a placeholder before comparing.
TIMING = re.compile(
    r"\d+(?:\.\d+)?(?:e[+-]?\d+)?\s*(?:s|ms|µs|seconds?|minutes?|min|MiB|MB|GiB)\b"
    r"|\d+(?:\.\d+)?\s*times (?:slower|faster|quicker)"
    r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b")


def visible_text(path):
    """The page's article text, one line per block, with timings masked."""
    page = path.read_text(encoding="utf-8")
    match = re.search(r"<article.*?</article>", page, re.S)
    page = match.group(0) if match else page
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<img\b[^>]*\balt="([^"]*)"[^>]*>', r"\n[image: \1]\n", page)
    page = re.sub(r'<img\b[^>]*src="data:[^"]*"[^>]*>', "\n[embedded image]\n", page)
    page = re.sub(r"<(?:br|p|div|li|tr|h\d|pre)\b[^>]*>", "\n", page)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    lines = (re.sub(r"\s+", " ", line).strip() for line in text.splitlines())
    return [TIMING.sub("<time>", line) for line in lines if line]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_a", type=Path)
    parser.add_argument("build_b", type=Path)
    args = parser.parse_args(argv)
    pages = sorted(p.relative_to(args.build_a) for p in args.build_a.glob("notebooks/*.html"))
    if not pages:
        parser.error(f"no chapter pages under {args.build_a}/notebooks")
    differing = 0
    for page in pages:
        other = args.build_b / page
        if not other.exists():
            print(f"{page}: missing from {args.build_b}")
            differing += 1
            continue
        a, b = visible_text(args.build_a / page), visible_text(other)
        diff = [line for line in difflib.unified_diff(a, b, lineterm="", n=0)
                if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        print(f"{page}: {'same text' if not diff else f'{len(diff)} differing lines'}")
        for line in diff[:20]:
            print(f"    {line[:150]}")
        differing += bool(diff)
    print(f"\n{len(pages) - differing} of {len(pages)} pages show the same text "
          "(timings masked).")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
