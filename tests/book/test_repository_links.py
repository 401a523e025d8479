"""The repository buttons follow the clone (or the instructor), never a guessed address."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import repository_links as links  # noqa: E402

VARIABLE = links.ENVIRONMENT_VARIABLE


@pytest.mark.parametrize("address", [
    "https://github.com/owner/repo", "https://github.com/owner/repo.git",
    "https://github.com/owner/repo/", "git@github.com:owner/repo.git",
    "ssh://git@github.com/owner/repo.git", "https://token@github.com/owner/repo.git"])
def test_github_addresses_are_normalised_to_https(address):
    assert links.github_https(address) == "https://github.com/owner/repo"


@pytest.mark.parametrize("address", [
    "/srv/git/inverse-lessons", "https://gitlab.com/owner/repo", "https://github.com/owner",
    "https://github.com.evil.org/owner/repo", "file:///tmp/repo"])
def test_other_addresses_are_not_github(address):
    assert links.github_https(address) is None


def _clone_with_origin(tmp_path, origin):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    if origin:
        subprocess.run(["git", "remote", "add", "origin", origin], cwd=tmp_path, check=True)
    return tmp_path


def test_the_origin_remote_gives_the_address(tmp_path):
    clone = _clone_with_origin(tmp_path, "git@github.com:someone/fork.git")
    assert links.repository_address(clone, {}) == ("https://github.com/someone/fork",
                                                   "the origin remote")


def test_the_environment_comes_before_the_origin(tmp_path):
    clone = _clone_with_origin(tmp_path, "git@github.com:someone/fork.git")
    address, source = links.repository_address(
        clone, {VARIABLE: "https://github.com/teacher/course.git"})
    assert (address, source) == ("https://github.com/teacher/course", VARIABLE)


def test_a_non_github_origin_or_none_gives_no_buttons(tmp_path):
    assert links.repository_address(_clone_with_origin(tmp_path / "a", "/srv/repo"), {})[0] is None
    assert links.repository_address(_clone_with_origin(tmp_path / "b", None), {})[0] is None
    assert links.repository_address(tmp_path / "b", {})[1] == "the clone has no origin remote"


def test_a_bad_address_in_the_environment_is_an_error(tmp_path):
    with pytest.raises(ExtensionError, match=VARIABLE):
        links.repository_address(tmp_path, {VARIABLE: "https://example.org/repo"})


def test_buttons_are_set_or_removed():
    options = {"repository_url": "https://github.com/executablebooks/jupyter-book",
               "launch_buttons": {"binderhub_url": "https://mybinder.org",
                                  "colab_url": "https://colab.research.google.com"}}
    removed = links.set_buttons(dict(options), None)
    assert removed["repository_url"] == "" and not removed["use_repository_button"]
    assert not removed["use_issues_button"]
    assert removed["launch_buttons"]["binderhub_url"] == ""
    assert removed["launch_buttons"]["colab_url"] == ""
    kept = links.set_buttons(dict(options), "https://github.com/a/b")
    assert kept["repository_url"] == "https://github.com/a/b"
    assert kept["use_repository_button"] and kept["use_issues_button"]
    assert kept["launch_buttons"]["binderhub_url"] == "https://mybinder.org"


def test_no_address_is_written_in_the_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "url" not in config["repository"]
    assert "repository_links" in config["sphinx"]["local_extensions"]
