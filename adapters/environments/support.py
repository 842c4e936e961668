"""What the runners need inside a pack's environment: pytest and the packages it imports.

A folder of their own, made once per set of versions, links to them where the registry has them
installed; every environment lists it in a ``.pth`` file: Python appends it to
``sys.path`` after the environment's site-packages, so a pack that pins its own pytest in its
requirements gets that one, and nothing else of the registry's packages is importable. The
unittest collector needs the standard library only; the progress plugin of the pytest
runner comes on ``PYTHONPATH`` (see ``adapters.runners.pytest_runner``).
"""

from __future__ import annotations

import hashlib
import sys
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

RUNNER_PACKAGES = ("pytest",)
"""The distributions the runners import in a suite's process; their dependencies come too."""


def runner_distributions() -> list[Distribution]:
    """``RUNNER_PACKAGES`` and what they require on this interpreter, by name."""
    found: dict[str, Distribution] = {}
    pending = list(RUNNER_PACKAGES)
    while pending:
        name = _canonical(pending.pop())
        if name in found:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional dependency this installation does without
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return [found[name] for name in sorted(found)]


def support_key(dists: list[Distribution]) -> str:
    """Names the support folder: the interpreter, and each distribution's version and place."""
    described = [sys.version, *(f"{_canonical(d.metadata['Name'])}=={d.version} "
                                f"{d.locate_file('')}" for d in dists)]
    return hashlib.sha256("\n".join(described).encode()).hexdigest()[:32]


def link_distributions(dists: list[Distribution], target: Path) -> None:
    """Link each distribution's top-level entries (its packages, modules and metadata folder)
    from ``target`` to where they are installed: cheap, and the sandbox reads the registry's
    installation anyway (read-only: ``adapters.sandbox.jail.system_read_paths``)."""
    for dist in dists:
        tops = {entry.parts[0] for entry in dist.files or []
                if entry.parts and entry.parts[0] != ".."}  # console scripts: outside
        for top in sorted(tops):
            source = Path(str(dist.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists():
                link.symlink_to(source)


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
