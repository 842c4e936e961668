"""A component of a pack: an action, trigger, sensor, rule or workflow, as its file defines it."""

from __future__ import annotations

from typing import Any

import msgspec

from attune_registry.domain.vocabulary import ComponentKind


class Component(msgspec.Struct, frozen=True, kw_only=True):
    """One component definition. Registrations record it; the active pack lists it."""

    kind: ComponentKind
    ref: str
    label: str
    description: str
    entry_point: str | None
    definition: dict[str, Any]
    """The whole definition file, as read (YAML timestamps as ISO 8601 text)."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data
