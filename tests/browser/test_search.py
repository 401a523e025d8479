"""The site's own search works offline: type a term, get the chapters that use it."""

from __future__ import annotations

import json
import re

import pytest
from browser_support import ROOT, toc_pages

pytestmark = pytest.mark.browser

TERM = "bilevel"


def pages_using(term):
    """The toc pages whose prose (markdown cells or Markdown files) uses ``term``."""
    found = []
    for page in toc_pages():
        stem = ROOT / page.removesuffix(".html")
        if stem.with_suffix(".ipynb").exists():
            cells = json.loads(stem.with_suffix(".ipynb").read_text())["cells"]
            text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        else:
            text = stem.with_suffix(".md").read_text()
        if re.search(rf"\b{term}\b", text, flags=re.I):
            found.append(page)
    return found


def test_searching_finds_the_chapters_that_use_a_term(browser, site_url):
    expected = pages_using(TERM)
    assert sum(p.startswith("notebooks/") for p in expected) >= 2
    page = browser.new_page()
    foreign = []
    page.on("request", lambda r: not r.url.startswith(site_url) and foreign.append(r.url))
    page.goto(site_url + "book/intro.html", wait_until="load")
    page.locator("button.search-button__button:visible").first.click()
    box = page.locator("input[name=q]:visible").first
    box.fill(TERM)
    box.press("Enter")
    page.wait_for_url(f"**/search.html?q={TERM}*")
    page.wait_for_function(
        "() => /Search finished/.test(document.querySelector('#search-results')?.innerText)",
        timeout=30_000)
    found = {a.get_attribute("href").split("#")[0]
             for a in page.locator("#search-results ul.search li a").all()}
    page.close()
    assert set(expected) <= found, f"missing from the results: {set(expected) - found}"
    assert not foreign, f"requests to other hosts: {foreign}"


def test_searching_for_nonsense_finds_nothing(browser, site_url):
    page = browser.new_page()
    page.goto(site_url + "search.html?q=qwzxv", wait_until="load")
    page.wait_for_function(
        "() => /did not match any/.test(document.querySelector('#search-results')?.innerText)",
        timeout=30_000)
    assert page.locator("#search-results ul.search li").count() == 0
    page.close()
