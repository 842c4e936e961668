"""Shell completion through the real entry point, as bash, zsh and fish run it: pack refs
complete from the read models on both stores, and any problem offers nothing, silently."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE


def store_env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url}
    env.pop("ATTUNE_API_URL", None)
    return env


def complete(env: dict[str, str], line: str) -> subprocess.CompletedProcess[str]:
    """What bash's completion function asks ``attune`` for the last word of ``line`` (Click 8:
    ``COMP_WORDS`` is the line, ``COMP_CWORD`` the index of the word being completed)."""
    words = line.split(" ")
    return subprocess.run([ATTUNE], env={**env, "_ATTUNE_COMPLETE": "bash_complete",
                                         "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)},
                          capture_output=True, text=True, timeout=60)


def offered(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert (done.returncode, done.stderr) == (0, "")
    return [entry.partition(",")[2] for entry in done.stdout.splitlines() if entry]


@pytest.fixture
def registered(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """A store where cobra and core-tools are active, and other was unregistered."""
    env = store_env(settings)
    for ref in ("cobra", "core-tools", "other"):
        for args in (["pack", "init", ref, "--runner", "shell"], ["pack", "register", ref]):
            done = subprocess.run([ATTUNE, *args], env=env, cwd=tmp_path, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr
    done = subprocess.run([ATTUNE, "pack", "unregister", "other"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return env


REF_COMMANDS = ["pack show", "pack test", "pack history", "pack test-history", "pack versions",
                "pack activate", "pack flaky", "pack test-diff", "pack deps", "pack verify",
                "pack unregister", "pack rollback", "pack cancel", "activity --ref"]


def test_the_ref_arguments_complete_the_submitted_refs(registered):
    """One store for all the commands: registering its packs is the slow part."""
    answers = {command: offered(complete(registered, f"attune {command} co"))
               for command in REF_COMMANDS}
    assert answers == {command: ["cobra", "core-tools"] for command in REF_COMMANDS}


def test_every_ref_ever_submitted_is_offered(registered):
    """An unregistered ref is still a ref (its history and versions can be shown)."""
    assert offered(complete(registered, "attune pack history ")) == ["cobra", "core-tools",
                                                                      "other"]
    assert offered(complete(registered, "attune pack show x")) == []


def test_a_path_to_pack_test_completes_as_a_directory(registered):
    done = complete(registered, "attune pack test ./co")
    assert (done.returncode, done.stdout.splitlines()) == (0, ["dir,./co"])


def test_remote_mode_offers_nothing(registered):
    assert offered(complete(registered, "attune --api-url http://127.0.0.1:9 pack show co")) == []
    assert offered(complete({**registered, "ATTUNE_API_URL": "http://127.0.0.1:9"},
                            "attune pack show co")) == []


def test_no_store_offers_nothing_and_creates_nothing(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "ATTUNE_HOME": str(home), "ATTUNE_DATABASE_URL": ""}
    env.pop("ATTUNE_API_URL", None)
    assert offered(complete(env, "attune pack show co")) == []
    assert not home.exists()


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:1/attune",
                                 "postgresql://postgres@127.0.0.1:5432/no_such_database_here",
                                 "mysql://nowhere/x"])
def test_an_unusable_database_url_offers_nothing(tmp_path, url):
    env = {**os.environ, "ATTUNE_HOME": str(tmp_path / "home"), "ATTUNE_DATABASE_URL": url}
    env.pop("ATTUNE_API_URL", None)
    assert offered(complete(env, "attune pack show co")) == []


@pytest.mark.parametrize(("shell", "marker"), [
    ("bash", "complete -o nosort -F _attune_completion attune"),
    ("zsh", "#compdef attune"),
    ("fish", "complete --no-files --command attune"),
])
def test_the_shells_source_scripts_generate(tmp_path, shell, marker):
    env = {**os.environ, "ATTUNE_HOME": str(tmp_path / "home"),
           "_ATTUNE_COMPLETE": f"{shell}_source"}
    done = subprocess.run([ATTUNE], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert marker in done.stdout
    assert f"_ATTUNE_COMPLETE={shell}_complete" in done.stdout
