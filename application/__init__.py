"""Use cases on the event-sourced registry."""

from application.ports import PackLoader, PackSnapshot, PackSource, Progress, SuiteRunner
from application.register import RegisterPack, RegistrationOutcome
from application.registry import PackRegistry

__all__ = [
    "PackLoader",
    "PackRegistry",
    "PackSnapshot",
    "PackSource",
    "Progress",
    "RegisterPack",
    "RegistrationOutcome",
    "SuiteRunner",
]
