"""``--junit-xml PATH`` of the commands that run a pack's tests: the run as JUnit XML for CI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from domain.results import TestResult

junit_option = click.option(
    "--junit-xml", "junit_xml", metavar="PATH", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the test results to PATH as JUnit XML (for CI), whether or not they "
         "pass. Nothing is written when no tests ran.")


def write_report(path: Path | None, result: TestResult | dict[str, Any] | None) -> None:
    """Write ``result`` to ``path`` when both are given."""
    if path is None or result is None:
        return
    from adapters.reports.junit_xml import write_junit

    try:
        write_junit(path, result)
    except OSError as exc:
        raise click.FileError(str(path), hint=exc.strerror or str(exc)) from None


@contextmanager
def report_rejection(path: Path | None) -> Iterator[None]:
    """Write the result a rejection carries (``TestsFailedError.result``), then let the error
    go on to be printed as usual."""
    from domain.errors import RegistryError

    try:
        yield
    except RegistryError as exc:
        result = getattr(exc, "result", None)
        if isinstance(result, dict):
            write_report(path, result)
        raise
