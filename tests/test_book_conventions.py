"""What the book's conventions require of every chapter, as far as a test can tell.

- every chapter opens with a title, learning goals and prerequisites, and ends with a summary;
- every chapter has at least three labelled exercises (sphinx-exercise), pen-and-paper and code,
  each with a solution in a dropdown, and each code exercise leaves a stub cell for the reader;
- every cell that draws a figure gives it alt text and a caption (myst-nb cell metadata), and
  every scrubbable animation alt text for its frames;
- slider cells are not executed by the book build and show no output there (no dead controls);
- a decimal number in the prose is either glued from the code or literally one of the code's own
  inputs (a step size, say): results are never typed;
- notebooks are committed without outputs or widget state.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted(Path(__file__).resolve().parents[1].glob("notebooks/[0-9][0-9]_*.ipynb"))


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 7


EXERCISE = re.compile(r"^:::\{exercise\} (Pen and paper|Code)\n:label: (ex-\d+-\d+)\n", re.M)
SOLUTION = re.compile(r"^:::\{solution\} (ex-\d+-\d+)\n:label: sol-\d+-\d+\n:class: dropdown\n", re.M)


def chapter_number(path):
    return int(path.stem[:2])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure(path):
    markdown = [source(c) for c in cells(path) if c["cell_type"] == "markdown"]
    text = "\n".join(markdown)
    assert markdown[0].startswith("# "), "the first cell is the chapter's # Title"
    assert "**Learning goals.**" in text and "**Prerequisites.**" in text
    assert "## Summary" in text and "## Exercises" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_are_labelled_with_dropdown_solutions(path):
    text = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")
    exercises = EXERCISE.findall(text)
    kinds = {kind for kind, _ in exercises}
    labels = [label for _, label in exercises]
    assert len(exercises) >= 3, "at least three sphinx-exercise directives"
    assert kinds == {"Pen and paper", "Code"}, "a mix of pen-and-paper and code exercises"
    assert len(set(labels)) == len(labels), "labels are unique"
    assert all(label.startswith(f"ex-{chapter_number(path)}-") for label in labels)
    assert SOLUTION.findall(text) == labels, "one dropdown solution per exercise, in order"


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
    markdown = re.sub(r":::\{solution\}.*?\n:::", " ", markdown, flags=re.S)  # worked solutions
    markdown = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$[^$]*\$", " ", markdown)
    markdown = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", markdown)      # {glue:text}`...`, {cite:p}`...`
    markdown = re.sub(r"[Ee]xercise \d+\.\d+", " ", markdown)        # exercise numbers
    return re.sub(r"`[^`]*`", " ", markdown)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_decimals_in_prose_come_from_the_code(path):
    all_cells = cells(path)
    code = "\n".join(source(c) for c in all_cells if c["cell_type"] == "code")
    typed = []
    for cell in all_cells:
        if cell["cell_type"] != "markdown":
            continue
        for number in re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", _prose(source(cell))):
            if number not in code:
                typed.append(number)
    assert not typed, f"decimals typed in the prose, neither glued nor code inputs: {typed}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    # no saved widget state either: the rendered book would show its sliders dead
    assert "widgets" not in json.loads(path.read_text())["metadata"]
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None


def test_the_repository_url_is_written_once():
    """A fork changes one line: the launch and repository buttons all follow _config.yml."""
    import subprocess

    import yaml

    root = NOTEBOOKS[0].parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files")
    url = yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
    assert url.startswith("https://")
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.split()
    holders = [name for name in tracked
               if (root / name).is_file() and url in (root / name).read_text(errors="ignore")]
    assert holders == ["_config.yml"]
