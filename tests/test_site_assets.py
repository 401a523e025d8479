"""The Sphinx extension that serves MathJax and the widget scripts from the site itself."""

import io
import sys
import tarfile
from pathlib import Path

import pytest
from sphinx.errors import ExtensionError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
import site_assets  # noqa: E402


def make_tarball(path, files):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_tarball_name_follows_npm_pack():
    assert site_assets.tarball_name("mathjax", "3.2.2") == "mathjax-3.2.2.tgz"
    assert (site_assets.tarball_name("@jupyter-widgets/html-manager", "1.0.15")
            == "jupyter-widgets-html-manager-1.0.15.tgz")


def test_unpack_takes_only_the_requested_paths(tmp_path):
    tarball = make_tarball(tmp_path / "p.tgz", {
        "es5/tex-mml-chtml.js": b"mathjax", "es5/output/font.woff": b"font",
        "es5-not-this/x.js": b"no", "README.md": b"no"})
    count = site_assets.unpack(tarball, ["es5"], tmp_path / "out")
    files = sorted(p.relative_to(tmp_path / "out").as_posix()
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert count == 2 and files == ["es5/output/font.woff", "es5/tex-mml-chtml.js"]
    assert (tmp_path / "out/es5/tex-mml-chtml.js").read_bytes() == b"mathjax"


def test_unpack_reports_a_missing_path(tmp_path):
    tarball = make_tarball(tmp_path / "p.tgz", {"require.js": b"x"})
    with pytest.raises(ValueError, match="'dist' is not in p.tgz"):
        site_assets.unpack(tarball, ["dist"], tmp_path / "out")


def test_fetch_uses_the_cache_and_needs_npm_otherwise(tmp_path, monkeypatch):
    cached = tmp_path / "mathjax-3.2.2.tgz"
    cached.write_bytes(b"")
    assert site_assets.fetch("mathjax", "3.2.2", tmp_path) == cached
    monkeypatch.setattr(site_assets.shutil, "which", lambda name: None)
    with pytest.raises(ExtensionError, match="npm is needed"):
        site_assets.fetch("requirejs", "2.3.8", tmp_path)


def test_configured_paths_point_into_the_unpacked_packages():
    def unpacked(path):     # '../_vendor/<folder>/<inside>' relative to _static
        folder, *inside = Path(path).parts[2:]
        packages = {f: m for _, (_, f, m) in site_assets.PACKAGES.items()}
        return any(Path(*inside) == Path(m) or Path(m) in Path(*inside).parents
                   for m in packages[folder])

    assert site_assets.MATHJAX_PATH.startswith(f"../{site_assets.VENDOR}/")
    assert unpacked(site_assets.MATHJAX_PATH)
    assert all(unpacked(path) for path in site_assets.IPYWIDGETS_JS)
    assert "_static" not in site_assets.VENDOR


def test_repeated_inline_scripts_are_dropped_once_each():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [_JavaScript("_static/a.js"), _JavaScript(None, body="const X = 1"),
               _JavaScript("", body="const X = 1"), _JavaScript("_static/a.js"),
               _JavaScript(None, body="const Y = 2")]
    unique = site_assets.unique_scripts(scripts)
    assert [site_assets.script_key(s) for s in unique] == [
        ("_static/a.js", ()), ("", (("body", "const X = 1"),)), ("", (("body", "const Y = 2"),))]
