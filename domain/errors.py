"""Errors a caller can act on, with the exact wording of the user-facing contract."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from attune_registry.domain.results import summary_line


class RegistryError(Exception):
    """Base for errors a caller can act on."""

    code = "BAD_REQUEST"
    details: list[dict[str, Any]] | None = None
    """What the error's body adds to its message, for programs (the API's ``details``)."""


class PackDirectoryNotFoundError(RegistryError):
    """Raised when the pack path does not exist or is not a directory."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Pack directory does not exist: {path}")


class ManifestNotFoundError(RegistryError):
    """Raised when the pack directory has no pack.yaml."""

    def __init__(self, path: str) -> None:
        super().__init__(f"pack.yaml not found in directory: {path}")


class ManifestError(RegistryError):
    """Raised when pack.yaml (or a component file) cannot be read or breaks its schema."""

    def __init__(self, problem: str, field: str | None = None, source: str = "pack.yaml") -> None:
        self.field = field
        self.problem = problem
        self.source = source
        where = f"{field}: " if field else ""
        super().__init__(f"Invalid {source}: {where}{problem}")


class NoTestingConfigError(RegistryError):
    """Raised when tests are requested but pack.yaml has no testing section."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"No testing configuration found in pack.yaml for pack '{ref}'")


class TestingDisabledError(RegistryError):
    """Raised when tests are requested but the testing section is disabled."""

    __test__ = False  # not a pytest test class

    def __init__(self, ref: str) -> None:
        super().__init__(f"Testing is disabled for pack '{ref}'")


class PackAlreadyExistsError(RegistryError):
    """Raised when the ref is already active and force was not given."""

    code = "CONFLICT"

    def __init__(self, ref: str) -> None:
        super().__init__(f"Pack '{ref}' already exists. Use force=true to reinstall.")


class RegistrationInProgressError(RegistryError):
    """Raised when another registration of the same ref holds the lease."""

    code = "CONFLICT"

    def __init__(self, ref: str, registration_id: object | None = None, *,
                 started: datetime | None = None, lease_expires: datetime | None = None) -> None:
        self.ref = ref
        self.registration_id = registration_id
        self.started = started
        self.lease_expires = lease_expires
        details = [str(registration_id)] if registration_id else []
        if started is not None:
            details.append(f"started {_when(started)}")
        if lease_expires is not None:
            details.append(f"lease expires {_when(lease_expires)}")
        holder = f" ({', '.join(details)})" if details else ""
        end = (f", or end it with `attune pack cancel {ref}` if its process is gone"
               if registration_id else "")
        super().__init__(
            f"Pack '{ref}' has a registration in progress{holder}; try again when it "
            f"finishes{end}")

    def with_start(self, started: datetime) -> RegistrationInProgressError:
        return RegistrationInProgressError(self.ref, self.registration_id, started=started,
                                           lease_expires=self.lease_expires)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


class TestsFailedError(RegistryError):
    """Raised when a registration is rejected because its tests did not pass."""

    __test__ = False

    def __init__(self, registration_id: object, result: dict[str, Any] | None) -> None:
        self.registration_id = registration_id
        self.result = result
        self.details = [rejection_evidence(registration_id, result)]
        super().__init__(
            "Pack registration failed: tests did not pass. Use force=true to register anyway."
        )


MAX_FAILING_CASES = 50  # in an error body; ``more_failing_cases`` counts the rest
MAX_MESSAGE_CHARS = 300
SUMMARY_FIELDS = ("total_tests", "passed", "failed", "skipped", "pass_rate")


def rejection_evidence(registration_id: object, result: dict[str, Any] | None) -> dict[str, Any]:
    """Why a registration was rejected, for its error body: the registration, the run's
    counts, and its failing cases (a suite that failed without one, such as a runner that
    crashed or timed out, counts as one case ``null`` with the suite's message)."""
    failing = failing_cases(result)
    return {"registration_id": str(registration_id),
            "summary": {name: (result or {}).get(name) for name in SUMMARY_FIELDS}
            if result is not None else None,
            "failing_cases": failing[:MAX_FAILING_CASES],
            "more_failing_cases": max(0, len(failing) - MAX_FAILING_CASES)}


def failing_cases(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every failing case of a test result document, in the order the suites are declared,
    each as ``{"suite", "case", "message"}`` with the last line of its message."""
    found: list[dict[str, Any]] = []
    for suite in (result or {}).get("test_suites") or []:
        cases = [case for case in suite.get("test_cases") or []
                 if case.get("status") in ("failed", "error")]
        for case in cases:
            found.append({"suite": suite.get("name"), "case": case.get("name"),
                          "message": _one_line(case.get("error_message"))})
        if not cases and suite.get("status") != "passed":
            found.append({"suite": suite.get("name"), "case": None,
                          "message": _one_line(suite.get("message")) or suite.get("status")})
    return found


def _one_line(text: str | None) -> str:
    """The line of ``text`` that says what failed (``summary_line``), cut to
    ``MAX_MESSAGE_CHARS``."""
    line = summary_line(text or "").strip()
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1] + "…"


class DigestMismatchError(RegistryError):
    """Raised when a pack's content is not the content the caller pinned (nothing is saved)."""

    def __init__(self, ref: str, actual: str, expected: str) -> None:
        super().__init__(f"Pack '{ref}' has content digest sha256:{actual}, not the expected "
                         f"sha256:{expected}; nothing was installed")


class PackNotFoundError(RegistryError):
    """Raised when no active pack has the given ref."""

    code = "NOT_FOUND"

    def __init__(self, ref: str) -> None:
        super().__init__(f"Pack '{ref}' not found")


class NoTestResultsError(RegistryError):
    """Raised when a known pack has no test run yet (its registrations skipped the tests)."""

    code = "NOT_FOUND"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No test results found for pack '{ref}'")


class NothingToRollBackError(RegistryError):
    """Raised when the active registration of a pack replaced no earlier one."""

    code = "CONFLICT"

    def __init__(self, ref: str) -> None:
        super().__init__(
            f"Pack '{ref}' has no earlier registration to roll back to; "
            "use unregister to remove it"
        )


class ReleaseMissingError(RegistryError):
    """Raised when a registration's release is gone and cannot be made again from its
    recorded files (a registration from before releases whose directory changed)."""

    code = "CONFLICT"

    def __init__(self, ref: str, version: str, digest: str) -> None:
        super().__init__(
            f"Pack '{ref}' {version} has no release (sha256:{digest}) and the files recorded "
            "at its registration no longer have that digest; register that content again "
            "to restore it")


class RegistrationEndedError(RegistryError):
    """Raised when a registration was ended by someone else (``pack cancel --force``) while
    its process was still testing: nothing more is recorded for it."""

    code = "CONFLICT"

    def __init__(self, registration_id: object, status: str, reason: str | None) -> None:
        how = f"{status}: {reason}" if reason else status
        super().__init__(f"Registration {registration_id} was ended ({how}) while it ran; "
                         "nothing more was recorded for it")


class NotCancellableError(RegistryError):
    """Raised when ``pack cancel`` finds nothing it may end."""

    code = "CONFLICT"


class RegistrationNotFoundError(RegistryError):
    """Raised when no registration has the given id."""

    code = "NOT_FOUND"

    def __init__(self, registration_id: object) -> None:
        super().__init__(f"Registration '{registration_id}' not found")


class TokenNotFoundError(RegistryError):
    """Raised when no API token has the given name or id."""

    code = "NOT_FOUND"

    def __init__(self, name_or_id: str) -> None:
        super().__init__(f"Token '{name_or_id}' not found")


class ConcurrentChangeError(RegistryError):
    """Raised when another command changed the same pack at the same moment (nothing saved)."""

    code = "CONFLICT"

    def __init__(self, ref: str) -> None:
        super().__init__(f"Pack '{ref}' was changed by another command at the same time; "
                         "nothing was done, try again")


class DependenciesUnmetError(RegistryError):
    """Raised, before anything is recorded, when a pack's declared dependencies are not all
    active at a version their range allows. ``unmet``: (ref, wanted range, active version or
    None) of each one, in declared order."""

    code = "DEPENDENCIES_UNMET"

    def __init__(self, ref: str, unmet: list[tuple[str, str, str | None]]) -> None:
        self.ref = ref
        self.unmet = unmet
        self.details = [{"ref": dep, "wanted": wanted, "active_version": active}
                        for dep, wanted, active in unmet]
        listed = ", ".join(
            f"{dep} {wanted} ({'active: ' + active if active else 'not active'})"
            for dep, wanted, active in unmet)
        super().__init__(f"Pack '{ref}' needs packs that are not active: {listed}. Register "
                         "them first (force does not bypass this)")


class DependentsActiveError(RegistryError):
    """Raised when unregistering or rolling back ``ref`` would leave active packs that depend
    on it unsatisfied, and force was not given. ``dependents``: (ref, its range for ``ref``)."""

    code = "DEPENDENTS_ACTIVE"

    def __init__(self, ref: str, action: str, dependents: list[tuple[str, str]],
                 version: str | None = None) -> None:
        self.ref = ref
        self.dependents = dependents
        self.details = [{"ref": dep, "wanted": wanted} for dep, wanted in dependents]
        listed = ", ".join(f"{dep} (needs {ref} {wanted})" for dep, wanted in dependents)
        what = f"{action} '{ref}'" + (f" to {version}" if version else "")
        super().__init__(f"Cannot {what}: active packs depend on it: {listed}. Use force to "
                         "do it anyway (recorded)")


class EnvironmentFailedError(RegistryError):
    """Raised when a pack's Python environment cannot be prepared: its requirements do not
    install (``output``: the end of pip's output), or the file says what pip may not do.
    Raised before any suite runs; a registration is then rejected as ``environment_failed``."""

    code = "ENVIRONMENT_FAILED"

    def __init__(self, problem: str, output: str = "", registration_id: object | None = None
                 ) -> None:
        self.problem = problem
        self.output = output
        self.registration_id = registration_id
        details: dict[str, Any] = {"output": output}
        if registration_id is not None:
            details["registration_id"] = str(registration_id)
        self.details = [details]
        tail = f"\n{output}" if output else ""
        super().__init__(f"The pack's Python environment could not be prepared: {problem}"
                         f"{tail}")

    def of_registration(self, registration_id: object) -> EnvironmentFailedError:
        """The same failure, naming the registration it rejected."""
        return EnvironmentFailedError(self.problem, self.output, registration_id)


class DependentsFailedError(TestsFailedError):
    """Raised when an upgrade is rejected because the suites of active packs that depend on it
    failed against it (the rejection is recorded first). ``failed``: (dependent ref, its test
    run's id, that run's result document) of each one; ``result`` is the first one's run.
    ``message``: the recorded one instead (a decision read back from the log)."""

    def __init__(self, registration_id: object, ref: str, version: str,
                 failed: Sequence[tuple[str, object, dict[str, Any] | None]],
                 message: str | None = None) -> None:
        super().__init__(registration_id, failed[0][2] if failed else None)
        self.failed = failed
        self.details = [{**rejection_evidence(registration_id, result), "dependent": dependent,
                         "test_run_id": str(run_id)} for dependent, run_id, result in failed]
        names = ", ".join(f"'{dependent}'" for dependent, _, _ in failed)
        self.args = (f"Pack registration failed: the tests of {names}, which depend"
                     f"{'s' if len(failed) == 1 else ''} on '{ref}', did not pass against "
                     f"{ref} {version}; the active version stays. Use force=true to register "
                     "anyway, or skip_dependents=true not to run them.",)
        if message is not None:
            self.args = (message,)


class InvalidReleaseError(RegistryError):
    """Raised when what names a release to activate is neither a version nor a digest."""

    def __init__(self, text: str) -> None:
        super().__init__(f"Invalid release {text[:80]!r}: expected a version (MAJOR.MINOR.PATCH, "
                         "e.g. 1.2.0) or a content digest (sha256:<hex>, at least 12 hex "
                         "digits), as `attune pack versions` prints them")


class ReleaseNotFoundError(RegistryError):
    """Raised when a pack has no committed release of the version or digest asked for."""

    code = "RELEASE_NOT_FOUND"

    def __init__(self, ref: str, wanted: str, committed: Sequence[str]) -> None:
        listed = ", ".join(committed) if committed else "none"
        super().__init__(f"Pack '{ref}' has no committed release {wanted} "
                         f"(committed: {listed})")


class AmbiguousDigestError(RegistryError):
    """Raised when a digest prefix matches the releases of several contents."""

    def __init__(self, ref: str, prefix: str, digests: Sequence[str]) -> None:
        listed = ", ".join(f"sha256:{digest}" for digest in digests)
        super().__init__(f"Digest {prefix} matches several releases of pack '{ref}': {listed}; "
                         "give more of its digits")


class ReleaseAlreadyActiveError(RegistryError):
    """Raised when the release asked to be activated is the active one already."""

    code = "ALREADY_ACTIVE"

    def __init__(self, ref: str, version: str, digest: str) -> None:
        super().__init__(f"Pack '{ref}' {version} (sha256:{digest}) is the active release "
                         "already; nothing was done")


class InvalidRunSelectorError(RegistryError):
    """Raised when a test run is named by something that is neither a run's id (digits) nor a
    semantic version."""

    def __init__(self, text: str) -> None:
        shown = text if len(text) <= 100 else text[:99] + "…"
        super().__init__(f"{shown!r} names no test run: give a run's id (digits: its `id` in "
                         "`pack test-history --json`) or a semantic version (e.g. 1.2.0)")


class TestRunNotFoundError(RegistryError):
    """Raised when a pack has no test run of the given id, or no finished run of a version."""

    __test__ = False
    code = "NOT_FOUND"

    def __init__(self, ref: str, run_id: int | None = None, version: str | None = None,
                 *, older_than: int | None = None) -> None:
        if run_id is not None:
            what = f"Test run {run_id} of pack '{ref}' not found"
        elif version is not None:
            what = f"Pack '{ref}' has no finished test run of version {version}"
        elif older_than is not None:
            what = f"Pack '{ref}' has no finished test run before run {older_than} to compare with"
        else:
            what = f"Pack '{ref}' has fewer than two finished test runs to compare"
        super().__init__(what)


class TestRunInProgressError(RegistryError):
    """Raised when a run still in progress is asked for as a finished one (to compare it)."""

    __test__ = False
    code = "CONFLICT"

    def __init__(self, ref: str, run_id: int) -> None:
        super().__init__(f"Test run {run_id} of pack '{ref}' is still running; compare it once "
                         "it has finished")


class ReuseNotQueuedError(RegistryError):
    """Raised when a registration whose suites would run on workers asks for ``--reuse``: the
    environment a run's fingerprint describes is a worker's, unknown where it is queued."""

    def __init__(self) -> None:
        super().__init__("--reuse (reuse=true) cannot be combined with suites run by workers "
                         "(--no-wait, wait=false, or ATTUNE_RUN_TESTS=workers): the "
                         "environment a reused run must match is the worker's. Register "
                         "without --reuse, or with the suites run here.")
