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
    return _JSON_NUL.sub(r"\1\\ufffd", json.dumps(value))


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

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.cursor.execute(self.dialect.sql(sql), params or {})

    def execute_many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """One statement over many rows' parameters (prepared once)."""
        self.cursor.executemany(self.dialect.sql(sql), rows)

    def one(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        self.execute(sql, params)
        row = self.cursor.fetchone()
        return None if row is None else dict(row)

    def json(self, value: Any) -> Any:
        return self.dialect.json_param(value)

    def timestamp(self, value: datetime) -> Any:
        return self.dialect.timestamp(value)
