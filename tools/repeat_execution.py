"""Hunt for stalled executions: run notebooks again and again as the book build does.

Usage::

    .venv/bin/python tools/repeat_execution.py [--runs 20] [--timeout 120] NB [NB ...]

Each run executes the notebook in a fresh kernel with nbclient, the executor behind the book
build (myst-nb through jupyter-cache), with the same conventions: cells tagged
``skip-execution`` are skipped, the working directory is the notebook's folder. A cell that
produces no reply within ``--timeout`` seconds is a stall: the script records the cell, the
kernel's state as nbclient last saw it and the messages it was waiting for, then goes on.
Prints each run's time and, at the end, the median and slowest run per notebook and every stall.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def run_once(path, timeout):
    """(seconds, None) or (seconds, description of what went wrong) for one fresh execution."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellTimeoutError as error:
        return time.perf_counter() - start, f"stalled (no reply in {timeout} s): {error}"
    except DeadKernelError as error:
        return time.perf_counter() - start, f"kernel died: {error}"
    except CellExecutionError as error:
        return time.perf_counter() - start, f"cell failed: {str(error)[-300:]}"
    except Exception as error:   # e.g. no kernel: nbclient's clean-up can then raise its own
        cause = error.__context__    # error over the first one, which is kept here
        return time.perf_counter() - start, (
            f"client error: {type(error).__name__}: {error}"
            + (f" (while handling {type(cause).__name__}: {cause})" if cause else ""))
    return time.perf_counter() - start, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args(argv)
    times = {path: [] for path in args.notebooks}
    problems = []
    for run in range(1, args.runs + 1):
        for path in args.notebooks:
            seconds, problem = run_once(path.resolve(), args.timeout)
            times[path].append(seconds)
            print(f"run {run:3d}  {path.name:<45} {seconds:7.1f} s"
                  + (f"  {problem}" if problem else ""), flush=True)
            if problem:
                problems.append((run, path.name, problem))
    print()
    for path, values in times.items():
        print(f"{path.name:<45} median {statistics.median(values):6.1f} s, "
              f"slowest {max(values):6.1f} s over {len(values)} runs")
    print(f"{len(problems)} problem(s) in {args.runs * len(args.notebooks)} executions")
    for run, name, problem in problems:
        print(f"  run {run}, {name}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
