"""The layer rule of DESIGN.md, read from the imports of every module (at any depth, lazy
imports inside functions and ``TYPE_CHECKING`` blocks included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "application", "projections", "adapters")
# What each inner layer may import of ours (itself always).
ALLOWED = {
    "domain": set(),
    "application": {"domain"},
    "projections": {"domain"},
}


def imported_layers(path: Path) -> set[tuple[str, int]]:
    """(our top-level package, line) of every import in the module at ``path``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {(name.split(".")[0], node.lineno) for name in names
                  if name.split(".")[0] in LAYERS}
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_inner_layer_imports_only_what_it_may(layer):
    broken = [f"{path.relative_to(REPO)}:{line} imports {imported}"
              for path in sorted((REPO / layer).rglob("*.py"))
              for imported, line in sorted(imported_layers(path))
              if imported != layer and imported not in ALLOWED[layer]]

    assert broken == []


def test_the_check_sees_a_lazy_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    if True:\n        from adapters.cli import main\n")

    assert imported_layers(module) == {("adapters", 3)}
