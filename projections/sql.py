"""The small differences between SQLite and PostgreSQL that the read models care about."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_NAMED_PARAM = re.compile(r"(?<![:\w]):(\w+)")


@dataclass(frozen=True)
class Dialect:
    """How one database spells table names, parameters and JSON values."""

    prefix: str
    postgres: bool
    json_param: Callable[[Any], Any]
    _cache: dict[str, str] = field(default_factory=dict, compare=False)

    def sql(self, text: str) -> str:
        """Qualify ``{t}`` table names and convert ``:name`` parameters once per statement."""
        try:
            return self._cache[text]
        except KeyError:
            converted = text.replace("{t}", self.prefix)
            if self.postgres:
                converted = _NAMED_PARAM.sub(r"%(\1)s", converted)
            self._cache[text] = converted
            return converted

    def timestamp(self, value: datetime) -> Any:
        return value if self.postgres else value.isoformat()

    def json_stored(self, value: Any) -> tuple[Any, Any]:
        """``value`` as a JSON parameter, and as reading the column back would give it (on
        PostgreSQL without the NULs ``json_param`` replaces), encoding it once."""
        if not self.postgres:
            return self.json_param(value), value
        from psycopg.types.json import Jsonb

        text = json.dumps(value)
        if "\\u0000" in text:
            text = _JSON_NUL.sub(r"\1\\ufffd", text)
            value = json.loads(text)
        return Jsonb(value, dumps=lambda _: text), value


def sqlite_dialect() -> Dialect:
    return Dialect(prefix="", postgres=False, json_param=_compact_json)


def postgres_dialect(schema: str) -> Dialect:
    from psycopg.types.json import Jsonb

    def jsonb(value: Any) -> Any:
        # PostgreSQL's jsonb refuses U+0000; events recorded before the runners replaced it
        # (test output is free text) must still project.
        return Jsonb(value, dumps=_without_nul)

    return Dialect(prefix=f'"{schema}".', postgres=True, json_param=jsonb)


# An escaped NUL in JSON text: "\u0000" after an even number of backslashes.
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _without_nul(value: Any) -> str:
    text = json.dumps(value)
    # The substring test first: almost no document holds one, and the pattern costs more.
    return _JSON_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def from_json(value: Any) -> Any:
    """Values of JSON columns: PostgreSQL decodes them already, SQLite returns text."""
    return json.loads(value) if isinstance(value, str) else value


def from_timestamp(value: Any) -> str | None:
    """Timestamp columns as ISO 8601 text: PostgreSQL gives datetimes, SQLite the text."""
    if value is None or isinstance(value, str):
        return value
    text: str = value.isoformat()
    return text


class Writer:
    """A cursor inside a projection transaction, speaking our portable SQL."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect
        # Reads on a cursor of their own: in PostgreSQL's pipeline mode a cursor's results
        # arrive when the pipeline syncs, and a write's sent earlier could stand in a read's.
        self.reader = cursor.connection.cursor() if dialect.postgres else cursor
        # What the handlers learnt earlier in this transaction, so they need not read it back
        # (each read is a round trip on PostgreSQL): ref -> pack id, which never changes once
        # given; and the rows of registrations requested in the current batch.
        self.identities: dict[str, int] = {}
        self.new_refs: set[str] = set()  # refs read and found without an id
        self.requested: dict[str, dict[str, Any]] = {}

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.cursor.execute(self.dialect.sql(sql), params or {})

    def execute_many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """One statement over many rows' parameters (prepared once)."""
        self.cursor.executemany(self.dialect.sql(sql), rows)

    def one(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        self.reader.execute(self.dialect.sql(sql), params or {})
        row = self.reader.fetchone()
        return None if row is None else dict(row)

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.reader.execute(self.dialect.sql(sql), params or {})
        return [dict(row) for row in self.reader.fetchall()]

    def json(self, value: Any) -> Any:
        return self.dialect.json_param(value)

    def json_stored(self, value: Any) -> tuple[Any, Any]:
        return self.dialect.json_stored(value)

    def timestamp(self, value: datetime) -> Any:
        return self.dialect.timestamp(value)
