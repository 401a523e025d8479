"""The Sphinx extension that serves MathJax and the widget scripts from the site itself."""

import io
import sys
import tarfile
from pathlib import Path

import pytest
from sphinx.errors import ExtensionError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))
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


def build_site(source, root_doc="book/intro", favicon="favicon.svg", scripts=()):
    """Build a two-page site the way the book is set up (sphinx-external-toc, the book's root
    document in a folder), with the extension's handlers of the written pages connected as
    ``setup`` connects them (``setup`` itself would fetch npm packages), and ``scripts``, the
    keyword arguments of ``add_js_file`` calls, added to every page."""
    from sphinx.application import Sphinx

    (source / "book").mkdir(parents=True)
    (source / "book" / "intro.md").write_text("# Intro\n")
    (source / "book" / "next.md").write_text("# Next\n")
    (source / "_toc.yml").write_text(f"format: jb-book\nroot: {root_doc}\n"
                                     "chapters:\n- file: book/next\n")
    (source / "favicon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (source / "conf.py").write_text(
        "extensions = ['myst_parser', 'sphinx_external_toc']\n"
        f"html_favicon = {favicon!r}\nhtml_title = 'A <small> book'\n")
    out = source / "_build" / "html"
    app = Sphinx(str(source), str(source), str(out), str(source / "_build" / "doctrees"),
                 "html", status=None, warning=None, freshenv=True)
    app.connect("html-page-context", site_assets.drop_repeated_scripts, priority=900)
    app.connect("build-finished", site_assets.write_root_page,
                priority=site_assets.ROOT_PAGE_PRIORITY)
    for script in scripts:
        app.add_js_file(**script)
    app.build()
    return out


def test_repeated_scripts_are_written_once_each(tmp_path):
    scripts = [{"filename": "a.js"}, {"filename": None, "body": "const X = 1"},
               {"filename": "", "body": "const X = 1"}, {"filename": "a.js"},
               {"filename": None, "body": "const Y = 2"}]
    page = (build_site(tmp_path, scripts=scripts) / "book" / "next.html").read_text()
    assert page.count('src="../_static/a.js') == 1
    assert page.count("const X = 1") == 1 and page.count("const Y = 2") == 1


def test_the_root_page_redirects_to_the_book_and_declares_its_icon(tmp_path):
    from html.parser import HTMLParser

    out = build_site(tmp_path)
    page = (out / "index.html").read_text()

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parser = Tags()
    parser.feed(page)
    icons = [a["href"] for tag, a in parser.tags if tag == "link" and "icon" in a["rel"].split()]
    refresh = [a["content"] for tag, a in parser.tags
               if tag == "meta" and a.get("http-equiv", "").lower() == "refresh"]
    assert len(icons) == 1 and (out / icons[0]).is_file(), page
    assert refresh == ["0; url=book/intro.html"] and (out / "book" / "intro.html").is_file()
    assert "<title>A &lt;small&gt; book</title>" in page and '<html lang="en">' in page


def test_without_a_configured_icon_the_root_page_declares_an_empty_one(tmp_path):
    page = (build_site(tmp_path, favicon="") / "index.html").read_text()
    assert '<link rel="icon" href="data:,">' in page
