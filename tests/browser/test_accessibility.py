"""An accessibility audit of every page with axe-core, in light and in dark colour scheme.

The goal: no serious or critical violation, and every moderate or minor one either fixed or
listed below with the reason it cannot be. axe-core comes bundled with the
axe-playwright-python package and is injected into the page; nothing is fetched.
"""

from __future__ import annotations

import pytest
from browser_support import SETTLED, TYPESET, toc_pages

pytestmark = pytest.mark.browser

PAGES = toc_pages()
SCHEMES = ("light", "dark")

#: (rule id, CSS target) -> why it stays. Each entry is matched exactly, so any other node that
#: breaks the same rule still fails. Empty today: the two repairs found by the first audit (the
#: reference list's roles, book/_ext/accessibility.py; the title link outside any landmark,
#: book/_templates/navbar-logo.html) removed every violation.
ACCEPTED: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def audit(browser, site_url, visit):
    """audit(path, scheme) -> axe-core's violations on that page (each audited once).

    The light scheme's audit is part of the site's one visit to each page (conftest.visit);
    the dark scheme's is on a page loaded in that scheme, audited once typeset and settled.
    """
    from axe_playwright_python.sync_playwright import Axe

    axe, cache = Axe(), {}

    def run(path, scheme):
        if scheme == "light":
            return visit(path)["violations"]
        if path not in cache:
            context = browser.new_context(color_scheme=scheme,
                                          viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(site_url + path, wait_until="load")
            page.evaluate(TYPESET)
            page.evaluate(SETTLED)
            cache[path] = axe.run(page).response["violations"]
            context.close()
        return cache[path]

    return run


def _nodes(violation):
    return [" ".join(node["target"]) if isinstance(node["target"], list) else node["target"]
            for node in violation["nodes"]]


# the light scheme's audits go with the site's visits (one worker, test_site.py's group), so
# each page is loaded once in each scheme
@pytest.mark.parametrize("scheme", [
    pytest.param(scheme, marks=[pytest.mark.xdist_group("site")] if scheme == "light" else [])
    for scheme in SCHEMES])
@pytest.mark.parametrize("path", PAGES)
def test_no_accessibility_violations(audit, path, scheme):
    found = []
    for violation in audit(path, scheme):
        for target in _nodes(violation):
            if (violation["id"], target) not in ACCEPTED:
                found.append(f"{violation['impact']}: {violation['id']} at {target} "
                             f"({violation['help']})")
    assert not found, "\n".join(found)


def test_the_audit_finds_a_planted_violation(browser, site_url):
    """The audit can fail: an image without alt text is a critical violation it must see."""
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page()
    page.goto(site_url + PAGES[0], wait_until="load")
    page.evaluate("""() => { const img = document.createElement("img");
        img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
        document.querySelector("article").appendChild(img); }""")
    rules = {v["id"]: v["impact"] for v in Axe().run(page).response["violations"]}
    page.close()
    assert rules.get("image-alt") == "critical"
