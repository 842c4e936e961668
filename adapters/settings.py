"""Settings, read once from the environment. Nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Where the registry keeps its data and how it reaches its store."""

    home: Path
    """Data directory (``ATTUNE_HOME``; default ``$XDG_DATA_HOME/attune`` or ``~/.local/share/attune``)."""

    database_url: str
    """``ATTUNE_DATABASE_URL``: ``postgresql://…`` or ``sqlite:///path``; empty means the embedded SQLite file."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        if env.get("ATTUNE_HOME"):
            home = Path(env["ATTUNE_HOME"]).expanduser()
        else:
            data = env.get("XDG_DATA_HOME") or str(Path("~/.local/share").expanduser())
            home = Path(data) / "attune"
        return cls(home=home.absolute(), database_url=env.get("ATTUNE_DATABASE_URL", "").strip())

    @property
    def sqlite_path(self) -> Path:
        """The embedded store's file."""
        return self.home / "attune.db"
