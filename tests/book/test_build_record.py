"""The execution status page records the build's Python, packages and cores."""

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))
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
    page = Path(__file__).resolve().parents[2] / "book" / "execution.md"
    assert "```{build-environment}" in page.read_text()


def test_the_lock_row_says_whether_the_environment_matches(tmp_path):
    numpy = metadata.version("numpy")
    lock = tmp_path / "requirements-lock.txt"
    lock.write_text(f"numpy=={numpy} \\\n    --hash=sha256:00\nno-such-dist-here==1.0\n")
    status = build_record.lock_status(lock)
    assert status.startswith("requirements-lock.txt, sha256 ")
    assert "1 of 2 pins differ: no-such-dist-here missing (lock 1.0)" in status
    lock.write_text(f"numpy=={numpy}\n")
    assert status != build_record.lock_status(lock)
    assert build_record.lock_status(lock).endswith("all 1 pinned versions installed")
    assert build_record.lock_status(tmp_path / "none.txt") == "no lock file"
