"""The releases a worker needs beyond the one it tests: those of the packs a queued pack
depends on (``PACKS_PATH``), and those of the dependents an upgrade runs. A worker shares no
files with the host that queued the registration, which stored them in the database
(``QueueRegistration``); the first use unpacks one into the worker's own release store, where
later uses find it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from attune_registry.adapters.packs.releases import ReleaseStore
from attune_registry.adapters.packs.workspace import private_dir

if TYPE_CHECKING:
    from attune_registry.application.ports import PackSnapshot

    from attune_registry.adapters.store.release_blobs import ReleaseBlobs


@dataclass(frozen=True)
class _Unpacked:
    path: str
    content_digest: str


class WorkerReleases:
    """Implements ``application.ports.Releases``: the worker's release store, filled from the
    database on demand."""

    def __init__(self, store: ReleaseStore, blobs: ReleaseBlobs) -> None:
        self.store = store
        self.blobs = blobs

    def path_of(self, digest: str) -> str:
        return self.store.path_of(digest)

    def keep(self, snapshot: PackSnapshot) -> bool:
        return self.store.keep(snapshot)

    def restore(self, digest: str, recorded_path: str) -> str | None:
        """The local release of ``digest``, unpacked from the database (verified against the
        digest) when this worker has none yet; None if the database has none either.

        Raises: RegistryError (a blob that is unsafe or does not match its digest).
        """
        found = self.store.restore(digest, recorded_path)
        if found is not None:
            return found
        if not self.blobs.has(digest):
            return None
        with private_dir(self.store.work_dir, "dependency") as work:
            self.blobs.unpack(digest, work / "pack")
            self.store.keep(_Unpacked(str(work / "pack"), digest))
        return self.store.path_of(digest)

    def digests(self) -> list[str]:
        return self.store.digests()

    def discard(self, digest: str) -> None:
        self.store.discard(digest)
