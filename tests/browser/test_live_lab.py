"""The live path: JupyterLab from this environment, chapter 1 run in Chromium, a slider moved.

JupyterLab serves a copy of chapter 1 from a temporary folder on 127.0.0.1 (so its
autosave never touches the repository); the test runs every cell, moves the step-size
slider of the explorer and waits for the explorer's figure to change, and reports how
long that took.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import pytest
from browser_support import ROOT, report

pytestmark = pytest.mark.browser

CHAPTER = "01_toy_inverse_problem.ipynb"
TOKEN = "inverse-lessons-browser-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 serving a copy of chapter 1; yields its base URL."""
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / CHAPTER, work / CHAPTER)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    port = free_port()
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text())
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


#: Seconds from a slider move to its new figure that the live test accepts (the median of
#: MOVES moves, each a page of the step-size slider down: smaller steps end the descent at
#: visibly different x, larger ones converge to the same printed x = 2).
REDRAW_LIMIT = 1.0
MOVES = 5


def end_line(explorer):
    """The explorer's printed result, 'after N steps: x = ...'."""
    printed = explorer.locator(".widget-output").text_content()
    match = re.search(r"after \d+ steps: x = \S+", printed)
    assert match, "the explorer prints where the descent ended"
    return match.group(0)


def run_all_cells(page):
    """Wait for the kernel, run every cell from the Run menu, wait until all have run."""
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
    started = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel:text-is('Run')").click()
    page.locator(".lm-Menu-itemLabel:text-is('Run All Cells')").click()
    page.locator(".widget-interact").first.wait_for()
    page.wait_for_function(
        """() => [...document.querySelectorAll(".jp-CodeCell .jp-InputPrompt")]
                 .every(p => /\\[\\d+\\]/.test(p.textContent))""")
    report(f"JupyterLab, chapter 1, Run All Cells until every cell has run: "
           f"{time.monotonic() - started:.1f} s")


def test_chapter_1_runs_and_its_step_size_slider_redraws(lab, browser, artifacts):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(f"{lab}lab/tree/{CHAPTER}?token={TOKEN}")
    try:
        run_all_cells(page)
    except Exception:
        page.screenshot(path=str(artifacts / "screenshots" / "jupyterlab_chapter_1_failed.png"))
        raise
    explorer = page.locator(".widget-interact").first

    output = explorer.locator(".jp-OutputArea-output")
    readout = explorer.locator(".widget-readout").first
    output.locator("img").first.wait_for()

    # Move the handle from the keyboard, as a reader can: a mouse drag synthesised by
    # Playwright moved the handle here but never fired the slider's change event.
    handle = explorer.locator(".widget-hslider").first.locator(".noUi-handle")
    handle.focus()
    redraws = []
    for _ in range(MOVES):
        figure, end, value = (output.locator("img").first.get_attribute("src"),
                              end_line(explorer), readout.text_content())
        handle.press("PageDown")
        moved = time.monotonic()
        # done when the output shows a new figure and the line printed after it for the
        # new step size (a new image alone can be the old figure drawn again)
        page.wait_for_function(
            """([oldFigure, oldEnd]) => {
                 const out = document.querySelector(".widget-interact .widget-output");
                 const img = out && out.querySelector(".jp-OutputArea-output img");
                 const end = out && (out.textContent.match(/after \\d+ steps: x = \\S+/)
                                     || [])[0];
                 return img !== null && img.getAttribute("src") !== oldFigure
                        && end !== undefined && end !== oldEnd;
               }""", arg=[figure, end], timeout=30_000)
        redraws.append(time.monotonic() - moved)
        assert float(readout.text_content()) < float(value), "moved down: a smaller step"
        assert end_line(explorer).startswith("after 10 steps: x = ")
    page.screenshot(path=str(artifacts / "screenshots" / "jupyterlab_chapter_1_slider.png"))
    median = statistics.median(redraws)
    report(f"JupyterLab, chapter 1, step-size slider to new figure: median {median * 1000:.0f} "
           f"ms over {MOVES} moves (fastest {min(redraws) * 1000:.0f}, slowest "
           f"{max(redraws) * 1000:.0f})")
    # generous: the goal is 0.15 s for the kernel's part (benchmarks/bench_live_figures.py);
    # the limit leaves room for the round trip through JupyterLab on a busy machine
    assert median < REDRAW_LIMIT, f"the slider took {median:.2f} s to redraw its figure"
    page.close()
