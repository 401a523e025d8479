"""Where each chapter's time goes, as a table for ``tools/README.md``.

Usage::

    .venv/bin/python tools/chapter_timings.py [notebooks/NN_*.ipynb ...] [--top 5]
    .venv/bin/python tools/chapter_timings.py --build _build [notebooks/NN_*.ipynb ...]

Without ``--build``, executes each notebook top to bottom in a fresh kernel (as the book build
and nbval do, slider cells included unless tagged ``skip-execution``), then prints for each
chapter its total and its slowest cells (index, seconds, share of the chapter, first line of
code). The kernel's start-up and the package import are in the first cells' times, as a reader
pays them. With ``--build``, executes nothing: reads how long the book build took for each
notebook as it is now, from that build's execution cache (the records behind the execution
status page; the chapter-time goal is measured there).

Either way it ends with a Markdown table headed by the date, machine and Python, ready to
paste. Timings on a shared machine are noisy: compare runs made one after the other.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
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


def build_record(cache, path):
    """(seconds, date) of the book build's execution of ``path`` as it is now, from ``cache``."""
    try:
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
    except KeyError:
        raise SystemExit(f"{path.name} as it is now was never executed by that build") from None
    seconds = record.data.get("execution_seconds")
    if seconds is None:
        raise SystemExit(f"no execution time recorded for {path.name}")
    return float(seconds), record.created.date()


def machine(day):
    """The date, this machine and its Python: the line that heads a table of timings."""
    return (f"{day.isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def chapters():
    """The chapters' notebooks in the table of contents' order."""
    from print_book import toc_pages  # beside this script

    return [ROOT / page.replace(".html", ".ipynb") for page in toc_pages()
            if page.startswith("notebooks/")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--top", type=int, default=5, help="slowest cells shown per chapter")
    parser.add_argument("--build", type=Path, metavar="BUILD_DIR",
                        help="read the times of this book build (its .jupyter_cache), run nothing")
    args = parser.parse_args(argv)
    paths = args.notebooks or chapters()
    if args.build:
        from jupyter_cache import get_cache

        if not (args.build / ".jupyter_cache").is_dir():
            raise SystemExit(f"no execution cache in {args.build}: build the book first")
        cache = get_cache(str(args.build / ".jupyter_cache"))
        rows = [(path.stem, *build_record(cache, path)) for path in paths]
        print(f"Book build, {machine(max(day for _, _, day in rows))}:\n")
        print("| chapter | book build (s) |\n|---|---:|")
        for stem, seconds, _ in rows:
            print(f"| {stem} | {seconds:.1f} |")
        print(f"| all | {sum(seconds for _, seconds, _ in rows):.1f} |")
        return
    summary = []
    for path in paths:
        total, timings = time_cells(path)
        summary.append((path.stem, total, max(t for _, t, _ in timings)))
        print(f"\n{path.stem}: {total:.1f} s")
        for index, seconds, first in sorted(timings, key=lambda t: -t[1])[:args.top]:
            print(f"  cell {index:3d}  {seconds:6.1f} s  {seconds / total:4.0%}  {first}")
    print(f"\nExecuted cell by cell, {machine(datetime.date.today())}:\n")
    print("| chapter | total (s) | slowest cell (s) |\n|---|---:|---:|")
    for stem, total, slowest in summary:
        print(f"| {stem} | {total:.1f} | {slowest:.1f} |")
    print(f"| all | {sum(total for _, total, _ in summary):.1f} | |")


if __name__ == "__main__":
    main(sys.argv[1:])
