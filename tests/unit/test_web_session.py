"""The dashboard's session key: where it comes from, and what a sealed cookie value admits."""

from __future__ import annotations

import stat
from dataclasses import replace
from uuid import uuid4

import pytest

from attune_registry.adapters.settings import ConfigError, Settings
from attune_registry.adapters.web.session import KEY_FILE, LIFETIME_SECONDS, SessionKey, session_key


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", database_url="")


def test_the_key_file_is_made_private_on_first_use_only(settings):
    key = session_key(settings)
    assert not (settings.home / KEY_FILE).exists()  # a server nobody signs in to writes none

    sealed = key.seal(token := uuid4())

    path = settings.home / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_key(settings).open(sealed) == token  # another process reads the same key


def test_a_secret_signs_the_same_way_on_every_server(settings, tmp_path):
    secret = "s" * 40
    one = session_key(replace(settings, web_secret_setting=secret))
    other = session_key(replace(settings, home=tmp_path / "elsewhere", web_secret_setting=secret))

    assert other.open(one.seal(token := uuid4())) == token
    assert not (settings.home / KEY_FILE).exists()  # a secret needs no key file
    assert session_key(settings).open(one.seal(token)) is None  # the key file's key differs


def test_a_short_secret_is_refused_naming_the_setting(settings):
    with pytest.raises(ConfigError, match="ATTUNE_WEB_SECRET must be at least 32 characters"):
        session_key(replace(settings, web_secret_setting="short"))


def test_a_damaged_key_file_is_reported_not_replaced(settings):
    settings.home.mkdir()
    (settings.home / KEY_FILE).write_text("not hex")

    with pytest.raises(ConfigError, match="does not hold a session key; remove it"):
        session_key(settings).seal(uuid4())


def test_a_sealed_value_lasts_its_lifetime_and_no_longer():
    key, token = SessionKey(b"k" * 32), uuid4()
    sealed = key.seal(token, now=1_000_000)

    assert key.open(sealed, now=1_000_000 + LIFETIME_SECONDS - 1) == token
    assert key.open(sealed, now=1_000_000 + LIFETIME_SECONDS) is None
    longer = sealed.replace(f".{1_000_000 + LIFETIME_SECONDS}.", ".9999999999.")
    assert key.open(longer, now=1_000_000) is None  # the expiry is signed too
