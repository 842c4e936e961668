"""Reading YAML files a pack author controls, with limits against hostile content."""

from __future__ import annotations

import json
import math
import re
import stat
import sys
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from attune_registry.domain.errors import ManifestError
from attune_registry.domain.text import path_part, quoted

MAX_FILE_BYTES = 1024 * 1024
MAX_ALIASES = 100
# Values that aliases add when expanded: a few aliases nested in each other multiply.
MAX_ALIAS_EXPANSION = 100_000
MAX_DEPTH = 64
_SURROGATE = re.compile("[\\ud800-\\udfff]")


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing alias bombs and absurd nesting before building objects."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise ManifestError(
                    f"more than {MAX_ALIASES} YAML aliases (refusing an alias bomb)")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ManifestError(f"nesting deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML lets a scalar's own conversion errors through (a 5000-digit int, month 13).
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            kind = (node.tag or "").rsplit(":", 1)[-1]
            reason = (f"more than {sys.get_int_max_str_digits()} digits"
                      if "integer string conversion" in str(exc) else str(exc))
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this {kind} value: {reason}", node.start_mark) from None


def read_yaml(path: Path, display_name: str, root: Path) -> Any:
    """Decode one YAML file that must be a regular file inside ``root``.

    Mapping keys come back as strings (YAML's ``1:``, ``true:`` or ``null:`` as the text JSON
    would give them), so that what a pack declares can always be stored as it was read.

    Raises:
        ManifestError: naming ``display_name`` and the problem (size, encoding, syntax, location,
            or a value no store can hold).
    """
    text = _read_text(path, display_name, root)
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
        data = loader.construct_document(node) if node is not None else None
    except ManifestError as exc:
        raise ManifestError(exc.problem, source=display_name) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError(f"not valid YAML{where}: {exc.problem}", source=display_name) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"not valid YAML: {exc}", source=display_name) from None
    except RecursionError:
        raise ManifestError("nests too deeply", source=display_name) from None
    finally:
        loader.dispose()
    try:
        return _storable(data, "")
    except _ValueProblem as exc:
        raise ManifestError(exc.problem, exc.field or None, source=display_name) from None


def _read_text(path: Path, display_name: str, root: Path) -> str:
    try:
        resolved = path.resolve(strict=True)
        info = resolved.stat()
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror}", source=display_name) from None
    except RuntimeError:  # Python 3.11 reports a symlink loop this way
        raise ManifestError("cannot be read: a symbolic link loop", source=display_name) from None
    if not resolved.is_relative_to(root):
        raise ManifestError("a link to a file outside the pack", source=display_name)
    if not stat.S_ISREG(info.st_mode):
        raise ManifestError("not a regular file", source=display_name)
    if info.st_size > MAX_FILE_BYTES:
        raise ManifestError(f"{info.st_size} bytes, over the limit of {MAX_FILE_BYTES}",
                            source=display_name)
    with open(resolved, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ManifestError(f"larger than {MAX_FILE_BYTES} bytes", source=display_name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not valid UTF-8 (byte offset {exc.start})",
                            source=display_name) from None


def _check_expansion(root_node: yaml.Node) -> None:
    """Refuse documents whose aliases expand to a huge tree (or to an endless one).

    Few aliases can still blow up: ``a1: [*a0, *a0]``, ``a2: [*a1, *a1]``, ... doubles at each
    step. Sizes are counted on the node graph, where an alias is a shared node, so counting
    costs one visit per distinct node.
    """
    sizes: dict[int, int] = {}
    unfinished: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in unfinished:
            raise ManifestError("a YAML alias refers to a value that contains it "
                                "(a recursive structure)")
        unfinished.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        sizes[id(node)] = 1 + sum(size(child) for child in children)
        unfinished.discard(id(node))
        return sizes[id(node)]

    if size(root_node) - len(sizes) > MAX_ALIAS_EXPANSION:
        raise ManifestError(f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION} values "
                            "(refusing an alias bomb)")


class _ValueProblem(Exception):
    def __init__(self, problem: str, field: str) -> None:
        super().__init__(problem)
        self.problem, self.field = problem, field


def _storable(value: Any, field: str) -> Any:
    """``value`` with string keys, after checking that every string and number in it can be
    stored: PostgreSQL cannot hold a NUL character, JSON has no NaN or infinity, and no
    encoder accepts an unpaired surrogate."""
    if isinstance(value, str):
        _check_text(value, field, "")
    elif isinstance(value, float) and not math.isfinite(value):
        raise _ValueProblem(f"must be a finite number, got {value}", field)
    elif isinstance(value, list):
        return [_storable(item, f"{field}[{index}]") for index, item in enumerate(value)]
    elif isinstance(value, dict):
        mapping: dict[str, Any] = {}
        for key, item in value.items():
            name = _key_text(key, field)
            if name in mapping:
                raise _ValueProblem(f"duplicate key {quoted(name)}", field)
            where = f"{field}.{path_part(name)}" if field else path_part(name)
            mapping[name] = _storable(item, where)
        return mapping
    return value


def _key_text(key: Any, field: str) -> str:
    if isinstance(key, str):
        _check_text(key, field, "a key ")
        return key
    if isinstance(key, float) and not math.isfinite(key):
        raise _ValueProblem(f"a key must be a finite number, got {key}", field)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    if isinstance(key, date):
        return key.isoformat()
    raise _ValueProblem(f"a key cannot be {type(key).__name__}", field)


def _check_text(text: str, field: str, what: str) -> None:
    if "\0" in text:
        raise _ValueProblem(f"{what}contains a NUL character, which cannot be stored", field)
    if _SURROGATE.search(text):
        raise _ValueProblem(f"{what}contains an unpaired surrogate, which is not valid Unicode",
                            field)
