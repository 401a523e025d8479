"""Accessibility repairs of what the Sphinx extensions write, found by the axe-core audit.

- sphinxcontrib-bibtex writes the reference list as ``<div role="list">`` whose entries carry
  the deprecated ARIA role ``doc-biblioentry``. A list must hold list items, so screen readers
  (and axe-core's ``aria-required-children`` rule, a critical violation) find an empty list.
  Each entry gets the role ``listitem`` instead.
- pandas writes a table's top-left corner, above the row labels, as an empty header cell
  ``<th></th>``; a header must say what it heads (axe-core's ``empty-table-header``). The
  corner heads nothing, so it becomes an ordinary empty cell.
- The theme's sidebar opens a chapter's pages (the sections of a chapter of several pages)
  with a ``<summary>`` that holds only a chevron icon, so it has no name for a screen reader
  (``summary-name``, a serious violation). It gets one. The sidebar is drawn by the theme's
  template, after the page's body, so this repair is made on the written files.

Nothing else on the page changes.
"""

from __future__ import annotations

from pathlib import Path

BIBLIOENTRY = ' role="doc-biblioentry"'
LISTITEM = ' role="listitem"'
EMPTY_HEADER = "<th></th>"
EMPTY_CELL = "<td></td>"
TOGGLE = '<summary><span class="toctree-toggle" role="presentation">'
NAMED_TOGGLE = ('<summary aria-label="Show or hide the pages of this chapter">'
                '<span class="toctree-toggle" role="presentation">')


def repair_reference_list(body):
    """``body`` (page HTML) with each bibliography entry marked as an item of its list."""
    return body.replace(BIBLIOENTRY, LISTITEM)


def repair_table_corners(body):
    """``body`` (page HTML) with the empty corner header of each table an ordinary cell."""
    return body.replace(EMPTY_HEADER, EMPTY_CELL)


def name_toc_toggles(html):
    """``html`` (a written page) with every sidebar toggle of a chapter's pages named."""
    return html.replace(TOGGLE, NAMED_TOGGLE)


def repair_page(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = repair_table_corners(repair_reference_list(context["body"]))


def repair_written_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for path in Path(app.outdir).rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        if TOGGLE in html:
            path.write_text(name_toc_toggles(html), encoding="utf-8")


def setup(app):
    app.connect("html-page-context", repair_page)
    app.connect("build-finished", repair_written_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
