"""docs/reliability.md backs each guarantee with a test: every test it names must exist."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO

DOC = REPO / "docs" / "reliability.md"
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)*)`")


def _names(path: str) -> set[str]:
    """``Class::test`` and ``test`` for every class and test function of a module."""
    tree = ast.parse((REPO / path).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            names.update(f"{node.name}::{item.name}" for item in node.body
                         if isinstance(item, ast.FunctionDef))
    return names


def test_every_test_the_page_names_exists():
    cited = NODE_ID.findall(DOC.read_text())
    assert len(cited) >= 30
    missing = [f"{path}{node}" for path, node in cited
               if not (REPO / path).is_file() or (node and node[2:] not in _names(path))]
    assert missing == []
