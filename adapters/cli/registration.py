"""``attune registration watch ID``: follow a registration until it is decided."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING
from uuid import UUID

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import registry_session

if TYPE_CHECKING:
    from attune_registry.adapters.contract import (
        DecidedUpdate,
        RegistrationUpdate,
        RequestedUpdate,
        SuiteUpdate,
    )


@click.group()
def registration() -> None:
    """Follow registrations, such as those queued for `attune worker` processes."""


@registration.command()
@click.argument("registration_id", type=click.UUID)
@click.option("--json", "as_json", is_flag=True,
              help="Print each step as one JSON object per line (NDJSON), as the API's "
                   "event stream sends it.")
def watch(registration_id: UUID, as_json: bool) -> None:
    """Follow registration REGISTRATION_ID until it is decided: a line per suite as it is
    recorded (with the worker that ran it), then the decision. A decided registration is
    replayed at once.

    \b
    Exit status: 0 committed, 1 rejected or not found.
    """
    from attune_registry.adapters.contract import DecidedUpdate

    display = Display(as_json)
    decided: DecidedUpdate | None = None
    with registry_session(as_json) as registry:
        for update in registry.watch(registration_id):
            display.show(update)
            if isinstance(update, DecidedUpdate):
                decided = update
    sys.exit(0 if decided is not None and decided.status == "committed" else 1)


class Display:
    """What ``watch`` prints of each step: lines like a local registration's, or NDJSON."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.pack = "the pack"

    def show(self, update: RegistrationUpdate) -> None:
        from attune_registry.adapters.contract import RequestedUpdate, SuiteUpdate

        if self.as_json:
            import msgspec

            # ASCII only: a line per object, and no character a terminal would act on.
            output.line(json.dumps(msgspec.to_builtins(update), ensure_ascii=True))
        elif isinstance(update, RequestedUpdate):
            self.requested(update)
        elif isinstance(update, SuiteUpdate):
            for text in suite_lines(update):
                output.line(text)
        else:
            self.decided(update)

    def requested(self, update: RequestedUpdate) -> None:
        self.pack = f"'{update.ref}' {update.pack_version}"
        count = len(update.suites)
        suites = "tests skipped" if update.skip_tests else \
            f"{count} suite{'' if count == 1 else 's'}"
        output.line(f"Registration {update.registration_id} of pack {self.pack} "
                    f"({suites}), requested by {update.requested_by}")

    def decided(self, update: DecidedUpdate) -> None:
        if update.status == "committed":
            symbol = output.WARN if update.forced else output.OK
            forced = " although its tests did not pass (forced)" if update.forced else ""
            output.line(f"{symbol} Registration committed{forced}: pack {self.pack} became active")
        else:
            output.line(f"{output.FAIL} Registration rejected ({update.reason}): "
                        f"{update.message}")
        summary = update.summary or {}
        if "passed" in summary and "total_tests" in summary:
            output.line(f"Tests: {summary['passed']}/{summary['total_tests']} passed")
        elif update.tests_skipped:
            output.line("Tests were skipped")


def suite_lines(update: SuiteUpdate) -> list[str]:
    """The local progress's end-of-suite lines, with the worker that ran the suite."""
    from attune_registry.domain.results import SuiteResult

    from attune_registry.adapters.cli.progress import MAX_LISTED_FAILURES, suite_summary

    result = SuiteResult(name=update.name, runner_type=update.runner_type,
                         status=update.status,
                         total=update.total, passed=update.passed, failed=update.failed,
                         skipped=update.skipped, duration_ms=update.duration_ms,
                         message=update.message, test_cases=update.failures)
    lines = suite_summary(result)
    if update.worker is not None:
        lines[0] += f" (worker {update.worker.host}:{update.worker.pid})"
    unlisted = update.failed - len(update.failures)
    if len(update.failures) >= MAX_LISTED_FAILURES and unlisted > 0:
        lines.append(f"    … and {unlisted} more")
    return lines
