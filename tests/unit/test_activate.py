"""Choosing the release to activate (``application.activate``): pure rules, no store."""

from __future__ import annotations

import pytest

from attune_registry.domain.errors import (
    AmbiguousDigestError,
    InvalidReleaseError,
    ReleaseNotFoundError,
)

from attune_registry.application.activate import (
    CommittedRelease,
    ReleaseWanted,
    choose,
    parse_release,
)

A, B, C = "a" * 64, "ab" * 32, "c" * 64
# Newest commit first, as the read models give them: 1.0.0 was committed with two contents.
COMMITTED = [CommittedRelease("r4", "1.0.0", B, "/src/v1b"),
             CommittedRelease("r3", "10.0.0", C, "/src/v10"),
             CommittedRelease("r2", "1.0.0", A, "/src/v1"),
             CommittedRelease("r1", "2.0.0-rc.1", C, "/src/v2")]


@pytest.mark.parametrize(("text", "wanted"), [
    ("1.2.3", ReleaseWanted(version="1.2.3")),
    ("1.0.0-rc.1+build.5", ReleaseWanted(version="1.0.0-rc.1+build.5")),
    (f"sha256:{A}", ReleaseWanted(digest=A)),
    ("ABCDEF012345", ReleaseWanted(digest="abcdef012345")),
    (" sha256:0123456789ab ", ReleaseWanted(digest="0123456789ab")),
])
def test_a_version_or_a_digest_is_recognised(text, wanted):
    assert parse_release(text) == wanted


@pytest.mark.parametrize("text", ["latest", "v1.0.0", "1.0", "sha256:0123456789a",
                                  "0123456789a", "g" * 64, "a" * 65, ""])
def test_anything_else_is_refused_naming_it(text):
    with pytest.raises(InvalidReleaseError, match="Invalid release"):
        parse_release(text)


def test_a_version_picks_its_newest_content_and_names_the_others():
    chosen = choose("web", ReleaseWanted(version="1.0.0"), COMMITTED)
    assert (chosen.release.registration_id, chosen.other_digests) == ("r4", (A,))


def test_a_digest_prefix_picks_the_newest_registration_of_that_content():
    chosen = choose("web", ReleaseWanted(digest="c" * 12), COMMITTED)
    assert (chosen.release.registration_id, chosen.other_digests) == ("r3", ())


def test_a_prefix_of_several_contents_is_ambiguous():
    with pytest.raises(AmbiguousDigestError) as refused:
        choose("web", ReleaseWanted(digest="a" * 12), [*COMMITTED,
                                                      CommittedRelease("r0", "0.1.0", "a" * 12
                                                                       + "b" * 52, "/x")])
    assert str(refused.value) == (
        f"Digest sha256:{'a' * 12} matches several releases of pack 'web': sha256:{A}, "
        f"sha256:{'a' * 12}{'b' * 52}; give more of its digits")


def test_nothing_found_lists_the_committed_versions_in_version_order():
    with pytest.raises(ReleaseNotFoundError) as refused:
        choose("web", ReleaseWanted(version="3.0.0"), COMMITTED)
    assert str(refused.value) == ("Pack 'web' has no committed release 3.0.0 (committed: "
                                  "1.0.0, 2.0.0-rc.1, 10.0.0)")
    assert refused.value.code == "RELEASE_NOT_FOUND"
    with pytest.raises(ReleaseNotFoundError, match=r"release 3\.0\.0 \(committed: none\)"):
        choose("web", ReleaseWanted(version="3.0.0"), [])
