"""Version ranges of pack dependencies: which versions a range allows, and the highest of them.

The grammar is semantic_version's ``SimpleSpec`` (npm-like): ``>=1.2,<2`` (a comma means
"and"), ``^1.2`` (same major: >=1.2.0,<2.0.0; ``^0.2`` keeps the minor), ``~1.2`` (same minor:
>=1.2.0,<1.3.0), ``==1.2.3`` or ``1.2.3`` (exactly), ``1.2`` (any 1.2.x) and ``*`` (any).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from semantic_version import SimpleSpec, Version

ANY = "*"
# A range is one line in a manifest; bound it so that parsing stays trivial.
MAX_RANGE_CHARS = 200


class VersionRangeError(ValueError):
    """A range that is not in the grammar, in words a pack author can act on."""


@dataclass(frozen=True)
class VersionRange:
    """A parsed range; ``text`` is how the manifest wrote it (what events and messages show)."""

    text: str
    _spec: SimpleSpec = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Raises: VersionRangeError."""
        cleaned = text.strip()
        if not cleaned:
            raise VersionRangeError("an empty version range (use '*' for any version)")
        if len(cleaned) > MAX_RANGE_CHARS:
            raise VersionRangeError(f"a version range longer than {MAX_RANGE_CHARS} characters")
        if cleaned.startswith("=") and not cleaned.startswith("=="):
            cleaned = "=" + cleaned  # StackStorm's "ref=1.2.3" pins like "==1.2.3"
        try:
            spec = SimpleSpec(cleaned)
        except ValueError:
            raise VersionRangeError(
                f"{text!r} is not a version range (examples: '>=1.2,<2', '^1.2', '~1.2', "
                "'1.2.3', '*')") from None
        return cls(text.strip(), spec)

    def allows(self, version: str) -> bool:
        """Whether ``version`` (semantic, as manifests give it) is in the range; a version
        that is not semantic is in none."""
        try:
            return Version(version) in self._spec
        except ValueError:
            return False

    def highest(self, versions: Iterable[str]) -> str | None:
        """The highest of ``versions`` the range allows, or None."""
        allowed = [Version(v) for v in versions if self.allows(v)]
        return str(max(allowed)) if allowed else None


def newest_first(versions: Iterable[str]) -> list[str]:
    """Semantic versions from the highest down (invalid ones are left out)."""
    parsed = []
    for text in versions:
        try:
            parsed.append(Version(text))
        except ValueError:
            continue
    return [str(v) for v in sorted(parsed, reverse=True)]
