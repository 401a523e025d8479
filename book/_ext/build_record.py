"""The ``build-environment`` directive: what the book was built and executed with.

The execution status page shows, beside myst-nb's execution table, the Python version, the
exact versions of the key packages and the number of CPU cores of the build, all read by the
build itself (the notebooks run in the same environment as the build), so a reader can set up
the same environment and compare timings fairly.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
from importlib import metadata
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

#: (label, distribution names to try in order): the packages whose versions set the numbers.
KEY_PACKAGES = (
    ("TensorFlow", ("tensorflow-cpu", "tensorflow")),
    ("NumPy", ("numpy",)),
    ("scikit-learn", ("scikit-learn",)),
    ("SciPy", ("scipy",)),
    ("matplotlib", ("matplotlib",)),
    ("Jupyter Book", ("jupyter-book",)),
    ("myst-nb", ("myst-nb",)),
    ("ipykernel", ("ipykernel",)),
)


def package_version(names):
    """The installed version of the first distribution in ``names`` that is installed, or None."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


#: The lock file of exact versions (make lock), beside _config.yml.
LOCK = Path(__file__).resolve().parents[2] / "requirements-lock.txt"


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_status(lock=LOCK):
    """Which lock this environment ran, in words: its hash, and whether every pin matches."""
    if not lock.exists():
        return "no lock file"
    text = lock.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", text, flags=re.M))
    differ = []
    for name, version in sorted(pins.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            differ.append(f"{_normal(name)} {installed or 'missing'} (lock {version})")
    head = f"{lock.name}, sha256 {digest}: "
    if not differ:
        return head + f"all {len(pins)} pinned versions installed"
    shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
    return head + f"{len(differ)} of {len(pins)} pins differ: {shown}"


def build_environment():
    """Rows (what, value) describing this build's Python, packages, lock and machine."""
    rows = [("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
            ("Platform", f"{platform.system()} {platform.machine()}"),
            ("CPU cores", str(os.cpu_count()))]
    for label, names in KEY_PACKAGES:
        rows.append((label, package_version(names) or "not installed"))
    rows.append(("Lock", lock_status()))
    return rows


def _table(rows):
    table = nodes.table(classes=["build-environment"])
    group = nodes.tgroup(cols=2)
    table += group
    group += nodes.colspec(colwidth=1)
    group += nodes.colspec(colwidth=2)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    for section, cells in ((head, [("what", "version or value")]), (body, rows)):
        for what, value in cells:
            row = nodes.row()
            for text in (what, value):
                entry = nodes.entry()
                entry += nodes.paragraph(text=text)
                row += entry
            section += row
    return table


class BuildEnvironment(SphinxDirective):
    """Renders the table of :func:`build_environment` where it stands."""

    has_content = False

    def run(self):
        self.env.note_reread()   # read again on every build, so the table is never stale
        return [_table(build_environment())]


def setup(app):
    app.add_directive("build-environment", BuildEnvironment)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
