"""Opt-in result reuse: a registration may stand on a passing run of the same content in the
same environment instead of running its suites again (``--reuse``, ``testing.reuse``).

The content digest covers every file of the pack; the fingerprint covers what the registry
knows of the environment, the packs ``PACKS_PATH`` shows included (see
``SuiteRunner.fingerprint``). Neither covers what the suites reach outside them (the network,
the clock): that is why reuse is asked for, never assumed.
"""

from __future__ import annotations

from attune_registry.domain.manifest import TestingConfig

from attune_registry.application.commands import RegistrationOptions
from attune_registry.application.ports import ReusableRun, ReusableRuns, SuiteContext, SuiteRunner


def wanted(command: RegistrationOptions, testing: TestingConfig) -> bool:
    """Whether this registration asks for reuse: by its command or by its pack."""
    return command.reuse or testing.reuse


class RunReuse:
    """Finds the run a registration may reuse, for a runner and a record of past runs."""

    def __init__(self, runs: ReusableRuns, runner: SuiteRunner) -> None:
        self.runs = runs
        self.runner = runner

    def find(self, ref: str, digest: str, testing: TestingConfig,
             context: SuiteContext) -> ReusableRun | None:
        """The newest passing run of ``ref`` on content ``digest`` whose suites are the
        declared ones and ran where these would (``context``: the pack's environment)."""
        fingerprint = self.runner.fingerprint(context)
        return self.runs.find(ref, digest, fingerprint,
                              [suite.name for suite in testing.test_suites])
