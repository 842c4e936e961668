"""Install a pack: fetch it from its source, then register what was fetched."""

from __future__ import annotations

from attune_registry.application.commands import InstallCommand
from attune_registry.application.ports import PackFetcher, Progress
from attune_registry.application.register import RegisterPack, RegistrationOutcome


class InstallPack:
    """The install use case: a registration (trigger ``install``) whose files come from a git
    repository, an archive or a directory; what was fetched is kept as its release, like every
    registration's, and the registration records the release's path as its source."""

    def __init__(self, register: RegisterPack, fetcher: PackFetcher) -> None:
        self.register = register
        self.fetcher = fetcher

    def __call__(self, command: InstallCommand,
                 progress: Progress | None = None) -> RegistrationOutcome:
        """Fetch ``command.source`` (at its git ref), validate and test it, and activate it
        only if the tests pass (as a registration does with the same options). A pinned
        digest refuses any other content: the same install then gives the same files
        wherever it runs.

        Raises:
            RegistryError: the source cannot be fetched or is refused, or the registration is
                (see ``RegisterPack``). No release is then left behind.
        """
        with self.fetcher.fetch(command.source, command.git_ref) as fetched:
            return self.register(command.registering(fetched.path, fetched.origin), progress)
