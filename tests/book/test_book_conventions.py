"""What the book's conventions require of every chapter, as far as a test can tell.

A chapter is one notebook ``notebooks/NN_*.ipynb`` or several: pages that share the chapter's
two digits (``04_training_the_generative_model``, ``04_2_...``). Its first page is a chapter of
the toc, its other pages are that entry's ``sections:`` (so the chapter keeps its number), and
each page runs alone. Rules about a chapter hold over all its pages together; rules about a page
hold for each page:

- every page opens with a title, learning goals and prerequisites (a page is one sitting, read
  on its own), and ends with a summary; a page that sets exercises has an "## Exercises" section;
- every chapter has at least three labelled exercises (sphinx-exercise), pen-and-paper and code,
  counted over its pages, labelled ``ex-NN-*`` on whichever page they sit, each with a solution
  in a dropdown on the same page, and each code exercise leaves a stub cell for the reader;
- every solution runs: it is a gated solution (solution-start ... solution-end) around at least
  one code cell that computes or checks the answer, executed by the book build and by nbval
  (at least three per chapter);
- every cell that draws a figure gives it alt text and a caption (myst-nb cell metadata), and
  every scrubbable animation alt text for its frames;
- slider cells are not executed by the book build and show no output there (no dead controls);
- a decimal number in the prose, in a solution, in alt text or in a caption is either glued from
  the code or, as a whole token, one of the code's own inputs (a step size, say): results are
  never typed;
- no code line the book shows is wider than its column (80 characters), and the bookkeeping
  (glue calls) sits in cells the book removes;
- notebooks are committed without outputs or widget state.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_chapters():
    assert len(CHAPTERS) >= 7


EXERCISE = re.compile(r"^:::\{exercise\} (Pen and paper|Code)\n:label: (ex-\d+-\d+)\n", re.M)
SOLUTION = re.compile(
    r"^```\{solution-start\} (ex-\d+-\d+)\n:label: sol-\d+-\d+\n:class: dropdown\n```", re.M)
SOLUTION_END = re.compile(r"^```\{solution-end\}\n```", re.M)
PROSE_SOLUTION = re.compile(r"^:::\{solution\}", re.M)


def chapter_number(path):
    return int(path.stem[:2])


#: chapter number -> its pages (one notebook, or several sharing the two digits)
CHAPTERS = {}
for _path in NOTEBOOKS:
    CHAPTERS.setdefault(chapter_number(_path), []).append(_path)


def _toc_chapter_entries():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [entry for part in toc.get("parts", []) for entry in part.get("chapters", [])
            if entry.get("file", "").startswith("notebooks/")]


def test_a_chapter_of_several_pages_keeps_its_number():
    """One toc chapter per chapter number; its other pages are that chapter's sections."""
    entries = _toc_chapter_entries()
    firsts = [entry["file"] for entry in entries]
    assert [int(Path(f).name[:2]) for f in firsts] == sorted(CHAPTERS), \
        "one toc chapter per chapter number, in order"
    for entry in entries:
        number = int(Path(entry["file"]).name[:2])
        sections = [s["file"] for s in entry.get("sections", [])]
        listed = {f"notebooks/{p.stem}" for p in CHAPTERS[number]}
        assert {entry["file"], *sections} == listed, \
            f"chapter {number}'s pages are its toc entry and its sections"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure(path):
    markdown = [source(c) for c in cells(path) if c["cell_type"] == "markdown"]
    text = "\n".join(markdown)
    assert markdown[0].startswith("# "), "the first cell is the page's # Title"
    assert "**Learning goals.**" in text and "**Prerequisites.**" in text
    assert "## Summary" in text
    assert "## Exercises" in text or not EXERCISE.search(text), "exercises get a section"


def _markdown(path):
    return "\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")


@pytest.mark.parametrize("number", sorted(CHAPTERS), ids=lambda n: f"chapter{n:02d}")
def test_exercises_are_labelled_with_dropdown_solutions(number):
    exercises = []
    for path in CHAPTERS[number]:
        text = _markdown(path)
        on_page = EXERCISE.findall(text)
        assert SOLUTION.findall(text) == [label for _, label in on_page], \
            f"one dropdown solution per exercise, in order, on its page ({path.stem})"
        exercises += on_page
    kinds = {kind for kind, _ in exercises}
    labels = [label for _, label in exercises]
    assert len(exercises) >= 3, "at least three sphinx-exercise directives"
    assert kinds == {"Pen and paper", "Code"}, "a mix of pen-and-paper and code exercises"
    assert len(set(labels)) == len(labels), "labels are unique"
    assert all(label.startswith(f"ex-{number}-") for label in labels)
    assert "## Exercises" in "\n".join(_markdown(p) for p in CHAPTERS[number])


@pytest.mark.parametrize("number", sorted(CHAPTERS), ids=lambda n: f"chapter{n:02d}")
def test_every_solution_is_executed_code(number):
    """A solution is a gated block around code cells: the build and nbval run its answer."""
    seen = sum(_executed_solutions(path) for path in CHAPTERS[number])
    assert seen >= 3


def _executed_solutions(path):
    """How many solutions ``path`` has; fails if one is not a gated block around code."""
    all_cells = cells(path)
    open_label, code_cells, seen = None, 0, 0
    for cell in all_cells:
        text = source(cell)
        if cell["cell_type"] == "markdown":
            assert not PROSE_SOLUTION.search(text), "solutions are gated, with code, not prose"
            start, end = SOLUTION.search(text), SOLUTION_END.search(text)
            if end:
                assert open_label, "solution-end without solution-start"
                assert not start or start.start() > end.start()
                assert code_cells >= 1, f"the solution to {open_label} runs code"
                open_label, seen = None, seen + 1
            if start:
                assert open_label is None, f"solution to {open_label} is not closed"
                assert not end or end.start() < start.start(), "code cells between start and end"
                open_label, code_cells = start.group(1), 0
        elif open_label:
            code_cells += 1
            assert "exercise" not in cell["metadata"].get("tags", []), "a stub is not a solution"
    assert open_label is None, f"solution to {open_label} is not closed"
    return seen


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_exercises_leave_a_stub_cell(path):
    all_cells = cells(path)
    for i, cell in enumerate(all_cells):
        match = EXERCISE.search(source(cell)) if cell["cell_type"] == "markdown" else None
        if match and match.group(1) == "Code":
            number = match.group(2)[3:].replace("-", ".")
            stub = all_cells[i + 1]
            assert stub["cell_type"] == "code" and "exercise" in stub["metadata"].get("tags", [])
            assert source(stub).startswith(f"# Exercise {number}: your code here")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_alt_text_and_caption(path):
    for cell in cells(path):
        code = source(cell) if cell["cell_type"] == "code" else ""
        if "plt.show()" not in code:
            continue
        meta = cell["metadata"].get("mystnb", {})
        alt = meta.get("image", {}).get("alt", "")
        assert len(alt.split()) >= 12, f"alt text that describes the figure:\n{code[:80]}"
        assert meta.get("figure", {}).get("caption"), f"a caption:\n{code[:80]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_animation_has_alt_text(path):
    for cell in cells(path):
        code = source(cell) if cell["cell_type"] == "code" else ""
        if re.search(r"(_animation|scrubbable)\(", code) and "import" not in code:
            alt = re.search(r"alt=\(?((?:\s*\"[^\"]*\")+)", code)
            assert alt and len(alt.group(1).split()) >= 12, f"alt text for the frames:\n{code[:80]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sliders_are_live_only(path):
    for cell in cells(path):
        code = source(cell) if cell["cell_type"] == "code" else ""
        if re.search(r"\w+_explorer\(", code) and "import" not in code:
            tags = cell["metadata"].get("tags", [])
            assert "skip-execution" in tags and "remove-output" in tags


def _prose(markdown):
    """Markdown with maths, code, roles and solution dropdowns taken out."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)   # code blocks
    markdown = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$[^$]*\$", " ", markdown)
    markdown = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", markdown)      # {glue:text}`...`, {cite:p}`...`
    markdown = re.sub(r"[Ee]xercise \d+\.\d+", " ", markdown)        # exercise numbers
    return re.sub(r"`[^`]*`", " ", markdown)


DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")
CODE_NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?![\d])")


def _typed_decimals(text, code_numbers):
    return [number for number in DECIMAL.findall(text) if number not in code_numbers]


def test_typed_decimals_are_matched_as_whole_numbers():
    code = CODE_NUMBER.findall("eta = 0.55\nlam = 2.0 * x\nclip(x, 0.0, 1.0)")
    assert _typed_decimals("a step of 0.5 and 0.55, weight 2.0, range 1.0.", code) == ["0.5"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_decimals_in_prose_come_from_the_code(path):
    all_cells = cells(path)
    code = "\n".join(source(c) for c in all_cells if c["cell_type"] == "code")
    code_numbers = set(CODE_NUMBER.findall(code))
    typed = []
    for cell in all_cells:
        if cell["cell_type"] == "markdown":
            typed += _typed_decimals(_prose(source(cell)), code_numbers)
        meta = cell["metadata"].get("mystnb", {})
        for words in (meta.get("image", {}).get("alt", ""),
                      meta.get("figure", {}).get("caption", "")):
            typed += _typed_decimals(_prose(words), code_numbers)
    assert not typed, ("decimals typed in the prose, solutions, alt text or captions, "
                       f"neither glued nor code inputs: {typed}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    # no saved widget state either: the rendered book would show its sliders dead
    assert "widgets" not in json.loads(path.read_text())["metadata"]
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None


COLUMN = 80
HIDDEN = {"remove-cell", "remove-input"}


def _shown_code_cells(path):
    return [cell for cell in cells(path) if cell["cell_type"] == "code"
            and not HIDDEN & set(cell["metadata"].get("tags", []))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_shown_code_fits_the_column(path):
    wide = [line for cell in _shown_code_cells(path) for line in source(cell).splitlines()
            if len(line) > COLUMN]
    assert not wide, f"code lines wider than {COLUMN} characters scroll in the book: {wide}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_glue_calls_are_out_of_sight(path):
    """A glue call on its own line is bookkeeping: it goes in a cell the book removes.

    (A glue call inside a loop or a helper function may stay where its loop is.)
    """
    shown = [line for cell in _shown_code_cells(path) for line in source(cell).splitlines()
             if re.match(r"glue(_\w+)?\(", line)]
    assert not shown, f"glue calls shown in the book: {shown}"
