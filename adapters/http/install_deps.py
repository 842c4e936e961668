"""``install_deps`` of the register and install endpoints: what the API may fetch for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from attune_registry.domain.errors import RegistryError

from attune_registry.adapters.http.roots import check_install_source, install_address_policy
from attune_registry.adapters.install.index import judged_sources
from attune_registry.adapters.install.network import address_policy


class InstallDepsNeedsWaitError(RegistryError):
    """Raised when ``install_deps`` comes with ``"wait": false`` (400)."""

    def __init__(self) -> None:
        super().__init__("install_deps waits for each dependency's tests before the pack's "
                         "own: it cannot be combined with \"wait\": false")


@contextmanager
def dependency_sources(state: Any, wait: bool) -> Iterator[None]:
    """While the block runs, every source the pack index names is judged as an install
    source given to the API (under the pack roots, or under ``ATTUNE_INSTALL_SOURCES``), and
    every download, the index's included, connects only where API installs may.

    Raises:
        InstallDepsNeedsWaitError: without ``wait``.
    """
    if not wait:
        raise InstallDepsNeedsWaitError()
    roots, allowed = state.pack_roots, state.install_sources
    with address_policy(install_address_policy(state)), \
            judged_sources(lambda source: check_install_source(source, roots, allowed)):
        yield
