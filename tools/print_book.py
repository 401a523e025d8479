"""The whole book as one PDF, printed from the built site by headless Chromium.

Usage (``make pdf`` runs it after ``make book``)::

    python tools/print_book.py [--site _build/html] [--out _build/html/inverse-lessons.pdf]

Every page of ``_toc.yml`` is loaded from the built site (served on 127.0.0.1, so the maths
is typeset by the site's own MathJax and nothing is fetched from elsewhere), prepared for
paper, printed to PDF, and the pieces are joined:

- each exercise's solution is unfolded and printed where it stands, under its heading
  "Solution to Exercise N.M";
- each scrubbable animation shows one representative frame (its middle one) without its
  controls;
- a contents page lists every page of the book with the page it starts on, the PDF carries
  the same list as bookmarks, and every page is numbered at its foot.

The same Debian Chromium as the browser tests does the printing (Playwright drives it and
never downloads a browser); pypdf joins the pieces. The PDF lands inside the built site, so
the site's download link serves it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import html
import http.server
import io
import os
import sys
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Headless Chromium in a container: the browser tests use the same flags.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: File name of the PDF inside the built site (the intro page links to it).
PDF_NAME = "inverse-lessons.pdf"
PAPER = {"format": "A4", "margin": {"top": "16mm", "bottom": "18mm", "left": "15mm",
                                    "right": "15mm"}}

#: Run in each page before printing: unfold solutions, settle animations, drop screen chrome.
PREPARE = r"""() => {
  document.documentElement.dataset.theme = "light";
  document.documentElement.dataset.mode = "light";
  document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
  document.querySelectorAll("details").forEach(d => d.open = true);
  document.querySelectorAll("button.toggle-button").forEach(b => b.remove());
  document.querySelectorAll(".animation").forEach(a => {
    const slider = a.querySelector("input[type=range]");
    if (slider) {
      slider.value = Math.floor(Number(slider.max) / 2);
      slider.dispatchEvent(new Event("input", {bubbles: true}));
      slider.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });
  const style = document.createElement("style");
  style.textContent = `
    .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article,
    .header-article, .bd-footer, .bd-footer-content, .prev-next-area, .footer-article,
    .bd-footer-article, .anim-buttons, .animation input[type=range], .anim-state,
    .skip-link, #pst-back-to-top, .bd-search, .search-button-field { display: none !important; }
    .bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width {
      max-width: 100% !important; width: 100% !important; margin: 0 !important;
      padding: 0 !important; }
    div.cell, figure, img, table, .solution, .exercise, mjx-container[display="true"] {
      break-inside: avoid; }
    pre { white-space: pre-wrap !important; word-break: break-word; }
    h1, h2, h3 { break-after: avoid; }
  `;
  document.head.appendChild(style);
}"""

#: Resolves once MathJax (if the page loads it) has typeset the page.
TYPESET = """() => (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)
  ? window.MathJax.startup.promise.then(() => true) : false"""


def toc_pages():
    """Every page of ``_toc.yml``, in reading order, as the path of its HTML file in the site."""
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


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site):
    """Serve ``site`` on 127.0.0.1 at a free port: (base url, server)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server


#: Pages printed at once: Chromium lays out one page while another waits for its network.
PARALLEL_PAGES = 3


async def print_page(browser, url, slots):
    """(page title, PDF bytes) of the page at ``url``, typeset and prepared for paper.

    ``slots`` (an asyncio.Semaphore) bounds how many pages are printed at once.
    """
    async with slots:
        page = await browser.new_page(viewport={"width": 1000, "height": 1400})
        await page.emulate_media(color_scheme="light")
        await page.goto(url, wait_until="load")
        await page.evaluate(TYPESET)
        await page.wait_for_load_state("networkidle")
        await page.evaluate(PREPARE)
        await page.wait_for_timeout(200)
        heading = page.locator("article h1").first
        title = (await heading.inner_text() if await heading.count()
                 else await page.title()).strip().rstrip("#").strip()
        pdf = await page.pdf(print_background=True, **PAPER)
        await page.close()
        return title, pdf


def contents_html(book_title, entries):
    """A contents page: [(title, first page)] as an HTML document with a dotted leader."""
    rows = "\n".join(
        f'<tr><td class="t">{html.escape(title)}</td><td class="p">{page}</td></tr>'
        for title, page in entries)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
      body {{ font-family: sans-serif; color: #111; }}
      h1 {{ font-size: 28pt; margin: 40mm 0 6mm; }}
      p.sub {{ font-size: 13pt; color: #444; margin-bottom: 16mm; }}
      h2 {{ font-size: 16pt; }}
      table {{ width: 100%; border-collapse: collapse; font-size: 12pt; }}
      td {{ padding: 2.2mm 0; border-bottom: 0.2mm dotted #999; }}
      td.p {{ text-align: right; width: 20mm; }}
    </style></head><body>
      <h1>{html.escape(book_title)}</h1>
      <p class="sub">Learning by inversion: the whole book, printed from its site.</p>
      <h2>Contents</h2>
      <table>{rows}</table>
    </body></html>"""


def numbers_html(count):
    """``count`` pages, each with only its number at the foot: stamped onto the book's pages."""
    pages = "".join(f'<div class="n">{i}</div>' for i in range(1, count + 1))
    return f"""<!DOCTYPE html><html><head><style>
      @page {{ size: A4; margin: 0; }}
      body {{ margin: 0; }}
      .n {{ height: 297mm; box-sizing: border-box; padding-top: 285mm; text-align: center;
            font: 9pt sans-serif; color: #555; break-after: page; }}
    </style></head><body>{pages}</body></html>"""


async def print_html(browser, markup, **options):
    page = await browser.new_page()
    await page.set_content(markup, wait_until="load")
    pdf = await page.pdf(print_background=True, **options)
    await page.close()
    return pdf


async def print_pieces(base, chromium, book_title):
    """Print every toc page (several at once) and the contents and page-number sheets.

    Returns (titles, readers of the toc pages' PDFs, the page number each starts
    on, the contents page's reader, the page-number sheets' reader).
    """
    from playwright.async_api import async_playwright
    from pypdf import PdfReader

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium,
                                                   args=CHROMIUM_ARGS)
        slots = asyncio.Semaphore(PARALLEL_PAGES)
        printed = await asyncio.gather(*(print_page(browser, base + path, slots)
                                         for path in toc_pages()))
        titles = [title for title, _ in printed]
        readers = [PdfReader(io.BytesIO(pdf)) for _, pdf in printed]
        lengths = [len(reader.pages) for reader in readers]
        # the contents page's length does not depend on the numbers in it
        draft = await print_html(browser, contents_html(book_title, [
            (title, 0) for title in titles]), **PAPER)
        front = len(PdfReader(io.BytesIO(draft)).pages)
        starts = [front + 1 + sum(lengths[:i]) for i in range(len(lengths))]
        contents = PdfReader(io.BytesIO(await print_html(browser, contents_html(
            book_title, list(zip(titles, starts, strict=True))), **PAPER)))
        assert len(contents.pages) == front, "the contents page changed length"
        numbers = PdfReader(io.BytesIO(await print_html(
            browser, numbers_html(front + sum(lengths)), prefer_css_page_size=True)))
        await browser.close()
    return titles, readers, starts, contents, numbers


def build_pdf(site, out, chromium=CHROMIUM):
    """Print every toc page of the built ``site`` and join them into the PDF ``out``."""
    from pypdf import PdfWriter

    site, out = Path(site), Path(out)
    if not (site / "index.html").exists():
        raise SystemExit(f"no built site in {site}: build the book first (make book)")
    if not Path(chromium).exists():
        raise SystemExit(f"no Chromium at {chromium} (Debian: apt-get install chromium)")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    base, server = serve(site)
    try:
        titles, readers, starts, contents, numbers = asyncio.run(
            print_pieces(base, chromium, config["title"]))
    finally:
        server.shutdown()
        server.server_close()
    writer = PdfWriter()
    for reader in [contents, *readers]:
        for sheet in reader.pages:
            writer.add_page(sheet)
    front = len(contents.pages)                  # the contents page stays unnumbered
    for index, sheet in enumerate(writer.pages):
        if index >= front:
            sheet.merge_page(numbers.pages[index])
    for title, start in zip(titles, starts, strict=True):
        writer.add_outline_item(title, start - 1)
    writer.add_metadata({"/Title": config["title"], "/Author": config.get("author", "")})
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as handle:
        writer.write(handle)
    return out, len(writer.pages)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", default=None, help=f"default: <site>/{PDF_NAME}")
    args = parser.parse_args(argv)
    out, pages = build_pdf(args.site, args.out or Path(args.site) / PDF_NAME)
    print(f"== PDF: {out} ({pages} pages)")


if __name__ == "__main__":
    sys.exit(main())
