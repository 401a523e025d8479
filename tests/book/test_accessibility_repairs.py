"""The site's accessibility repairs (book/_ext/accessibility.py) change what they must, only."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))
import accessibility  # noqa: E402

PANDAS_TABLE = ("<table><thead><tr><th></th><th>mean</th></tr></thead>"
                "<tbody><tr><th>clean</th><td>0.96</td></tr></tbody></table>")
SIDEBAR = ('<details><summary><span class="toctree-toggle" role="presentation">'
           '<i class="fa-solid fa-chevron-down"></i></span></summary><ul></ul></details>')


def test_a_tables_empty_corner_becomes_an_ordinary_cell():
    repaired = accessibility.repair_table_corners(PANDAS_TABLE)
    assert "<th></th>" not in repaired
    assert repaired == PANDAS_TABLE.replace("<th></th>", "<td></td>", 1)
    assert "<th>mean</th>" in repaired and "<th>clean</th>" in repaired


def test_a_sidebar_toggle_gets_a_name_and_nothing_else_changes():
    repaired = accessibility.name_toc_toggles(SIDEBAR)
    assert '<summary aria-label="Show or hide the pages of this chapter">' in repaired
    assert repaired.replace(
        ' aria-label="Show or hide the pages of this chapter"', "") == SIDEBAR
    dropdown = "<details><summary>Solution</summary></details>"
    assert accessibility.name_toc_toggles(dropdown) == dropdown


def test_bibliography_entries_become_list_items():
    entry = '<div role="list"><div role="doc-biblioentry">A.</div></div>'
    assert accessibility.repair_reference_list(entry) == (
        '<div role="list"><div role="listitem">A.</div></div>')
