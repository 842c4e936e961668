"""The layer rule of DESIGN.md, read from the imports of every module (at any depth, lazy
imports inside functions and ``TYPE_CHECKING`` blocks included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "attune_registry"
LAYERS = ("domain", "application", "projections", "adapters")
# What each inner layer may import of ours (itself always).
ALLOWED = {
    "domain": set(),
    "application": {"domain"},
    "projections": {"domain"},
}


def imported_layers(path: Path) -> set[tuple[str, int]]:
    """(our layer, line) of every import of ours in the module at ``path``. An import of a layer
    by its bare name (``domain`` rather than ``attune_registry.domain``) counts as the layer
    ``bare <name>``, which no module may import: installed, that name is someone else's."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == PACKAGE and len(parts) > 1 and parts[1] in LAYERS:
                found.add((parts[1], node.lineno))
            elif parts[0] in LAYERS:
                found.add((f"bare {parts[0]}", node.lineno))
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
    module.write_text("def f():\n    if True:\n        from attune_registry.adapters.cli import main\n")

    assert imported_layers(module) == {("adapters", 3)}


def test_no_module_of_ours_imports_a_layer_by_its_bare_name():
    """Installed, the layers are ``attune_registry.<layer>``: a bare ``import domain`` would
    find another distribution's package, or nothing."""
    sources = [path for root in (*LAYERS, "tests", "bench")
               for path in sorted((REPO / root).rglob("*.py"))]
    bare = [f"{path.relative_to(REPO)}:{line} imports {imported}"
            for path in sources
            for imported, line in sorted(imported_layers(path)) if imported.startswith("bare ")]

    assert len(sources) > 300
    assert bare == []


def test_the_check_sees_a_bare_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import domain.pack\nfrom projections import x\n")

    assert imported_layers(module) == {("bare domain", 1), ("bare projections", 2)}
