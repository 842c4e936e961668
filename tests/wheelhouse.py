"""A wheelhouse made on the spot: wheels of made-up packages, for environments built without
an index (``ATTUNE_WHEELHOUSE``). A wheel is a zip archive of the package and its metadata
(PEP 427); written here byte for byte, it needs no build tool and no network."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

GREETING = "attune-greeting"
"""The made-up distribution; its module ``attune_greeting`` has ``GREETING = "hello"``."""
GREETING_VERSION = "1.0"


def write_wheel(folder: Path, name: str, version: str, module: str, source: str) -> Path:
    """Write the wheel of distribution ``name`` holding ``module.py`` into ``folder``."""
    stem = name.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    files = {
        f"{module}.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": ("Wheel-Version: 1.0\nGenerator: attune-tests\nRoot-Is-Purelib: true\n"
                          "Tag: py3-none-any\n"),
    }
    record = [f"{path},sha256={_digest(text.encode())},{len(text.encode())}"
              for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return wheel


def greeting_wheelhouse(folder: Path) -> Path:
    """A wheelhouse with ``attune-greeting`` 1.0 in it; returns the wheel."""
    return write_wheel(folder, GREETING, GREETING_VERSION, "attune_greeting",
                       'GREETING = "hello"\n')


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
