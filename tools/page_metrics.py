"""How heavy each chapter page reads: prose words, visible code, visible asserts, long cells.

Issue 22's table, recomputed from the notebooks as committed (no execution). "Visible" means a
code cell the book shows with its source: not tagged remove-cell, remove-input, hide-input or
hide-cell. Prose words are the words of the markdown cells with maths, code, directive and role
syntax taken out.

    .venv/bin/python tools/page_metrics.py            # the working tree
    .venv/bin/python tools/page_metrics.py --rev HEAD~3   # a commit
"""

import argparse
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
LONG_CELL = 15          # lines: the guide's "about 15 lines"
AIMS = {"visible asserts": 3, "visible cells over 15 lines": 2, "prose words": 3000}

NON_PROSE = [
    re.compile(r"\$\$.*?\$\$", re.S),                  # display maths
    re.compile(r"```.*?```", re.S),                    # fenced blocks and directives' fences
    re.compile(r"^:::.*$|^:\w[\w-]*:.*$", re.M),       # colon fences and directive options
    re.compile(r"\$[^$\n]+\$"),                        # inline maths
    re.compile(r"\{[\w:-]+\}`[^`]*`"),                 # roles: {glue:text}`x`, {cite:p}`y`
    re.compile(r"`[^`]*`"),                            # inline code
]


def source(cell):
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else text


def prose_words(markdown):
    for pattern in NON_PROSE:
        markdown = pattern.sub(" ", markdown)
    return len(re.findall(r"[A-Za-z][A-Za-z'’-]*", markdown))


def metrics(notebook):
    cells = notebook["cells"]
    shown = [source(c) for c in cells if c["cell_type"] == "code"
             and not HIDDEN & set(c.get("metadata", {}).get("tags", []))]
    lines = [s.splitlines() for s in shown]
    return {
        "prose words": sum(prose_words(source(c)) for c in cells
                           if c["cell_type"] == "markdown"),
        "visible code cells": len(shown),
        "visible code lines": sum(len(ls) for ls in lines),
        "visible asserts": sum(line.lstrip().startswith("assert") for ls in lines for line in ls),
        "visible cells over 15 lines": sum(len(ls) > LONG_CELL for ls in lines),
    }


def notebooks(rev):
    if rev is None:
        for path in sorted(ROOT.glob("notebooks/[0-9][0-9]*.ipynb")):
            yield path.stem, json.loads(path.read_text())
        return
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "notebooks/"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    for name in sorted(n for n in names if n.endswith(".ipynb")):
        text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
        yield Path(name).stem, json.loads(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="a git revision instead of the working tree")
    args = parser.parse_args()
    rows = [(name, metrics(nb)) for name, nb in notebooks(args.rev)]
    columns = list(rows[0][1])
    print("| page | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in rows:
        cells = [f"{row[c]}" + (" (over)" if c in AIMS and row[c] > AIMS[c] else "")
                 for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
