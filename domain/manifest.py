"""The pack.yaml model: typed fields, legacy aliases, and the rules a manifest must follow."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from attune_registry.domain.dependencies import dependencies_from_stored, parse_dependencies
from attune_registry.domain.errors import ManifestError, NoTestingConfigError, TestingDisabledError
from attune_registry.domain.refs import (
    REF_PATTERN as REF_PATTERN,  # re-exported: adapters import it here
)
from attune_registry.domain.refs import SEMVER_PATTERN
from attune_registry.domain.text import has_control, path_part, quoted

# Runner names a manifest may use, and the canonical runner each one means.
RUNNER_ALIASES = {
    "python_unittest": "python_unittest",
    "unittest": "python_unittest",
    "pytest": "pytest",
    "shell": "shell",
    "script": "shell",
}
ON_FAILURE_POLICIES = ("block", "warn", "ignore")
# Upstream's `runners:` dialect names runner types differently.
UPSTREAM_RUNNER_TYPES = {"unittest": "python_unittest", "pytest": "pytest", "script": "shell",
                         "python_unittest": "python_unittest", "shell": "shell"}
# Keys of upstream's testing section that describe nothing we act on. (Its `result_format` is
# read: it is the default of the runners that set none; `result_path` is checked, not read.)
UPSTREAM_IGNORED_KEYS = ("discovery",)
# How a suite's results are read. "simple": the runner's own rules (for shell scripts: TAP,
# summary lines, exit code); "json": a shell script prints one JSON report on its stdout.
RESULT_FORMATS = ("simple", "json")
MAX_TIMEOUT_SECONDS = 3600
# Bounds that keep validation and matching fast whatever a manifest declares.
MAX_SUITES = 100
MAX_PATTERNS = 100
# Reruns of a suite's failed cases: enough to tell a flaky case from a broken one, not so many
# that a broken suite keeps a registration waiting.
MAX_RETRIES = 5
MAX_PATH_CHARS = 1024
# Canonical field -> legacy field that older packs (and upstream's loader) use for it.
LEGACY_ALIASES = {
    "label": "name",
    "conf_schema": "config_schema",
    "meta": "metadata",
    "tags": "keywords",
}


# Largest value pack.yaml may give a limit: beyond any real suite (a server's maxima are lower).
MAX_LIMIT_VALUE = 1024 * 1024


class SuiteLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits a suite asks for, per process of the suite; unset ones take the server's defaults,
    and the server's maxima bound them all (the sandbox checks those)."""

    memory_mb: int | None = None
    processes: int | None = None
    open_files: int | None = None
    file_size_mb: int | None = None
    cpu_seconds: int | None = None

    def asked(self) -> dict[str, int]:
        """The limits that are set, by name."""
        return {name: value for name in self.__struct_fields__
                if (value := getattr(self, name)) is not None}


class TestSuite(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One test suite: which runner runs which files, from where, for how long, with what
    access (network) and limits."""

    __test__ = False  # not a pytest test class

    name: str
    runner: str
    working_dir: str = "."
    test_files: list[str] = msgspec.field(default_factory=lambda: ["test*.py"])
    timeout_seconds: int = 300
    network: bool | None = None
    """Whether the suite may reach the network; None: the testing section's ``network``."""
    limits: SuiteLimits | None = None
    """Overrides the testing section's ``limits``, one limit at a time."""
    result_format: str = "simple"
    """How results are read: ``simple`` (the runner's own rules) or ``json`` (shell only: the
    script's stdout is one JSON report; see docs/pack-yaml.md)."""
    retries: int = 0
    """How many times its failed cases are run again (0..MAX_RETRIES); a case that passes on
    a retry counts as passed and is reported as flaky."""


class TestingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The testing section: suites in declared order and the acceptance policy."""

    __test__ = False

    enabled: bool = True
    test_suites: list[TestSuite] = msgspec.field(default_factory=list)
    min_pass_rate: float = 1.0
    on_failure: str = "block"
    network: bool = False
    """Whether the pack's suites may reach the network (off: loopback only)."""
    limits: SuiteLimits | None = None
    requirements: str | None = None
    """The pack's pip requirements file, installed into the Python environment its suites
    run with; None: ``requirements.txt`` if the pack has one (else an empty environment)."""
    reuse: bool = False
    """Reuse a passing run of the same content in the same environment instead of running
    the suites again (as ``--reuse`` does for one registration)."""


class PackManifest(msgspec.Struct, frozen=True, kw_only=True):
    """A validated pack.yaml. Unknown top-level keys are ignored (packs carry extras)."""

    ref: str
    version: str
    label: str
    description: str
    author: str | None = None
    email: str | None = None
    system: bool = False
    enabled: bool = True
    conf_schema: dict[str, Any] = msgspec.field(default_factory=dict)
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    meta: dict[str, Any] = msgspec.field(default_factory=dict)
    tags: list[str] = msgspec.field(default_factory=list)
    runtime_deps: list[str] = msgspec.field(default_factory=list)
    dependencies: dict[str, str] = msgspec.field(default_factory=dict)
    """Pack ref -> version range text (``*``: any), from either form pack.yaml may use
    (see ``domain.dependencies``)."""
    testing: TestingConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        """The normalised manifest as plain JSON-compatible values (what events store)."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackManifest:
        """Rebuild a manifest from :meth:`to_dict` output (already validated once). Events
        recorded before ranges kept ``dependencies`` as a list of strings; it is read into the
        mapping here."""
        if "dependencies" in data and not isinstance(data["dependencies"], dict):
            data = {**data, "dependencies": dependencies_from_stored(data["dependencies"])}
        return msgspec.convert(data, type=cls)


def required_testing(manifest: PackManifest) -> TestingConfig:
    """The testing section, which running tests needs present and enabled.

    Raises:
        NoTestingConfigError, TestingDisabledError.
    """
    testing = manifest.testing
    if testing is None:
        raise NoTestingConfigError(manifest.ref)
    if not testing.enabled:
        raise TestingDisabledError(manifest.ref)
    return testing


def parse_manifest(raw: object) -> PackManifest:
    """Validate decoded pack.yaml content and return the normalised manifest.

    Raises:
        ManifestError: naming the first offending field, e.g. ``testing.test_suites[1].runner``.
    """
    if not isinstance(raw, dict):
        raise ManifestError(f"the manifest must be a mapping of fields, got {_type_name(raw)}")
    data = _apply_aliases(raw)
    if isinstance(data.get("testing"), dict) and "runners" in data["testing"]:
        data["testing"] = _from_runners_dialect(data["testing"])
    declared = data.pop("dependencies", None)
    try:
        manifest = msgspec.convert(data, type=PackManifest, strict=True)
    except msgspec.ValidationError as exc:
        field, problem = _describe_validation_error(str(exc))
        raise ManifestError(problem, field) from None
    _check_identity(manifest)
    manifest = msgspec.structs.replace(
        manifest, dependencies=parse_dependencies(declared, own_ref=manifest.ref))
    if manifest.testing is not None:
        manifest = msgspec.structs.replace(manifest, testing=_check_testing(manifest.testing))
    return manifest


def _apply_aliases(raw: dict[Any, Any]) -> dict[Any, Any]:
    data = dict(raw)
    for canonical, legacy in LEGACY_ALIASES.items():
        if legacy not in data:
            continue
        legacy_value = data.pop(legacy)
        if canonical in data and data[canonical] != legacy_value:
            raise ManifestError(
                f"'{canonical}' and its legacy alias '{legacy}' have different values; "
                "remove one or make them equal",
                canonical,
            )
        data[canonical] = legacy_value
    return data


class UpstreamRunner(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One entry of upstream's ``testing.runners`` map."""

    type: str
    entry_point: str
    timeout: int = 300
    result_format: str | None = None
    """None: the testing section's ``result_format``, else ``simple``."""
    retries: int = 0


def _from_runners_dialect(testing: dict[Any, Any]) -> dict[Any, Any]:
    """Rewrite upstream's ``runners: {name: {type, entry_point, timeout}}`` as test suites.

    The map's order is the declared order (YAML mappings keep it), so suites run in the order
    the author wrote them.
    """
    if "test_suites" in testing:
        raise ManifestError("use either test_suites or runners, not both", "testing")
    runners = testing["runners"]
    if not isinstance(runners, dict):
        raise ManifestError(f"expected object, got {_type_name(runners)}", "testing.runners")
    if not runners and testing.get("enabled", True) is not False:
        raise ManifestError("at least one runner is required when testing is enabled",
                            "testing.runners")
    default_format = _section_result_format(testing)
    suites = []
    for key, entry in runners.items():
        name = str(key)
        if not name.strip() or has_control(name):
            raise ManifestError(f"{quoted(name)} is not a usable runner name (it is empty or "
                                "has a control character)", "testing.runners")
        where = f"testing.runners.{path_part(name)}"
        try:
            runner = msgspec.convert(entry, type=UpstreamRunner, strict=True)
        except msgspec.ValidationError as exc:
            field, problem = _describe_validation_error(str(exc))
            raise ManifestError(problem, _join(where, field) if field else where) from None
        suites.append(_suite_from_runner(name, runner, where, default_format))
    _check_result_path(testing, suites)
    rest = {k: v for k, v in testing.items()
            if k not in ("runners", "result_format", "result_path", *UPSTREAM_IGNORED_KEYS)}
    return {**rest, "test_suites": suites}


def _section_result_format(testing: dict[Any, Any]) -> str:
    """The section's ``result_format``: the default of every runner that sets none."""
    value = testing.get("result_format", "simple")
    if not isinstance(value, str):
        raise ManifestError(f"expected str, got {_type_name(value)}", "testing.result_format")
    _check_result_format_name(value, "testing.result_format")
    return value


def _check_result_path(testing: dict[Any, Any], suites: list[dict[str, Any]]) -> None:
    """``result_path`` names where upstream meant to look for report files. Nothing reads such
    files: a ``json`` runner prints its report on stdout, so with one a path that would be
    silently skipped is refused instead."""
    if "result_path" not in testing:
        return
    json_runners = [s["name"] for s in suites if s["result_format"] == "json"]
    if json_runners:
        raise ManifestError(
            "is not read: a runner with result_format json prints its JSON report on its "
            f"stdout (runner {quoted(json_runners[0])}); remove result_path",
            "testing.result_path")


def _suite_from_runner(name: str, runner: UpstreamRunner, where: str,
                       default_format: str) -> dict[str, Any]:
    canonical = UPSTREAM_RUNNER_TYPES.get(runner.type)
    if canonical is None:
        known = ", ".join(sorted(UPSTREAM_RUNNER_TYPES))
        raise ManifestError(f"unknown runner type {quoted(runner.type)} (known: {known})",
                            f"{where}.type")
    if not 1 <= runner.timeout <= MAX_TIMEOUT_SECONDS:
        raise ManifestError(
            f"must be between 1 and {MAX_TIMEOUT_SECONDS} seconds, got {runner.timeout}",
            f"{where}.timeout")
    _check_pattern(runner.entry_point, f"{where}.entry_point")
    _check_retries(runner.retries, f"{where}.retries")
    result_format = default_format
    if runner.result_format is not None:
        _check_result_format_name(runner.result_format, f"{where}.result_format")
        result_format = runner.result_format
    _check_result_format_runner(result_format, canonical,
                                f"{where}.result_format" if runner.result_format is not None
                                else "testing.result_format")
    working_dir, files = ".", [runner.entry_point]
    if canonical == "python_unittest":
        # unittest discovers from a directory: split "tests/test_x.py" into dir and pattern.
        head, _, tail = runner.entry_point.rstrip("/").rpartition("/")
        if tail.endswith(".py"):
            working_dir, files = head or ".", [tail]
        else:
            working_dir, files = runner.entry_point, ["test*.py"]
    return {"name": name, "runner": canonical, "working_dir": working_dir, "test_files": files,
            "timeout_seconds": runner.timeout, "result_format": result_format,
            "retries": runner.retries}


def _check_identity(manifest: PackManifest) -> None:
    if not REF_PATTERN.fullmatch(manifest.ref):
        raise ManifestError(
            f"{quoted(manifest.ref)} is not a valid pack ref (lowercase letter first, then at "
            "least one of a-z, 0-9, '_' or '-')",
            "ref",
        )
    if not SEMVER_PATTERN.fullmatch(manifest.version):
        raise ManifestError(
            f"{quoted(manifest.version)} is not a semantic version (MAJOR.MINOR.PATCH, e.g. "
            "1.0.0)",
            "version",
        )
    if not manifest.label.strip():
        raise ManifestError("must not be empty", "label")


def _check_testing(testing: TestingConfig) -> TestingConfig:
    if not 0.0 <= testing.min_pass_rate <= 1.0:
        raise ManifestError(
            f"must be between 0.0 and 1.0, got {testing.min_pass_rate}", "testing.min_pass_rate"
        )
    if testing.on_failure not in ON_FAILURE_POLICIES:
        raise ManifestError(
            f"must be one of {', '.join(ON_FAILURE_POLICIES)}, got {quoted(testing.on_failure)}",
            "testing.on_failure",
        )
    if testing.enabled and not testing.test_suites:
        raise ManifestError("at least one suite is required when testing is enabled",
                            "testing.test_suites")
    if len(testing.test_suites) > MAX_SUITES:
        raise ManifestError(f"more than {MAX_SUITES} suites", "testing.test_suites")
    if testing.limits is not None:
        _check_limits(testing.limits, "testing.limits")
    if testing.requirements is not None:
        _check_relative_path(testing.requirements, "testing.requirements")
    seen: set[str] = set()
    suites = []
    for index, suite in enumerate(testing.test_suites):
        where = f"testing.test_suites[{index}]"
        suites.append(_inherit(testing, _check_suite(suite, where)))
        if suite.name in seen:
            raise ManifestError(f"duplicate suite name {quoted(suite.name)}", f"{where}.name")
        seen.add(suite.name)
    return msgspec.structs.replace(testing, test_suites=suites)


def _check_suite(suite: TestSuite, where: str) -> TestSuite:
    _check_name(suite.name, f"{where}.name")
    runner = RUNNER_ALIASES.get(suite.runner)
    if runner is None:
        known = ", ".join(sorted(RUNNER_ALIASES))
        raise ManifestError(f"unknown runner {quoted(suite.runner)} (known: {known})",
                            f"{where}.runner")
    if not 1 <= suite.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise ManifestError(
            f"must be between 1 and {MAX_TIMEOUT_SECONDS} seconds, got {suite.timeout_seconds}",
            f"{where}.timeout_seconds",
        )
    _check_relative_path(suite.working_dir, f"{where}.working_dir")
    if not suite.test_files:
        raise ManifestError("at least one file pattern is required", f"{where}.test_files")
    if len(suite.test_files) > MAX_PATTERNS:
        raise ManifestError(f"more than {MAX_PATTERNS} file patterns", f"{where}.test_files")
    for position, pattern in enumerate(suite.test_files):
        _check_pattern(pattern, f"{where}.test_files[{position}]")
    if suite.limits is not None:
        _check_limits(suite.limits, f"{where}.limits")
    _check_result_format_name(suite.result_format, f"{where}.result_format")
    _check_result_format_runner(suite.result_format, runner, f"{where}.result_format")
    _check_retries(suite.retries, f"{where}.retries")
    return msgspec.structs.replace(suite, runner=runner)


def _check_retries(value: int, field: str) -> None:
    if not 0 <= value <= MAX_RETRIES:
        raise ManifestError(f"must be between 0 and {MAX_RETRIES}, got {value}", field)


def _check_result_format_name(value: str, field: str) -> None:
    if value not in RESULT_FORMATS:
        raise ManifestError(f"unknown result format {quoted(value)} (known: "
                            f"{', '.join(RESULT_FORMATS)})", field)


def _check_result_format_runner(value: str, runner: str, field: str) -> None:
    # unittest and pytest report every case through their own collectors; a JSON report
    # would be a second, unread source.
    if value == "json" and runner != "shell":
        raise ManifestError(f"result format 'json' is read from shell (script) runners only, "
                            f"not {runner}", field)


def _inherit(testing: TestingConfig, suite: TestSuite) -> TestSuite:
    """The suite with the section's network choice and limits where it sets none of its own,
    so that whoever runs it reads one place."""
    network = testing.network if suite.network is None else suite.network
    asked = {**(testing.limits.asked() if testing.limits else {}),
             **(suite.limits.asked() if suite.limits else {})}
    return msgspec.structs.replace(suite, network=network,
                                   limits=SuiteLimits(**asked) if asked else None)


def _check_limits(limits: SuiteLimits, where: str) -> None:
    for name, value in limits.asked().items():
        if not 1 <= value <= MAX_LIMIT_VALUE:
            raise ManifestError(f"must be between 1 and {MAX_LIMIT_VALUE}, got {value}",
                                f"{where}.{name}")


def _check_name(name: str, field: str) -> None:
    # Names are shown on progress lines and in field paths: one line of text.
    if not name.strip():
        raise ManifestError("must not be empty", field)
    if has_control(name):
        raise ManifestError(f"{quoted(name)} contains a control character", field)


def _check_relative_path(path: str, field: str) -> None:
    # Lexical check only; the adapter also resolves symlinks against the real pack directory.
    if len(path) > MAX_PATH_CHARS:
        raise ManifestError(f"longer than {MAX_PATH_CHARS} characters", field)
    parts = path.replace("\\", "/").split("/")
    if not path.strip() or path.startswith(("/", "\\", "~")) or ".." in parts or "\0" in path:
        raise ManifestError(f"{quoted(path)} must be a relative path inside the pack", field)


def _check_pattern(pattern: str, field: str) -> None:
    _check_relative_path(pattern, field)
    if any("**" in part and part != "**" for part in pattern.split("/")):
        raise ManifestError(f"{quoted(pattern)} uses '**' inside a name; '**' must be a whole "
                            "path component (as in 'tests/**/test_*.py')", field)


_PATH_SUFFIX = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_KEY_SUFFIX = re.compile(r" - at `key` in `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")


def _describe_validation_error(message: str) -> tuple[str | None, str]:
    """Turn msgspec's message into (field path, problem) in our own words."""
    path = ""
    if match := _KEY_SUFFIX.search(message):
        got = _EXPECTED.match(message[: match.start()])
        return match["path"].lstrip(".") or None, "keys must be strings" + (
            f", got {got['got']}" if got else "")
    if match := _PATH_SUFFIX.search(message):
        path = match["path"].lstrip(".")
        message = message[: match.start()]
    if match := _MISSING.match(message):
        return _join(path, match["name"]), "required field is missing"
    if match := _UNKNOWN.match(message):
        return _join(path, match["name"]), "unknown field"
    if match := _EXPECTED.match(message):
        want = match["want"].replace(" | null", " or null")
        return path or None, f"expected {want}, got {match['got']}"
    return path or None, message


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(value: object) -> str:
    return {list: "a list", str: "a string", type(None): "nothing (empty file)", int: "a number",
            float: "a number", bool: "a boolean"}.get(type(value), type(value).__name__)
