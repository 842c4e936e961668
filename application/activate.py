"""Activate a kept release again (``attune pack activate``): a new registration of it.

Nothing is switched behind the log's back: the release a committed registration kept is
registered again, pinned to its digest, with trigger ``activate`` and a ``ReleaseOrigin``
naming that registration. So every gate of a registration applies (declared dependencies, the
ranges and suites of active dependents, the ref's lease) and its tests run again, unless the
registration may reuse a passing run of the same content in the same environment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from attune_registry.domain.errors import (
    AmbiguousDigestError,
    InvalidReleaseError,
    ReleaseAlreadyActiveError,
    ReleaseMissingError,
    ReleaseNotFoundError,
)
from attune_registry.domain.origin import ReleaseOrigin
from attune_registry.domain.refs import SEMVER_PATTERN

from attune_registry.application.commands import RegisterCommand
from attune_registry.application.ports import Releases

MIN_DIGEST_PREFIX = 12
_DIGEST = re.compile(rf"(?:sha256:)?([0-9a-fA-F]{{{MIN_DIGEST_PREFIX},64}})")


@dataclass(frozen=True)
class ReleaseWanted:
    """What names a release: exactly one of a version or (a prefix of) a content digest."""

    version: str | None = None
    digest: str | None = None
    """Lowercase hex, at least ``MIN_DIGEST_PREFIX`` digits."""

    def __str__(self) -> str:
        return self.version if self.version is not None else f"sha256:{self.digest}"


def parse_release(text: str) -> ReleaseWanted:
    """A version (``1.2.0``) or a digest (``sha256:<hex>`` or bare hex, whole or its first 12
    digits or more). A version always has dots, a digest never: the two cannot be confused.

    Raises: InvalidReleaseError.
    """
    text = text.strip()
    if SEMVER_PATTERN.fullmatch(text):
        return ReleaseWanted(version=text)
    found = _DIGEST.fullmatch(text)
    if found is None:
        raise InvalidReleaseError(text)
    return ReleaseWanted(digest=found.group(1).lower())


@dataclass(frozen=True)
class CommittedRelease:
    """A registration that committed, as far as activating its release goes."""

    registration_id: str
    version: str
    digest: str
    source_path: str
    """Where it took its files from (for a registration from before releases, whose files
    ``Releases.restore`` may adopt)."""


@dataclass(frozen=True)
class Chosen:
    """The committed registration whose release is activated, and the other contents that
    were committed under its version (several digests for one version: the newest wins)."""

    release: CommittedRelease
    other_digests: tuple[str, ...]


def choose(ref: str, wanted: ReleaseWanted,
           committed: Sequence[CommittedRelease]) -> Chosen:
    """The newest committed registration that ``wanted`` names (``committed``: newest first).

    Raises: ReleaseNotFoundError; AmbiguousDigestError when a digest prefix names several
    contents.
    """
    if wanted.version is not None:
        matching = [c for c in committed if c.version == wanted.version]
    else:
        prefix = wanted.digest or ""
        matching = [c for c in committed if c.digest.startswith(prefix)]
        digests = sorted({c.digest for c in matching})
        if len(digests) > 1:
            raise AmbiguousDigestError(ref, f"sha256:{prefix}", digests)
    if not matching:
        versions = sorted({c.version for c in committed}, key=_version_order)
        raise ReleaseNotFoundError(ref, str(wanted), versions)
    newest = matching[0]
    others = tuple(dict.fromkeys(c.digest for c in matching if c.digest != newest.digest))
    return Chosen(newest, others)


def _version_order(version: str) -> tuple[int, ...]:
    """Major, minor, patch first (a pre-release or build sorts with its release)."""
    head = SEMVER_PATTERN.fullmatch(version)
    return tuple(int(part) for part in head.groups()[:3]) if head else (0, 0, 0)


@dataclass(frozen=True, kw_only=True)
class ActivateCommand:
    """Make the committed release of ``ref`` that ``wanted`` names active again."""

    ref: str
    wanted: ReleaseWanted
    force: bool = False
    """Activate it even if its tests fail now (recorded as forced)."""
    skip_dependents: bool = False
    reuse: bool = True
    """Reuse a passing run of the same content in the same environment, if there is one."""
    requested_by: str = "cli"
    jobs: int | None = None

    def registering(self, chosen: Chosen, releases: Releases,
                    active_digest: str | None) -> RegisterCommand:
        """The registration of the chosen release, from its folder in the release store.

        Raises: ReleaseAlreadyActiveError when it is the active content;
        ReleaseMissingError when its release is gone (pruned).
        """
        release = chosen.release
        if release.digest == active_digest:
            raise ReleaseAlreadyActiveError(self.ref, release.version, release.digest)
        path = releases.restore(release.digest, release.source_path)
        if path is None:
            raise ReleaseMissingError(self.ref, release.version, release.digest)
        return RegisterCommand(
            path=path, trigger="activate", replace=True, force=self.force,
            skip_dependents=self.skip_dependents, reuse=self.reuse,
            requested_by=self.requested_by, jobs=self.jobs, expected_digest=release.digest,
            origin=ReleaseOrigin(registration_id=release.registration_id,
                                 version=release.version, digest=release.digest))
