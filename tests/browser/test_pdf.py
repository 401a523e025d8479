"""The printed book (make pdf): every page of the site, in order, typeset, numbered, complete.

Reads the PDF that tools/print_book.py made from the built site and checks it against
that site: the titles, a sample of the numbers each chapter glues into its prose, the figure
count, the contents page and bookmarks, and that no unresolved reference or raw TeX is left.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from browser_support import SITE, toc_pages

# one worker runs this file when the browser tests run in parallel (make test: pytest-xdist
# with --dist loadscope, a module to a worker), so the PDF is read once
pytestmark = pytest.mark.browser

PDF = SITE / "inverse-lessons.pdf"
PAGES = toc_pages()


@pytest.fixture(scope="session")    # once per worker, however the tests are ordered
def book():
    from pypdf import PdfReader

    if not PDF.exists():
        pytest.fail(f"no PDF at {PDF}: print it first (make pdf)")
    reader = PdfReader(PDF)
    # NFKC undoes the typesetting's ligatures ("ﬀ" -> "ff") in the extracted text
    texts = [re.sub(r"\s+", " ", unicodedata.normalize("NFKC", page.extract_text() or ""))
             for page in reader.pages]
    outline = [(item["/Title"], reader.get_destination_page_number(item))
               for item in reader.outline]
    return reader, texts, outline


def _words(title):
    """The first three words of a title, its chapter or section number (4. or 4.6.) aside."""
    return " ".join(re.sub(r"^\d+(?:\.\d+)*\.\s+", "", title).split()[:3])


def _site_page(path):
    markup = (SITE / path).read_text(encoding="utf-8")
    article = markup[markup.find("<article"):markup.rfind("</article>")]
    return markup, article


def _chapter_ranges(book):
    _, texts, outline = book
    starts = [page for _, page in outline] + [len(texts)]
    return {path: " ".join(texts[starts[i]:starts[i + 1]]) for i, path in enumerate(PAGES)}


def test_every_page_of_the_book_is_a_bookmark_in_order(book):
    _, texts, outline = book
    assert len(outline) == len(PAGES)
    starts = [page for _, page in outline]
    assert starts == sorted(starts) and starts[0] >= 1, "bookmarks in reading order"
    for title, page in outline:
        assert _words(title) in texts[page], f"{title!r} does not start on its page"


def test_the_contents_page_gives_each_title_its_printed_page_number(book):
    _, texts, outline = book
    contents = " ".join(texts[:outline[0][1]])     # the pages before the first title
    for title, page in outline:
        assert re.search(re.escape(title) + rf" {page + 1}\b", contents), title
    for index in (outline[1][1], len(texts) - 1):        # numbered feet
        assert re.search(rf"\b{index + 1}\s*$", texts[index]), f"page {index + 1} has its number"


def test_every_chapter_title_is_printed(book):
    ranges = _chapter_ranges(book)
    for path in PAGES:
        markup, _ = _site_page(path)
        title = re.search(r"<title>(.*?)(?: &#8212;| —|</title>)", markup).group(1)
        title = re.sub(r"<[^>]+>", "", title).replace("&amp;", "&").strip()
        assert _words(title) in ranges[path], title


def test_a_sample_of_glued_numbers_from_each_chapter_is_printed(book):
    ranges = _chapter_ranges(book)
    chapters = [p for p in PAGES if p.startswith("notebooks/")]
    assert chapters
    for path in chapters:
        _, article = _site_page(path)
        glued = re.findall(r'<span class="pasted-text">([^<]{1,24})</span>', article)
        numbers = list(dict.fromkeys(g for g in glued if re.fullmatch(r"-?[\d.,%]+", g)))
        assert numbers, f"{path} glues no numbers into its prose"
        missing = [n for n in numbers[:8] if n not in ranges[path]]
        assert not missing, f"{path}: glued numbers not in the PDF: {missing}"


def _images_drawn(resources):
    """Image XObjects a page (or a form it draws) uses, counted without decoding them."""
    objects = resources.get_object().get("/XObject") if resources else None
    count = 0
    for ref in (objects.get_object().values() if objects else ()):
        drawn = ref.get_object()
        if drawn.get("/Subtype") == "/Image":
            count += 1
        elif drawn.get("/Subtype") == "/Form":
            count += _images_drawn(drawn.get("/Resources"))
    return count


def test_every_figure_is_printed(book):
    reader, _, _ = book
    figures = sum(len(re.findall(r"<img\b", _site_page(path)[1])) for path in PAGES)
    printed = sum(_images_drawn(page.get("/Resources")) for page in reader.pages)
    assert figures >= 20 and printed >= figures, (figures, printed)


def test_no_unresolved_reference_or_raw_tex(book):
    _, texts, _ = book
    text = " ".join(texts)
    assert "??" not in text
    raw = re.findall(r"\\(?:frac|begin|end|mathbb|lVert|sum|left|right)\b|\$\$|\\\(|\\\[", text)
    assert not raw, sorted(set(raw))[:10]
