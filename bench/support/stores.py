"""A throwaway store for a bench: a SQLite file in a temporary directory, or a fresh
PostgreSQL database dropped afterwards."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attune_registry.adapters.settings import Settings

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def throwaway_store(store: str, postgres_url: str = POSTGRES_URL) -> Iterator[Settings]:
    """Settings of an empty ``store`` (``sqlite`` or ``postgres``) with a temporary home."""
    with tempfile.TemporaryDirectory() as home:
        if store == "sqlite":
            yield Settings(home=Path(home), database_url="")
            return
        import psycopg

        name = f"attune_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield Settings(home=Path(home),
                           database_url=postgres_url.rsplit("/", 1)[0] + f"/{name}")
        finally:
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
