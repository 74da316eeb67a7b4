"""Import boundaries between the layers (docs: the architecture guide's "Growing it")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# (package or module prefix, prefixes it must never import)
FORBIDDEN = [
    ("db", ("ml", "handlers", "scheduler", "bot.cli", "bot.app", "telegram")),
    ("ml", ("handlers", "scheduler", "bot.cli", "bot.app", "telegram")),
    ("scheduler", ("handlers", "bot.cli", "bot.app", "telegram")),
    ("handlers", ("scheduler", "bot.cli")),
    ("bot", ("scheduler",)),
]
# The command line calls everything; it alone may import the jobs.
ALLOWED = ("bot.cli",)


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a source file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(("layer", "forbidden"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_layer_imports(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = []
    for path in sorted((REPO / layer).rglob("*.py")):
        module = module_name(path)
        if any(under(module, allowed) for allowed in ALLOWED):
            continue
        for name in imported_modules(path):
            if any(under(name, bad) for bad in forbidden):
                wrong.append(f"{module} imports {name}")
    assert wrong == []
