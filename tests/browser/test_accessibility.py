"""An accessibility audit of every page with axe-core, in the dark colour scheme.

The goal: no serious or critical violation, and every moderate or minor one either fixed or
listed in browser_support.ACCEPTED with the reason it cannot be. axe-core comes bundled with
the axe-playwright-python package and is injected into the page; nothing is fetched. The
light scheme is audited in test_site.py, on the site's one visit to each page.
"""

from __future__ import annotations

import pytest
from browser_support import SETTLED, TYPESET, audit_failures, toc_pages

pytestmark = pytest.mark.browser

PAGES = toc_pages()


@pytest.fixture(scope="module")
def dark_audit(browser, site_url):
    """dark_audit(path) -> axe-core's violations on that page in the dark colour scheme,
    audited once MathJax has typeset it and the theme's colours have settled."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def run(path):
        context = browser.new_context(color_scheme="dark",
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(site_url + path, wait_until="load")
        page.evaluate(TYPESET)
        page.evaluate(SETTLED)
        violations = axe.run(page).response["violations"]
        context.close()
        return violations

    return run


@pytest.mark.parametrize("path", PAGES)
def test_no_accessibility_violations_in_the_dark_scheme(dark_audit, path):
    found = audit_failures(dark_audit(path))
    assert not found, "\n".join(found)


def test_the_audit_finds_a_planted_violation(browser, site_url):
    """The audit can fail: an image without alt text is a critical violation it must see."""
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page()
    page.goto(site_url + PAGES[0], wait_until="load")
    page.evaluate("""() => { const img = document.createElement("img");
        img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
        document.querySelector("article").appendChild(img); }""")
    violations = Axe().run(page).response["violations"]
    page.close()
    assert {v["id"]: v["impact"] for v in violations}.get("image-alt") == "critical"
    assert any(": image-alt at " in line for line in audit_failures(violations))
