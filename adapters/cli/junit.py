"""``--junit-xml PATH`` of the commands that run a pack's tests: the run as JUnit XML for CI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from attune_registry.domain.results import TestResult

    from attune_registry.adapters.contract import Registry

junit_option = click.option(
    "--junit-xml", "junit_xml", metavar="PATH", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the test results to PATH as JUnit XML (for CI), whether or not they "
         "pass. Nothing is written when no tests ran.")


def write_report(path: Path | None, result: TestResult | dict[str, Any] | None) -> None:
    """Write ``result`` to ``path`` when both are given."""
    if path is None or result is None:
        return
    from attune_registry.adapters.reports.junit_xml import junit_xml

    _write(path, junit_xml(result))


def _write(path: Path, xml: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(xml)
    except OSError as exc:
        raise click.FileError(str(path), hint=exc.strerror or str(exc)) from None


@contextmanager
def report_rejection(path: Path | None, registry: Registry | None = None) -> Iterator[None]:
    """Write the run of a registration rejected by its tests, then let the error go on to be
    printed as usual. Locally the error carries the run (``TestsFailedError.result``); from
    the API (``registry``, a ``RemoteRegistry``) it names the stored run, fetched here as the
    server's JUnit XML. A run that cannot be fetched is reported on stderr, and the command
    fails as it would without ``--junit-xml``."""
    from attune_registry.domain.errors import RegistryError

    try:
        yield
    except RegistryError as exc:
        result = getattr(exc, "result", None)
        if isinstance(result, dict):
            write_report(path, result)
        elif path is not None:
            _write_remote_run(path, exc, registry)
        raise


def _write_remote_run(path: Path, exc: Exception, registry: Registry | None) -> None:
    from attune_registry.domain.errors import RegistryError

    from attune_registry.adapters.cli import output
    from attune_registry.adapters.cli.remote import RemoteError, RemoteRegistry
    from attune_registry.adapters.settings import ConfigError

    if not isinstance(exc, RemoteError) or not isinstance(registry, RemoteRegistry):
        return
    try:
        xml = registry.rejected_run_junit(exc)
    except (RegistryError, ConfigError) as problem:
        output.note(f"{output.WARN} No JUnit XML written to {path}: {problem}")
        return
    if xml is not None:
        _write(path, xml)
