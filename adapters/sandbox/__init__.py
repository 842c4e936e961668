"""The OS sandbox every suite runs in (DESIGN.md §8): a runner says what to run, the sandbox
decides how it is isolated and reports which mechanism it used."""

from __future__ import annotations

import threading

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.vocabulary import SandboxMechanism

from attune_registry.adapters.sandbox.jail import Jail
from attune_registry.adapters.sandbox.mechanism import SandboxUnavailable, choose
from attune_registry.adapters.sandbox.policy import SandboxPolicy, SandboxSettingError, SuiteRefused


class Sandbox:
    """Turns a suite into its ``Jail``: the mechanism (probed once), network and limits."""

    def __init__(self, policy: SandboxPolicy | None = None) -> None:
        self.policy = policy or SandboxPolicy()
        self._chosen: tuple[SandboxMechanism, str | None] | None = None
        self._lock = threading.Lock()

    def ready(self) -> SandboxMechanism:
        """The mechanism suites will run in.

        Raises:
            SandboxUnavailable: none of the kind the settings ask for works here.
        """
        with self._lock:
            if self._chosen is None:
                self._chosen = choose(self.policy.mode)
            return self._chosen[0]

    def jail_for(self, suite: TestSuite) -> Jail:
        """Raises ``SuiteRefused`` when the suite asks for more than this server allows."""
        mechanism = self.ready()
        assert self._chosen is not None
        return Jail.create(mechanism, network=bool(suite.network),
                           limits=self.policy.limits_for(suite), bwrap=self._chosen[1],
                           shared=self.policy.shared)


__all__ = ["Jail", "Sandbox", "SandboxPolicy", "SandboxSettingError", "SandboxUnavailable",
           "SuiteRefused"]
