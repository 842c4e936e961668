"""The commands front ends send: built once at the edge, then passed unchanged to the use cases."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from uuid import UUID

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.origin import Origin
from attune_registry.domain.vocabulary import TriggerReason

_DIGEST = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


@dataclass(frozen=True, kw_only=True)
class RegistrationOptions:
    """How a registration treats an active pack of the same ref and the pack's tests."""

    force: bool = False
    """Replace an active pack of the same ref and commit whatever the tests say (the spec's
    ``force``)."""
    replace: bool = False
    """Replace an active pack of the same ref, only if the tests pass (an upgrade)."""
    skip_tests: bool = False
    skip_dependents: bool = False
    """Replace an active pack without running its active dependents' suites against the new
    version first (recorded in the registration)."""
    reuse: bool = False
    """Reuse a passing run of the same content in the same environment, if there is one,
    instead of running the suites (recorded as ``TestsReused``); the pack's
    ``testing.reuse`` asks the same for every registration of it."""
    install_deps: bool = False
    """Before the pack, install its missing dependencies from the pack index (each a normal
    install, tested); see ``application.install_deps``."""
    requested_by: str = "cli"
    """Who asks, as the events record it (``cli:<user>``, ``token:<name>``)."""
    jobs: int | None = None
    """How many suites may run at once; None: the configured default."""
    expected_digest: str | None = None
    """The sha256 (64 hex digits) the pack's content must have, or nothing is recorded."""

    @property
    def replaces_active(self) -> bool:
        """Whether an active pack of the same ref may be replaced: ``force`` implies it."""
        return self.force or self.replace


@dataclass(frozen=True, kw_only=True)
class RegisterCommand(RegistrationOptions):
    """Register the pack directory at ``path``."""

    path: str
    """A pack directory: the user's, or the private copy an install fetched."""
    trigger: TriggerReason = "register"
    origin: Origin | None = None
    """Where an installed pack's files came from; None for a registered directory."""


@dataclass(frozen=True, kw_only=True)
class InstallCommand(RegistrationOptions):
    """Fetch a pack from ``source`` into the managed store, then register it."""

    source: str
    """A git repository, an archive (path or https URL) or a pack directory."""
    git_ref: str | None = None
    """A tag, branch or commit of a git source; None for the remote's HEAD."""

    def registering(self, path: str, origin: Origin) -> RegisterCommand:
        """The registration of what this install fetched to ``path``."""
        options = {field.name: getattr(self, field.name) for field in fields(RegistrationOptions)}
        return RegisterCommand(path=path, trigger="install", origin=origin, **options)


@dataclass(frozen=True)
class Queued:
    """What a queued registration answers at once: its suites wait for workers."""

    registration_id: UUID
    pack_ref: str
    pack_version: str
    suites: int


class InvalidDigestError(RegistryError):
    """Raised when a digest to pin is not ``sha256:`` and 64 hex digits."""

    def __init__(self, text: str) -> None:
        super().__init__(f"Invalid digest {text[:80]!r}: expected sha256:<64 hex digits>, as "
                         "`attune pack show` prints it")


def parse_digest(text: str) -> str:
    """``sha256:<hex>`` or bare hex, as the 64 lowercase hex digits the events record."""
    match = _DIGEST.fullmatch(text.strip())
    if match is None:
        raise InvalidDigestError(text)
    return match.group(1).lower()
