"""The EnvironmentPrepared event: the Python environment a run's suites ran with, shared in
shape by every aggregate that runs suites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate, event

ENVIRONMENT_FIELDS = ("environment_key", "python_version", "requirements",
                      "requirements_digest", "hash_checked", "packages", "built")


class EnvironmentPrepared(Aggregate.Event):
    """The pack's Python environment, ready before its suites ran. Its fields are a persisted
    contract; each aggregate subclasses it with its own pinned ``TOPIC``."""

    environment_key: str
    """Names the environment in the cache: the digest of the requirements, the interpreter,
    the wheelhouse or index, and what the runners add."""
    python_version: str
    requirements: str | None
    """The requirements file, relative to the pack; None: it has none (an empty environment)."""
    requirements_digest: str | None
    """sha256 of the requirements file's bytes."""
    hash_checked: bool
    """Whether pip ran in hash-checking mode (the file pins hashes)."""
    packages: list[dict[str, Any]]
    """What was installed: ``{name, version, hash}`` each (hash ``sha256:<hex>`` or None)."""
    built: bool
    """Built for this run; False: reused from the cache."""


def environment_prepared(event_class: type[EnvironmentPrepared]) -> Callable[..., None]:
    """The ``@event`` command method that records an environment as ``event_class``."""

    @event(event_class)
    def _prepare_environment(self: Any, *, environment_key: str, python_version: str,
                             requirements: str | None, requirements_digest: str | None,
                             hash_checked: bool, packages: list[dict[str, Any]],
                             built: bool) -> None:
        self.environment_keys = [*recorded_environments(self), environment_key]

    return _prepare_environment


def recorded_environments(aggregate: object) -> list[str]:
    """The keys of the environments recorded on ``aggregate`` so far."""
    keys: list[str] = getattr(aggregate, "environment_keys", [])
    return keys


def environment_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The event's fields of an environment's record (which may carry more)."""
    return {name: record.get(name) for name in ENVIRONMENT_FIELDS}
