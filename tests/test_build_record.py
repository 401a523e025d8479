"""The execution status page records the build's Python, packages and cores."""

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
import build_record  # noqa: E402


def test_the_record_names_python_cores_and_key_packages():
    rows = dict(build_record.build_environment())
    assert rows["Python"].startswith(platform.python_version())
    assert rows["CPU cores"] == str(os.cpu_count())
    assert rows["NumPy"] == metadata.version("numpy")
    assert rows["scikit-learn"] == metadata.version("scikit-learn")
    assert rows["Jupyter Book"] == metadata.version("jupyter-book")
    assert rows["TensorFlow"] != "not installed"


def test_a_missing_package_is_said_so():
    assert build_record.package_version(("no-such-distribution-here",)) is None
    assert build_record.package_version(("no-such-distribution-here", "numpy")) == \
        metadata.version("numpy")


def test_the_status_page_uses_the_directive():
    page = Path(__file__).resolve().parents[1] / "book" / "execution.md"
    assert "```{build-environment}" in page.read_text()
