"""A suite's fingerprint: a digest of the environment it runs in, beyond the pack's content.

Two runs of the same content digest with the same fingerprint had the same inputs, as far as
the registry can tell: a case that passed in one and failed in the other is flaky, and a
passing run may stand for a new registration of that content (``--reuse``).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from attune_registry.domain.vocabulary import SandboxMechanism

from attune_registry.application.ports import NO_CONTEXT, SuiteContext

# Bump when what goes into a fingerprint changes: older fingerprints then match nothing.
FINGERPRINT_LAYOUT = 1


def fingerprint(mechanism: SandboxMechanism, context: SuiteContext = NO_CONTEXT) -> str:
    """The interpreter, the pack's Python environment (its key: requirements, interpreter,
    index) or the registry's own runner packages, the registry's version (its runners), the
    platform, the sandbox ``mechanism`` and the content of the packs ``PACKS_PATH`` shows, as
    64 hex digits."""
    identity = {"layout": FINGERPRINT_LAYOUT, "python": sys.version,
                "platform": f"{sys.platform}-{platform.machine()}",
                "environment": context.environment_key, "registry": _distribution_version(),
                "pytest": None if context.environment_key else _pytest_version(),
                "sandbox": mechanism, "packs": [list(pair) for pair in context.dependencies]}
    encoded = json.dumps(identity, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()


@cache
def _distribution_version() -> str:
    try:
        return version("attune-registry")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


@cache
def _pytest_version() -> str | None:
    """The pytest of the registry's environment, which suites without an environment of
    their own run with."""
    try:
        return version("pytest")
    except PackageNotFoundError:
        return None
