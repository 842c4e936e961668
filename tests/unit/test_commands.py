"""The commands front ends build: what they decide once, and the digest a user may pin."""

from __future__ import annotations

import pytest

from attune_registry.domain.origin import ArchiveOrigin

from attune_registry.application.commands import (
    InstallCommand,
    InvalidDigestError,
    RegisterCommand,
    parse_digest,
)


class TestReplacingAnActivePack:
    @pytest.mark.parametrize(("force", "replace", "replaces"), [
        (False, False, False), (False, True, True), (True, False, True), (True, True, True)])
    def test_force_implies_replace_and_nothing_else_does(self, force, replace, replaces):
        command = RegisterCommand(path="/p", force=force, replace=replace)

        assert command.replaces_active is replaces


class TestInstall:
    def test_the_registration_of_a_fetch_keeps_every_option_and_says_install(self):
        origin = ArchiveOrigin(source="/tmp/lamp.tgz", archive_sha256="a" * 64)
        install = InstallCommand(source="/tmp/lamp.tgz", force=True, skip_tests=True,
                                 requested_by="token:ci", jobs=3, expected_digest="b" * 64)

        command = install.registering("/work/fetched", origin)

        assert command == RegisterCommand(
            path="/work/fetched", trigger="install", origin=origin, force=True, replace=False,
            skip_tests=True, requested_by="token:ci", jobs=3, expected_digest="b" * 64)


class TestDigest:
    def test_the_shown_form_and_bare_hex_both_pin_the_lowercase_digest(self):
        upper = "AB" * 32

        assert parse_digest(f"sha256:{upper}") == parse_digest(f" {upper} ") == "ab" * 32

    @pytest.mark.parametrize("text", ["", "sha256:", "md5:" + "a" * 64, "a" * 63, "g" * 64])
    def test_anything_else_is_refused_with_the_form_it_wants(self, text):
        with pytest.raises(InvalidDigestError, match="expected sha256:<64 hex digits>"):
            parse_digest(text)
