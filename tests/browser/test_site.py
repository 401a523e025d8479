"""The rendered site in a real browser: every page of the table of contents, offline.

Each page is visited once (conftest.visit: what the page requested, what it holds once
typeset, a full-page screenshot under _build/browser/screenshots, and axe-core's audit in the
light colour scheme); the checks below read what that visit recorded.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from browser_support import SITE, audit_failures, toc_pages

# one worker runs this file when the browser tests run in parallel (make test: pytest-xdist
# with --dist loadscope, a module to a worker), so each page is loaded once
pytestmark = pytest.mark.browser

PAGES = toc_pages()

def test_the_toc_lists_every_chapter():
    assert PAGES[0] == "book/intro.html"
    assert sum(p.startswith("notebooks/") for p in PAGES) >= 7 and len(PAGES) >= 11


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_errors_or_other_hosts(visit, path):
    record = visit(path)
    assert record["status"] == 200
    assert not record["console_errors"], record["console_errors"]
    assert not record["failed"], record["failed"]
    assert not record["foreign"], f"requests to other hosts: {record['foreign']}"
    assert record["screenshot"].stat().st_size > 10_000


@pytest.mark.parametrize("path", PAGES)
def test_no_accessibility_violations_in_the_light_scheme(visit, path):
    """axe-core's audit of the visit (the dark scheme: test_accessibility.py)."""
    found = audit_failures(visit(path)["violations"])
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", PAGES)
def test_every_image_has_alt_text(visit, path):
    assert not visit(path)["missingAlt"]


@pytest.mark.parametrize("path", PAGES)
def test_no_code_or_output_line_scrolls(visit, path):
    """Every visible code block and printed output fits the column (1280 px window)."""
    assert visit(path)["scrolling"] == [], "these lines scroll sideways (longest shown)"


@pytest.mark.parametrize("path", PAGES)
def test_figures_are_shown_at_the_size_they_were_drawn(visit, path):
    """No figure is wider than the column: scaled down, its text would read below the
    9 pt it is drawn at (tools/figure_legibility.py measures every figure's text)."""
    assert visit(path)["shrunk"] == []


@pytest.mark.parametrize("path", PAGES)
def test_maths_is_typeset(visit, path):
    record = visit(path)
    if record["maths"]:
        assert record["mathjax"], "MathJax did not load from the site"
    assert not record["untypeset"], f"maths left untypeset: {record['untypeset'][:5]}"
    assert not record["rawTex"], f"raw TeX in the text: {sorted(set(record['rawTex']))[:10]}"


def test_the_chapters_have_maths(visit):
    with_maths = [p for p in PAGES if visit(p)["maths"]]
    assert sum(p.startswith("notebooks/") for p in with_maths) >= 7


def _fetch(url, cache={}):     # noqa: B006  (a per-process cache)
    if url not in cache:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read()
                text = body.decode("utf-8", "replace") if url.endswith(".html") else ""
                cache[url] = (response.status, set(re.findall(r'\b(?:id|name)="([^"]+)"', text)))
        except urllib.error.HTTPError as err:
            cache[url] = (err.code, set())
    return cache[url]


@pytest.mark.parametrize("path", PAGES)
def test_internal_links_and_anchors_resolve(visit, site_url, path):
    record = visit(path)
    here = site_url + path
    broken = []
    for link in sorted(set(record["links"])):
        if not link.startswith(site_url):
            continue
        target, _, fragment = link.partition("#")
        fragment = urllib.parse.unquote(fragment)
        if target == here:
            if fragment and fragment not in record["ids"]:
                broken.append(link)
            continue
        status, ids = _fetch(target)
        if status != 200:
            broken.append(f"{link} (HTTP {status})")
        elif fragment and target.endswith(".html") and fragment not in ids:
            broken.append(f"{link} (no such anchor)")
    assert not broken, broken


def test_scrubbable_figures_respond(visit, browser, site_url):
    pages = [p for p in PAGES if visit(p)["animations"]]
    assert pages, "the book shows at least one scrubbable animation"
    page = browser.new_page()
    for path in pages:
        page.goto(site_url + path, wait_until="load")
        for animation in page.locator(".animation").all():
            image, slider = animation.locator("img"), animation.locator("input[type=range]")
            animation.scroll_into_view_if_needed()
            page.wait_for_function("s => Number(s.max) > 1", arg=slider.element_handle())
            last = int(slider.get_attribute("max"))
            first_frame = image.get_attribute("src")
            slider.fill(str(last))
            assert image.get_attribute("src") != first_frame, f"{path}: the slider moved no frame"
            animation.get_by_role("button", name="Previous frame").click()
            assert slider.input_value() == str(last - 1)
            animation.get_by_role("button", name="First frame").click()
            assert image.get_attribute("src") == first_frame and slider.input_value() == "0"
    page.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_the_root_page_declares_the_icon_and_leads_to_the_book(browser, site_url, tmp_path):
    """The site's own address serves index.html, a redirect to the first page. Held there (a
    copy without the redirect, served beside the site's _static) it must log no error: a page
    that declares no icon makes the browser ask for /favicon.ico, which the site does not
    have. Then, as the site serves it, it must lead to the book's first page."""
    root = (SITE / "index.html").read_text(encoding="utf-8")
    held = re.sub(r"<meta[^>]*http-equiv=.?refresh[^>]*>", "", root, flags=re.I)
    assert held != root, "the root page redirects"
    (tmp_path / "index.html").write_text(held, encoding="utf-8")
    (tmp_path / "_static").symlink_to(SITE / "_static")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.url} ({r.status})"))
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/", wait_until="load")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1000)     # the browser asks for the icon after the load
    finally:
        server.shutdown()
        server.server_close()
    assert not errors, errors
    page.goto(site_url)
    page.wait_for_url(f"{site_url}{PAGES[0]}")
    page.close()
