"""What a pack ref looks like: one rule shared by manifests, dependencies and the adapters."""

from __future__ import annotations

import re

REF_PATTERN = re.compile(r"^[a-z][a-z0-9_-]+$")
