"""``PACKS_PATH``: the packs a suite depends on, as a folder of copies it may read.

Each run gets a fresh folder ``packs`` beside the copy of the pack it tests, in that copy's
private folder of the work area, with one entry per dependency ref holding a copy of that
dependency's release; it goes with the copy. Copies rather than links: a release is private to
the registry's user (a suite may run as a uid of its own, which could not read it), and no
suite, sandboxed or not, can change a release through its copy. The folder is as reachable as
the copy beside it under every sandbox mechanism, and it is handed to the sandbox read-only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.refs import REF_PATTERN

from attune_registry.application.ports import SuiteContext

from attune_registry.adapters.packs.tree import copy_entries
from attune_registry.adapters.packs.workspace import remove_tree

VARIABLE = "PACKS_PATH"
FOLDER = "packs"


class PacksPathError(RegistryError):
    """Raised when the folder of a suite's dependencies cannot be written."""


class PacksPathFolders:
    """Implements ``application.ports.PacksPath``."""

    @contextmanager
    def folder(self, releases: Mapping[str, str], *, beside: str) -> Iterator[SuiteContext]:
        root = Path(beside).parent / FOLDER
        for ref in releases:
            if not REF_PATTERN.fullmatch(ref):  # a name from the log: never a path
                raise ValueError(f"not a pack ref: {ref!r}")
        try:
            root.mkdir(mode=0o755)
        except OSError as exc:
            raise PacksPathError(f"Cannot prepare the dependencies' folder ({VARIABLE}) at "
                                 f"{root}: {exc.strerror or exc}") from None
        try:
            try:
                for ref, release in sorted(releases.items()):
                    copy_entries(Path(release), root / ref)
                _readable(root)
            except OSError as exc:
                raise PacksPathError(f"Cannot prepare the dependencies' folder ({VARIABLE}) "
                                     f"at {root}: {exc.strerror or exc}") from None
            yield SuiteContext(read_only=(str(root),), variables=((VARIABLE, str(root)),))
        finally:
            remove_tree(root)


def _readable(root: Path) -> None:
    """Folders searchable and files readable by every uid (copies are 0644 or 0755 already):
    a suite may run as an unprivileged uid of its own."""
    os.chmod(root, 0o755)
    for folder, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)
