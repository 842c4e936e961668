"""Declared pack dependencies: the two upstream forms of ``dependencies:`` read into one
mapping (ref -> range text), and which of them the active packs leave unmet.

List form, one entry per dependency (the range grammar is ``domain.versions``'s):

- ``core``: any version (``*``);
- ``core=1.2.3``: exactly 1.2.3 (StackStorm's pin; stored as ``==1.2.3``);
- ``core@^1.2``: the range after ``@``;
- ``core ^1.2``: the range after whitespace;
- ``core>=1.2,<2``, ``core^1.2``, ``core~1.2``: an operator range right after the ref.

Mapping form: ``{core: "^1.2", net: "*"}``; a null range means ``*``; ``{}`` declares none.
Git URLs and other sources (which StackStorm accepts) are refused: a dependency names a pack
the registry knows by its ref.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attune_registry.domain.errors import ManifestError
from attune_registry.domain.refs import REF_PATTERN
from attune_registry.domain.text import quoted
from attune_registry.domain.versions import ANY, VersionRange, VersionRangeError

FIELD = "dependencies"
# Bounds that keep checks linear and messages short whatever a manifest declares.
MAX_DEPENDENCIES = 100
MAX_ENTRY_CHARS = 300
# A ref, then what follows it: nothing, "@range", "=version", whitespace and a range, or an
# operator that starts a range. Ref characters are none of these, so the split is unambiguous.
_ENTRY = re.compile(r"^(?P<ref>[a-z][a-z0-9_-]+)(?P<rest>.*)$", re.DOTALL)
# What only a source (URL, path, git remote) has: StackStorm accepts those as dependencies.
_SOURCE = re.compile(r"://|[/:\\]|\.git$")
_OPERATOR_START = ("<", ">", "^", "~", "!")
_HOW_TO_WRITE = ("write a pack ref with an optional version range: 'core', 'core=1.2.3', "
                 "'core@^1.2', 'core>=1.2,<2' or 'core ^1.2'")


@dataclass(frozen=True)
class Unmet:
    """A dependency the active packs do not satisfy; ``active_version`` None: not active."""

    ref: str
    wanted: str
    active_version: str | None

    def describe(self) -> str:
        """``core ^1.2 (active: 1.0.0)`` or ``net * (not active)``."""
        where = (f"active: {self.active_version}" if self.active_version is not None
                 else "not active")
        return f"{self.ref} {self.wanted} ({where})"


@dataclass(frozen=True)
class ActivePacks:
    """The active packs: each one's version and declared dependencies (ref -> range text)."""

    versions: Mapping[str, str]
    dependencies: Mapping[str, Mapping[str, str]]

    def unmet(self, dependencies: Mapping[str, str]) -> list[Unmet]:
        """``unmet_dependencies`` against these packs."""
        return unmet_dependencies(dependencies, self.versions)

    def dependents_of(self, ref: str) -> list[str]:
        """``dependents_of`` among these packs."""
        return dependents_of(ref, self.dependencies)


NOTHING_ACTIVE = ActivePacks({}, {})


def parse_dependencies(raw: object, own_ref: str | None = None) -> dict[str, str]:
    """Either upstream form of ``dependencies`` as ref -> range text, in declared order.

    Raises:
        ManifestError: naming ``dependencies[i]`` (list) or ``dependencies.REF`` (mapping).
    """
    if raw is None:
        return {}
    if not isinstance(raw, list | dict):
        raise ManifestError("expected a list (['core', 'net@^1.2']) or a mapping "
                            f"({{core: '^1.2'}}), got {_type_name(raw)}", FIELD)
    if len(raw) > MAX_DEPENDENCIES:
        raise ManifestError(f"more than {MAX_DEPENDENCIES} dependencies", FIELD)
    return _from_list(raw, own_ref) if isinstance(raw, list) else _from_mapping(raw, own_ref)


def dependencies_from_stored(raw: object) -> dict[str, str]:
    """The mapping from a stored manifest, which older events kept as a list of strings
    (accepted without checks then): entries read with the list grammar where they can be,
    any other entry kept as a ref of its own with ``*``, so replaying never fails."""
    if isinstance(raw, dict):
        return {str(ref): ANY if wanted is None else str(wanted) for ref, wanted in raw.items()}
    if not isinstance(raw, list):
        return {}
    result: dict[str, str] = {}
    for entry in raw:
        text = str(entry)
        try:
            ref, wanted = parse_entry(text)
        except (ManifestError, VersionRangeError):
            ref, wanted = text, ANY
        result.setdefault(ref, wanted)
    return result


def parse_entry(entry: str, where: str = FIELD) -> tuple[str, str]:
    """One list entry as (ref, range text).

    Raises:
        ManifestError: naming ``where``, saying what to write instead.
    """
    text = entry.strip()
    if len(text) > MAX_ENTRY_CHARS:
        raise ManifestError(f"longer than {MAX_ENTRY_CHARS} characters", where)
    if _SOURCE.search(text):
        raise ManifestError(f"{quoted(entry)} is a source, not a pack ref: register that pack "
                            f"first (or install it from a pack index); {_HOW_TO_WRITE}", where)
    match = _ENTRY.match(text)
    if match is None:
        raise ManifestError(f"{quoted(entry)} is not a pack ref; {_HOW_TO_WRITE}", where)
    ref, rest = match["ref"], match["rest"]
    if not rest:
        written = ANY
    elif rest.startswith("@"):
        written = rest[1:].strip()
    elif rest[0].isspace() or rest.startswith(("=", *_OPERATOR_START)):
        written = rest.strip()
    else:
        raise ManifestError(f"{quoted(entry)} is not a pack ref with a version range (sources "
                            f"such as git URLs are not dependencies); {_HOW_TO_WRITE}", where)
    if written.startswith("=") and not written.startswith("=="):
        pinned = written[1:].strip()  # StackStorm's exact pin, "core=1.2.3"
        if pinned[:1] in ("<", ">", "^", "~", "!", "*", "="):
            raise ManifestError(f"in {quoted(entry)}, '=' pins one version (core=1.2.3); "
                                f"write a range after '@' instead (core@^1.2)", where)
        written = "==" + pinned
    try:
        return ref, VersionRange.parse(written).text
    except VersionRangeError as exc:
        raise ManifestError(f"in {quoted(entry)}, {exc}", where) from None


def _from_list(raw: list[Any], own_ref: str | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for index, entry in enumerate(raw):
        where = f"{FIELD}[{index}]"
        if not isinstance(entry, str):
            raise ManifestError(f"expected a string such as 'core@^1.2', got {_type_name(entry)}",
                                where)
        ref, wanted = parse_entry(entry, where)
        _check_not_self(ref, own_ref, where)
        if ref in result:
            raise ManifestError(f"{quoted(ref)} is listed twice; keep one entry per pack", where)
        result[ref] = wanted
    return result


def _from_mapping(raw: dict[Any, Any], own_ref: str | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not REF_PATTERN.fullmatch(key):
            raise ManifestError(f"{quoted(str(key))} is not a valid pack ref (lowercase letter "
                                "first, then at least one of a-z, 0-9, '_' or '-')", FIELD)
        where = f"{FIELD}.{key}"
        _check_not_self(key, own_ref, where)
        if value is None:
            result[key] = ANY
            continue
        if not isinstance(value, str):
            # YAML reads 1.10 as the number 1.1: a range must be quoted to mean what it says.
            raise ManifestError(f"expected a version range as a string (quote it, e.g. "
                                f"'^1.2' or '*'), got {_type_name(value)}", where)
        try:
            result[key] = VersionRange.parse(value).text
        except VersionRangeError as exc:
            raise ManifestError(str(exc), where) from None
    return result


def _check_not_self(ref: str, own_ref: str | None, where: str) -> None:
    if ref == own_ref:
        raise ManifestError(f"the pack {quoted(ref)} cannot depend on itself", where)


def unmet_dependencies(dependencies: Mapping[str, str],
                       active: Mapping[str, str]) -> list[Unmet]:
    """The dependencies that no active pack satisfies, in declared order.

    ``active`` maps each active ref to its version. A range that does not parse (only an
    old stored manifest could hold one) is unmet whatever is active.
    """
    unmet = []
    for ref, wanted in dependencies.items():
        version = active.get(ref)
        if version is None or not allows(wanted, version):
            unmet.append(Unmet(ref, wanted, version))
    return unmet


def dependents_of(ref: str, active_dependencies: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The active refs (sorted) whose dependencies name ``ref``; ``active_dependencies`` maps
    each active ref to its dependencies (ref -> range text)."""
    return sorted(other for other, wanted in active_dependencies.items()
                  if other != ref and ref in wanted)


def dependents_broken_by(ref: str, version: str,
                         active_dependencies: Mapping[str, Mapping[str, str]]
                         ) -> list[tuple[str, str]]:
    """The active dependents of ``ref`` whose range does not allow ``version``, as
    (dependent ref, its range for ``ref``), sorted by dependent."""
    return [(dependent, active_dependencies[dependent][ref])
            for dependent in dependents_of(ref, active_dependencies)
            if not allows(active_dependencies[dependent][ref], version)]


def allows(wanted: str, version: str | None) -> bool:
    """Whether range text ``wanted`` allows ``version`` (None, not active: never)."""
    if version is None:
        return False
    try:
        return VersionRange.parse(wanted).allows(version)
    except VersionRangeError:
        return False


def _type_name(value: object) -> str:
    return {list: "a list", str: "a string", type(None): "nothing", int: "a number",
            float: "a number", bool: "a boolean", dict: "a mapping"}.get(type(value),
                                                                        type(value).__name__)
