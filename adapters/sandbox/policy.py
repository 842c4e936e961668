"""What a suite may use: the server's sandbox settings and each suite's limits under them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.results import LIMIT_UNITS

from attune_registry.adapters.settings import ConfigError

MODES = ("auto", "bwrap", "namespaces", "off")
# Per process of a suite. Memory is address space (RLIMIT_AS); cpu_seconds defaults to the
# suite's timeout, so only a suite that burns more CPU than it has wall-clock time hits it.
DEFAULT_LIMITS = {"memory_mb": 1024, "processes": 256, "open_files": 1024,
                  "file_size_mb": 1024}
MAX_LIMITS = {"memory_mb": 16384, "processes": 4096, "open_files": 65536,
              "file_size_mb": 16384, "cpu_seconds": 3600}


class SandboxSettingError(ConfigError):
    """A sandbox setting that cannot be used; the message names the setting."""


class SuiteRefused(Exception):
    """The suite asks for more than this server allows; it fails without running."""


@dataclass(frozen=True)
class SandboxPolicy:
    """``ATTUNE_SANDBOX`` and its companions, checked once when the first suite runs."""

    mode: str = "auto"
    allow_network: bool = True
    defaults: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    maxima: Mapping[str, int] = field(default_factory=lambda: dict(MAX_LIMITS))
    shared: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, mode: str, network: str, defaults: str, maxima: str,
                      shared: str = "") -> SandboxPolicy:
        if mode not in MODES:
            raise SandboxSettingError(f"ATTUNE_SANDBOX must be one of {', '.join(MODES)}, "
                                      f"got {mode!r}")
        if network not in ("allow", "deny"):
            raise SandboxSettingError("ATTUNE_SANDBOX_NETWORK must be allow or deny, got "
                                      f"{network!r}")
        top = {**MAX_LIMITS, **_limits("ATTUNE_SANDBOX_MAX_LIMITS", maxima)}
        chosen = {**DEFAULT_LIMITS, **_limits("ATTUNE_SANDBOX_LIMITS", defaults)}
        for name, value in chosen.items():
            if name in top and value > top[name]:
                raise SandboxSettingError(f"ATTUNE_SANDBOX_LIMITS: {name}={value} is above the "
                                          f"maximum {top[name]} (ATTUNE_SANDBOX_MAX_LIMITS)")
        folders = tuple(p.strip() for p in shared.split(os.pathsep) if p.strip())
        for folder in folders:
            if not os.path.isabs(folder) or not os.path.isdir(folder):
                raise SandboxSettingError("ATTUNE_SANDBOX_SHARE: each entry must be the "
                                          f"absolute path of a folder, got {folder!r}")
        return cls(mode=mode, allow_network=network == "allow", defaults=chosen, maxima=top,
                   shared=folders)

    def limits_for(self, suite: TestSuite) -> dict[str, int]:
        """The suite's limits: what it asks for over the defaults, never above the maxima.

        Raises:
            SuiteRefused: the suite asks for more than a maximum, or for the network where the
                server refuses it.
        """
        if suite.network and not self.allow_network:
            raise SuiteRefused("the suite asks for network access (testing.network), which this "
                               "server refuses (ATTUNE_SANDBOX_NETWORK=deny)")
        asked = suite.limits.asked() if suite.limits else {}
        for name, value in asked.items():
            top = self.maxima.get(name)
            if top is not None and value > top:
                raise SuiteRefused(f"the suite asks for limits.{name}: {value} "
                                   f"{LIMIT_UNITS[name]}, above this server's maximum {top} "
                                   "(ATTUNE_SANDBOX_MAX_LIMITS)")
        cpu = min(suite.timeout_seconds, self.maxima.get("cpu_seconds", suite.timeout_seconds))
        return {**self.defaults, "cpu_seconds": self.defaults.get("cpu_seconds", cpu), **asked}


def _limits(setting: str, text: str) -> dict[str, int]:
    """``memory_mb=4096,processes=512`` as a mapping; every name and value checked."""
    limits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if name not in LIMIT_UNITS:
            raise SandboxSettingError(f"{setting}: unknown limit {name!r} (known: "
                                      f"{', '.join(LIMIT_UNITS)})")
        if not value.isdigit() or int(value) < 1:
            raise SandboxSettingError(f"{setting}: {name} must be a whole number above 0, "
                                      f"got {value!r}")
        limits[name] = int(value)
    return limits
