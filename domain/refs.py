"""What a pack ref and a pack version look like: rules shared by manifests, dependencies and
the adapters (here, not in ``domain.manifest``, so that reading them costs no import of the
manifest's models and version ranges)."""

from __future__ import annotations

import re

REF_PATTERN = re.compile(r"^[a-z][a-z0-9_-]+$")
# Semantic Versioning 2.0.0, from semver.org's grammar (no leading zeros, optional pre-release
# and build).
SEMVER_PATTERN = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
