"""Reading YAML files a pack author controls, with limits against hostile content."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from domain.errors import ManifestError

MAX_FILE_BYTES = 1024 * 1024
MAX_ALIASES = 100
MAX_DEPTH = 64


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing alias bombs and absurd nesting before building objects."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 (PyYAML's signature)
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise ManifestError(f"more than {MAX_ALIASES} YAML aliases (refusing an alias bomb)")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ManifestError(f"nesting deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_yaml(path: Path, display_name: str, root: Path) -> Any:
    """Decode one YAML file that must be a regular file inside ``root``.

    Raises:
        ManifestError: naming ``display_name`` and the problem (size, encoding, syntax, location).
    """
    try:
        resolved = path.resolve(strict=True)
        info = resolved.stat()
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror}", source=display_name) from None
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
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not valid UTF-8 (byte offset {exc.start})",
                            source=display_name) from None
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
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
