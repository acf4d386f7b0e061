"""Layers point one way: composer -> policies -> registry. The registry never imports the web layer."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_REGISTRY = ("litestar", "composer", "uvicorn", "click")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_registry_never_imports_the_web_layer() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "registry").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in (*FORBIDDEN_IN_REGISTRY, "policies")
    }
    assert offenders == set()


def test_the_policies_depend_only_on_the_registry() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "policies").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN_IN_REGISTRY
    }
    assert offenders == set()


@pytest.mark.parametrize(
    "package", ["registry", "policies", "composer", "composer.api", "composer.cli", "composer.mcp"]
)
def test_public_names_are_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(module, name), name
