"""The repository, issue, Binder and Colab buttons: from the clone's own address, or none.

Nothing in the repository knows where the repository is published, and a guessed
address would send readers to the wrong place (or nowhere). At build time this
extension takes the address from, in order:

1. the environment variable ``INVERSE_LESSONS_REPOSITORY`` (an instructor's fork,
   say ``https://github.com/someone/inverse-lessons``);
2. the ``origin`` remote of the git clone being built, when it is a GitHub
   repository (``git@github.com:owner/name.git`` and the other forms are
   normalised to ``https://github.com/owner/name``).

With neither, the book is built without those four buttons and the build log says
so once. The download button does not depend on an address and always stays.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Environment variable that names the repository, ahead of the origin remote.
ENVIRONMENT_VARIABLE = "INVERSE_LESSONS_REPOSITORY"

_GITHUB = re.compile(
    r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def github_https(address):
    """``https://github.com/owner/name`` for any usual form of a GitHub address, else None."""
    match = _GITHUB.match(address.strip())
    if not match:
        return None
    return f"https://github.com/{match['owner']}/{match['name']}"


def origin_address(folder):
    """The ``origin`` remote of the git clone at ``folder``.

    None when there is no git, no clone or no origin.
    """
    try:
        result = subprocess.run(["git", "remote", "get-url", "origin"], cwd=folder,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def repository_address(folder, environ=os.environ):
    """(https address or None, where it came from): the environment first, then ``origin``.

    An address set in the environment that is not a GitHub repository is an error:
    the instructor asked for it, so it must not be dropped silently.
    """
    given = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if given:
        address = github_https(given)
        if address is None:
            raise ExtensionError(
                f"{ENVIRONMENT_VARIABLE} must be a GitHub repository address such as "
                f"https://github.com/owner/name, got {given!r}")
        return address, ENVIRONMENT_VARIABLE
    origin = origin_address(folder)
    address = github_https(origin) if origin else None
    if address:
        return address, "the origin remote"
    reason = ("the clone's origin remote is not a GitHub repository" if origin
              else "the clone has no origin remote")
    return None, reason


def set_buttons(options, address):
    """Point the theme's repository, issue and launch buttons at ``address``; None removes them."""
    launch = dict(options.get("launch_buttons", {}))
    if address is None:
        options.update(repository_url="", use_repository_button=False,
                       use_issues_button=False, use_edit_page_button=False)
        launch.update(binderhub_url="", colab_url="", jupyterhub_url="", deepnote_url="",
                      thebe=False)
    else:
        options.update(repository_url=address, use_repository_button=True,
                       use_issues_button=True)
    options["launch_buttons"] = launch
    return options


def configure_buttons(app, config):
    address, source = repository_address(Path(app.srcdir))
    set_buttons(config.html_theme_options, address)
    if address is None:
        logger.info(f"repository buttons: none ({source}; set {ENVIRONMENT_VARIABLE} "
                    "to a GitHub address to add the repository, issue, Binder and Colab "
                    "buttons)")
    else:
        logger.info(f"repository buttons: {address} (from {source})")


def setup(app):
    app.connect("config-inited", configure_buttons)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
