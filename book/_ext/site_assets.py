"""The site's scripts: served from the site itself (never a CDN), and each one once.

By default Jupyter Book loads MathJax, and on pages with widgets RequireJS and the
Jupyter widget manager, from CDNs. This Sphinx extension fetches pinned releases
of those npm packages at build time (``npm pack``, into ``_build/.npm-packs``, kept
between builds), unpacks the files the site needs into ``<html>/_vendor/``, and
points Sphinx and myst-nb at them. Nothing is committed to the repository, and
the folder is not ``_static`` (Jupyter Book would add every script found there to
every page).

It also drops repeated inline scripts from each page: two extensions that Jupyter
Book loads (sphinx-togglebutton, sphinx-thebe) register inline scripts that Sphinx
7 then writes twice, and a repeated ``const`` declaration is a console error on
every page.

And it serves the book's own style sheet, ``book/_static/book.css``, and writes the site's
root page, ``index.html``: a redirect to the book's first page (the book's root document is
not ``index``) that declares the site's icon, so that a browser opening the site's address
does not ask for ``/favicon.ico``, which the site does not have, and log the 404.

Icon fonts: the theme (pydata-sphinx-theme) serves its own Font Awesome, and the
book's scrubbable animations use plain characters instead of matplotlib's CDN
icon font (see ``inverse_lessons.figures.animation``).
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Output folder, beside ``_static`` in the built site.
VENDOR = "_vendor"

#: npm package -> (pinned version, folder under _vendor, paths inside the package to unpack).
PACKAGES = {
    "mathjax": ("3.2.2", "mathjax", ("es5",)),
    "requirejs": ("2.3.8", "requirejs", ("require.js",)),
    "@jupyter-widgets/html-manager": ("1.0.15", "html-manager", ("dist",)),
}

#: Paths relative to ``_static``, the way Sphinx and myst-nb join script paths.
MATHJAX_PATH = f"../{VENDOR}/mathjax/es5/tex-mml-chtml.js"
IPYWIDGETS_JS = {
    f"../{VENDOR}/requirejs/require.js": {},
    f"../{VENDOR}/html-manager/dist/embed-amd.js": {},
}


def tarball_name(package, version):
    """The file name ``npm pack`` gives a package: '@scope/name' becomes 'scope-name'."""
    return f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch(package, version, cache):
    """The npm tarball of ``package@version`` in the folder ``cache``, fetched if missing.

    Returns its path. Raises ExtensionError if npm is missing or the fetch fails.
    """
    cache = Path(cache)
    tarball = cache / tarball_name(package, version)
    if tarball.exists():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError(
            "site_assets: npm is needed to fetch MathJax and the widget scripts at build "
            "time (Debian: apt-get install npm)")
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "pack", f"{package}@{version}", "--pack-destination", str(cache)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 or not tarball.exists():
        raise ExtensionError(f"site_assets: npm pack {package}@{version} failed:\n"
                             f"{result.stderr.strip()}")
    return tarball


def unpack(tarball, members, destination):
    """Unpack the paths ``members`` (files or folders inside the package) into ``destination``.

    npm tarballs keep everything under 'package/'. Returns the number of files written.
    Raises ValueError if a requested path is not in the tarball.
    """
    destination = Path(destination)
    written = 0
    with tarfile.open(tarball, "r:gz") as archive:
        for wanted in members:
            found = False
            for member in archive.getmembers():
                parts = PurePosixPath(member.name).parts[1:]   # drop 'package/'
                inside = PurePosixPath(*parts) if parts else None
                if not member.isfile() or inside is None:
                    continue
                if inside == PurePosixPath(wanted) or PurePosixPath(wanted) in inside.parents:
                    found = True
                    if ".." in inside.parts:
                        raise ValueError(f"unsafe path {member.name!r} in {tarball}")
                    target = destination / inside
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.extractfile(member) as source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
                    written += 1
            if not found:
                raise ValueError(f"{wanted!r} is not in {Path(tarball).name}")
    return written


def use_local_assets(app, config):
    """Point MathJax and the widget scripts at the site's own copies."""
    config.mathjax_path = MATHJAX_PATH
    config.nb_ipywidgets_js = dict(IPYWIDGETS_JS)


def install_assets(app):
    """Fetch (once) and unpack the pinned packages into the site before pages are written."""
    if app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    cache = outdir.parent / ".npm-packs"
    for package, (version, folder, members) in PACKAGES.items():
        target = outdir / VENDOR / folder
        stamp = target / f".{version}"
        if stamp.exists():
            continue
        shutil.rmtree(target, ignore_errors=True)
        count = unpack(fetch(package, version, cache), members, target)
        stamp.touch()
        logger.info(f"site_assets: {package}@{version}: {count} files in {VENDOR}/{folder}")


def script_key(script):
    """What makes two script tags the same: source (None and '' alike) and attributes."""
    attributes = getattr(script, "attributes", {})
    source = os.fspath(getattr(script, "filename", script) or "")
    return source, tuple(sorted((key, str(value)) for key, value in attributes.items()))


def unique_scripts(scripts):
    """The scripts in order, each one once."""
    seen, unique = set(), []
    for script in scripts:
        key = script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])


def add_book_styles(app, config):
    """Serve book/_static/book.css (the book's own styles) on every page."""
    static = Path(app.confdir) / "book" / "_static"
    config.html_static_path = [*config.html_static_path, str(static)]
    app.add_css_file("book.css")


#: Runs before sphinx-external-toc's own redirect (default priority 500), which then finds
#: index.html written and leaves it.
ROOT_PAGE_PRIORITY = 400


def root_page(target, title, icon):
    """The HTML of a page that sends the browser to ``target`` at once, declaring ``icon``.

    ``icon`` is the icon's URL relative to the page, or None: an empty icon is declared
    then, which browsers take as "no icon" without fetching ``/favicon.ico``.
    """
    target, title = html.escape(target, quote=True), html.escape(title)
    icon = html.escape(icon, quote=True) if icon else "data:,"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<title>{title}</title>\n<link rel="icon" href="{icon}">\n'
            f'<meta http-equiv="Refresh" content="0; url={target}">\n</head>\n'
            f'<body><p><a href="{target}">{title}</a></p></body>\n</html>\n')


def write_root_page(app, exception):
    """Write ``index.html`` in the HTML output: a redirect to the root document, with its icon.

    Does nothing after a failed build, for other builders, or when a document is called
    ``index`` (its page is the root page then).
    """
    if exception is not None or app.builder.format != "html" or "index" in app.env.found_docs:
        return
    favicon = app.config.html_favicon
    icon = None
    if favicon:
        icon = favicon if "://" in favicon else f"_static/{Path(favicon).name}"
    title = app.config.html_title or app.config.project
    target = app.builder.get_target_uri(app.config.root_doc)
    Path(app.outdir, "index.html").write_text(root_page(target, title, icon), encoding="utf-8")


def setup(app):
    app.connect("config-inited", use_local_assets)
    app.connect("config-inited", add_book_styles)
    app.connect("builder-inited", install_assets)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    app.connect("build-finished", write_root_page, priority=ROOT_PAGE_PRIORITY)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
