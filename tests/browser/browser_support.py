"""What the browser tests share besides fixtures: paths, the pages of the book, measurements."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
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


#: What a page holds once loaded and typeset: run in the page.
INSPECT = r"""() => {
  // lines of any code block or printed output (also those in closed dropdowns,
  // measured in the block's own font) wider than a visible block's text width
  const scrolling = (article) => {
    const blocks = [...article.querySelectorAll("pre")];
    const shown = blocks.find(p => p.offsetParent !== null && p.clientWidth > 0);
    if (!shown) return [];
    const style = getComputedStyle(shown);
    const room = shown.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight);
    const context = document.createElement("canvas").getContext("2d");
    return blocks.flatMap(p => {
      const font = getComputedStyle(p);
      context.font = `${font.fontSize} ${font.fontFamily}`;
      return p.textContent.split("\n")
        .filter(line => context.measureText(line).width > room + 0.5)
        .map(line => line.slice(0, 100));
    });
  };
  const article = document.querySelector("article") || document.body;
  const missingAlt = [...document.querySelectorAll("img")]
    .filter(img => !(img.getAttribute("alt") || "").trim())
    .map(img => img.outerHTML.slice(0, 160));
  const maths = [...article.querySelectorAll(".math")];
  const untypeset = maths.filter(m => !m.querySelector("mjx-container"))
    .map(m => m.textContent.slice(0, 80));
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style, mjx-container, .highlight")
    .forEach(e => e.remove());
  const rawTex = prose.textContent.match(/\\[A-Za-z]+|\\\(|\\\[|\$\$/g) || [];
  return {
    missingAlt, maths: maths.length, untypeset, rawTex,
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    ids: [...document.querySelectorAll("[id]")].map(e => e.id)
      .concat([...document.querySelectorAll("a[name]")].map(a => a.name)),
    animations: document.querySelectorAll(".animation").length,
    scrolling: scrolling(article),
    // figures the column shows smaller than drawn, their text shrunk with them
    shrunk: [...article.querySelectorAll("img")]
      .filter(i => i.complete && i.naturalWidth > 0 && i.offsetParent !== null
                   && i.getBoundingClientRect().width < 0.96 * i.naturalWidth)
      .map(i => `${(i.getAttribute("alt") || "").slice(0, 60)} (drawn ${i.naturalWidth} px, `
                + `shown ${Math.round(i.getBoundingClientRect().width)} px)`),
  };
}"""

#: Resolves once every running CSS transition or animation has finished (a theme's colours
#: fade in after load: audited mid-fade, a colour's contrast is misjudged).
SETTLED = """() => Promise.all(document.getAnimations().map(a => a.finished.catch(() => null)))
  .then(() => true)"""

#: Resolves once MathJax (if the page loads it) has typeset the page.
TYPESET = """() => (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)
  ? window.MathJax.startup.promise.then(() => true) : false"""


def is_local(url, site_url):
    return url.startswith(site_url) or url.split(":", 1)[0] in ("data", "blob", "about")


#: Accessibility (axe-core): (rule id, CSS target) -> why it stays. Each entry is matched
#: exactly, so any other node that breaks the same rule still fails. Empty today: the two
#: repairs found by the first audit (the reference list's roles, book/_ext/accessibility.py;
#: the title link outside any landmark, book/_templates/navbar-logo.html) removed every
#: violation.
ACCEPTED: dict[tuple[str, str], str] = {}


def audit_failures(violations):
    """axe-core's violations on a page, less the ACCEPTED ones: a line for each node."""
    found = []
    for violation in violations:
        for node in violation["nodes"]:
            target = node["target"]
            target = " ".join(target) if isinstance(target, list) else target
            if (violation["id"], target) not in ACCEPTED:
                found.append(f"{violation['impact']}: {violation['id']} at {target} "
                             f"({violation['help']})")
    return found
