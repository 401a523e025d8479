"""How large each figure's smallest text reads on the site: every notebook executed once.

Usage::

    .venv/bin/python tools/figure_legibility.py [notebooks/NN_*.ipynb ...]

Executes each notebook in a fresh kernel (slider cells tagged ``skip-execution`` skipped, as
in the book build) with a start-up file that records every figure the kernel draws for
display or saves: the width of the image in pixels (after the tight crop the inline backend
applies), and the size of the smallest visible text in it. The site shows an image at its
natural width unless it is wider than the text column (COLUMN_PX, the column of a 1280 px wide
window), when it is scaled down to fit; a figure's text of s points then reads as

    s * min(1, COLUMN_PX / image width) * dpi / 96   points

(CSS draws 96 pixels to the inch). Issue 13 asks for at least 9 points. The script prints one
row per figure (scrubbable animations: their first frame), the smallest text's wording, and
the count of figures below the goal. It measures; it changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]

#: Width in CSS pixels of a figure's output area at a 1280 px wide window (measured in
#: Chromium on the built site: ``div.cell_output img`` of a chapter page).
COLUMN_PX = 672
GOAL_PT = 9.0

#: Runs in the kernel before the notebook: wraps matplotlib's print_figure to log each image.
STARTUP = r'''
import json, os
import matplotlib
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.text import Text

_LOG = os.environ["FIGURE_LEGIBILITY_LOG"]
_print_figure = FigureCanvasBase.print_figure


def _title(fig):
    if fig._suptitle is not None and fig._suptitle.get_text():
        return fig._suptitle.get_text()
    for ax in fig.axes:
        if ax.get_title():
            return ax.get_title()
    return ""


def _logged_print_figure(self, *args, **kwargs):
    result = _print_figure(self, *args, **kwargs)
    try:
        fig = self.figure
        dpi = kwargs.get("dpi") or matplotlib.rcParams["savefig.dpi"]
        dpi = fig.dpi if dpi == "figure" else float(dpi)
        renderer = fig.canvas.get_renderer()
        if kwargs.get("bbox_inches") == "tight":
            pad = kwargs.get("pad_inches")
            pad = matplotlib.rcParams["savefig.pad_inches"] if pad in (None, "layout") else pad
            width_in = fig.get_tightbbox(renderer).width + 2 * float(pad)
        else:
            width_in = fig.get_figwidth()
        texts = [t for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip() and t.figure is fig
                 and (t.axes is None or t.axes.get_visible())]
        smallest = min(texts, key=lambda t: t.get_fontsize(), default=None)
        record = {"title": _title(fig), "dpi": dpi, "width_px": width_in * dpi,
                  "points": None if smallest is None else smallest.get_fontsize(),
                  "text": "" if smallest is None else smallest.get_text()[:40]}
        with open(_LOG, "a") as log:
            log.write(json.dumps(record) + "\n")
    except Exception as error:      # measuring must never break the notebook
        with open(_LOG, "a") as log:
            log.write(json.dumps({"error": repr(error)}) + "\n")
    return result


FigureCanvasBase.print_figure = _logged_print_figure
'''


def rendered_points(record):
    """The smallest text's size as the site shows it, in points (None: no text)."""
    if record.get("points") is None:
        return None
    scale = min(1.0, COLUMN_PX / record["width_px"])
    return record["points"] * scale * record["dpi"] / 96


def measure(path, workdir, timeout=600):
    """The log records of one fresh execution of the notebook at ``path``: a list of dicts."""
    ipython_dir = Path(workdir) / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-figure-legibility.py").write_text(STARTUP)
    log = Path(workdir) / (path.stem + ".jsonl")
    log.unlink(missing_ok=True)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells
                      if "skip-execution" not in c.metadata.get("tags", [])]
    env = {"IPYTHONDIR": str(ipython_dir), "FIGURE_LEGIBILITY_LOG": str(log)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)          # the kernel inherits the environment
    try:
        # a failing cell (say, a timing assert on a busy machine) must not stop the survey
        NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    below = total = 0
    with tempfile.TemporaryDirectory() as workdir:
        for path in paths:
            print(f"\n{path.name}")
            print(f"  {'width px':>8} {'text pt':>7} {'reads pt':>8}  smallest text / figure title")
            seen = set()
            for record in measure(path.resolve(), workdir):
                if "error" in record:
                    print(f"  (not measured: {record['error']})")
                    continue
                key = (record["title"], round(record["width_px"]))
                if key in seen:          # an animation's later frames
                    continue
                seen.add(key)
                reads = rendered_points(record)
                total += 1
                flag = ""
                if reads is not None and reads < GOAL_PT:
                    below += 1
                    flag = "  < goal"
                shown = "-" if reads is None else f"{reads:8.1f}"
                size = "-" if record["points"] is None else f"{record['points']:7.1f}"
                print(f"  {record['width_px']:8.0f} {size:>7} {shown:>8}  "
                      f"{record['text']!r} / {record['title'][:40]!r}{flag}")
    print(f"\n{below} of {total} figures have text that reads below {GOAL_PT:g} pt "
          f"at the site's column width ({COLUMN_PX} px).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
