"""Install a pack: fetch it from its source, then register it from the managed pack store."""

from __future__ import annotations

import re

from domain.errors import RegistryError

from application.ports import InstalledPacks, PackFetcher, Progress
from application.register import RegisterPack, RegistrationOutcome

_DIGEST = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


class InvalidDigestError(RegistryError):
    def __init__(self, text: str) -> None:
        super().__init__(f"Invalid digest {text[:80]!r}: expected sha256:<64 hex digits>, as "
                         "`attune pack show` prints it")


def parse_digest(text: str) -> str:
    """``sha256:<hex>`` or bare hex, as the 64 lowercase hex digits the events record."""
    match = _DIGEST.fullmatch(text.strip())
    if match is None:
        raise InvalidDigestError(text)
    return match.group(1).lower()


class InstallPack:
    """The install use case: a registration (trigger reason ``install``) whose files come from
    a git repository, an archive or a directory, and are kept in the managed store."""

    def __init__(self, register: RegisterPack, fetcher: PackFetcher,
                 installed: InstalledPacks) -> None:
        self.register = register
        self.fetcher = fetcher
        self.installed = installed

    def __call__(
        self,
        source: str,
        *,
        ref: str | None = None,
        force: bool = False,
        replace: bool = False,
        skip_tests: bool = False,
        requested_by: str = "cli",
        progress: Progress | None = None,
        jobs: int = 1,
        expected_digest: str | None = None,
    ) -> RegistrationOutcome:
        """Fetch ``source`` (at git ``ref``), validate and test it, and activate it only if the
        tests pass (``force`` and ``replace`` as for a registration). ``expected_digest``
        (sha256 hex of the pack's content, as ``pack show`` prints it) refuses any other
        content: the same install then gives the same files wherever it runs.

        Raises:
            RegistryError: the source cannot be fetched or is refused, or the registration is
                (see ``RegisterPack``). Nothing is then left in the managed store.
        """
        with self.fetcher.fetch(source, ref) as fetched:
            return self.register(fetched.path, force=force, replace=replace,
                                 skip_tests=skip_tests, requested_by=requested_by,
                                 trigger_reason="install", progress=progress, jobs=jobs,
                                 origin=fetched.origin, install_to=self.installed,
                                 expected_digest=expected_digest)
