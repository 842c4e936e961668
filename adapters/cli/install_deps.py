"""``--install-deps`` of ``attune pack register`` and ``attune pack install``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from attune_registry.adapters.cli import output

if TYPE_CHECKING:
    from attune_registry.application.install_deps import InstalledDependency

F = TypeVar("F", bound=Callable[..., Any])


def install_deps_option(command: F) -> F:
    return click.option(
        "--install-deps", is_flag=True,
        help="First install the pack's missing dependencies from the pack index "
             "(ATTUNE_PACK_INDEX; the server's with --api-url): the highest version each "
             "range allows, in dependency order, each tested like an install.")(command)


def no_wait_with_install_deps() -> NoReturn:
    raise click.UsageError("--install-deps waits for each dependency's tests before the "
                           "pack's own: it cannot be combined with --no-wait")


def installed_json(installed: Sequence[InstalledDependency]) -> dict[str, Any]:
    """The API's ``installed_dependencies`` (left out when none were installed)."""
    if not installed:
        return {}
    return {"installed_dependencies": [
        {"ref": i.ref, "version": i.version, "registration_id": str(i.registration_id)}
        for i in installed]}


def report_installed(installed: Sequence[InstalledDependency]) -> None:
    if installed:
        output.line(f"{output.OK} Dependencies installed first: "
                    + ", ".join(f"{i.ref} {i.version}" for i in installed))
