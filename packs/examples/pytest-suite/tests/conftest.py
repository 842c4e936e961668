"""Make the pack root importable when pytest is run by hand; the registry already puts it
on PYTHONPATH."""

import sys
from pathlib import Path

PACK_ROOT = str(Path(__file__).resolve().parent.parent)
if PACK_ROOT not in sys.path:
    sys.path.insert(0, PACK_ROOT)
