"""What the project's own modules import, read from their source: for tests of its layering."""

from __future__ import annotations

import ast
from pathlib import Path

WEBCLIENT = Path(__file__).resolve().parent.parent / "webclient"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, and each `from module import name` as `module.name`."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules
