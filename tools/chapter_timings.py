"""Where each chapter's time goes: every notebook executed once, timed cell by cell.

Usage::

    .venv/bin/python tools/chapter_timings.py [notebooks/NN_*.ipynb ...] [--top 5]

Executes each notebook top to bottom in a fresh kernel (as the book build and nbval do, slider
cells included unless tagged ``skip-execution``), then prints for each chapter its total and
its slowest cells (index, seconds, share of the chapter, first line of code), and a summary
table. The kernel's start-up and the package import are in the first cells' times, as a
reader pays them. Timings on a shared machine are noisy: compare runs made one after the other.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def time_cells(path, timeout=600):
    """(total seconds, [(cell index, seconds, first code line)]) of one fresh execution."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    timings = []
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            if "skip-execution" in cell.metadata.get("tags", []):
                continue
            began = time.perf_counter()
            client.execute_cell(cell, index)
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            timings.append((index, time.perf_counter() - began, first[:60]))
    return time.perf_counter() - start, timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--top", type=int, default=5, help="slowest cells shown per chapter")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    summary = []
    for path in paths:
        total, timings = time_cells(path)
        summary.append((path.stem, total, max(t for _, t, _ in timings)))
        print(f"\n{path.stem}: {total:.1f} s")
        for index, seconds, first in sorted(timings, key=lambda t: -t[1])[:args.top]:
            print(f"  cell {index:3d}  {seconds:6.1f} s  {seconds / total:4.0%}  {first}")
    print("\n| chapter | total (s) | slowest cell (s) |\n|---|---:|---:|")
    for stem, total, slowest in summary:
        print(f"| {stem} | {total:.1f} | {slowest:.1f} |")


if __name__ == "__main__":
    main()
