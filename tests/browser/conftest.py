"""Fixtures for the browser tests: the built site served on 127.0.0.1, headless Chromium.

These tests carry the ``browser`` marker and are left out of a plain ``pytest`` run
(see pyproject.toml); ``make test`` runs them after building the book when Debian's
Chromium is installed. Playwright drives the system browser at CHROMIUM
(default /usr/bin/chromium); it never downloads one of its own.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    INSPECT,
    MEASUREMENTS,
    SETTLED,
    SITE,
    TYPESET,
    is_local,
)


def pytest_sessionstart(session):
    """A fresh start for the measurements (in the main process, not in each xdist worker)."""
    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(MEASUREMENTS, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, config):
    """Print the measurements of every test process, and keep them beside the screenshots."""
    if hasattr(config, "workerinput") or not MEASUREMENTS.exists():
        return
    measurements = [line for path in sorted(MEASUREMENTS.glob("*.txt"))
                    for line in path.read_text(encoding="utf-8").splitlines()]
    if measurements:
        terminalreporter.section("browser measurements")
        for line in measurements:
            terminalreporter.write_line(line)
        (ARTIFACTS / "measurements.txt").write_text("\n".join(measurements) + "\n")
        terminalreporter.write_line(f"screenshots and measurements: {ARTIFACTS}")


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site in {SITE}: build the book first (make book)")
    return SITE


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url(site):
    """The built site served on 127.0.0.1 at a free port, for the whole session."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts():
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def visit(browser, site_url, artifacts):
    """visit(path) -> what loading that page recorded (each page loaded once a session).

    One load in the default (light) colour scheme serves every check of the page: what it
    requested, what it holds once typeset (INSPECT), a full-page screenshot, and axe-core's
    accessibility audit (test_accessibility.py; the dark scheme is audited on its own load).
    """
    from axe_playwright_python.sync_playwright import Axe

    axe, cache = Axe(), {}

    def load(path):
        if path in cache:
            return cache[path]
        context = browser.new_context(color_scheme="light",
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        record = {"console_errors": [], "failed": [], "foreign": []}
        page.on("console", lambda m: m.type == "error" and record["console_errors"].append(m.text))
        page.on("pageerror", lambda e: record["console_errors"].append(str(e)))
        page.on("requestfailed", lambda r: record["failed"].append(f"{r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and record["failed"].append(
            f"{r.url} (HTTP {r.status})"))
        page.on("request", lambda r: not is_local(r.url, site_url)
                and record["foreign"].append(r.url))
        response = page.goto(site_url + path, wait_until="load")
        record["status"] = response.status
        record["mathjax"] = page.evaluate(TYPESET)
        page.wait_for_load_state("networkidle")
        record.update(page.evaluate(INSPECT))
        shot = artifacts / "screenshots" / (path.replace("/", "__").removesuffix(".html") + ".png")
        page.screenshot(path=str(shot), full_page=True)
        record["screenshot"] = shot
        # what the page itself asked for, before axe-core re-fetches its stylesheets
        requested = {key: list(record[key]) for key in ("console_errors", "failed", "foreign")}
        page.evaluate(SETTLED)
        record["violations"] = axe.run(page).response["violations"]
        record.update(requested)
        context.close()
        cache[path] = record
        return record

    return load
