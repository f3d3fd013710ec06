"""The package layout the README describes: subpackages that show the architecture, imports that flow one way
(cli -> api -> {render, check, verify} -> accounting -> model), modules small enough to read.

Every import statement is read with ast, including the lazy ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "derive"
# Rank of each part: a module may import its own subpackage, anything of a lower rank, and the shared leaves.
RANKS = {"model": 0, "accounting": 1, "render": 2, "check": 2, "verify": 2, "api": 3, "cli": 4}
SHARED = {"errors", "resources"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _part(module: tuple[str, ...]) -> str:
    """'model' for derive.model.steps, 'api' for derive.api, '' for the package itself."""
    return module[1] if len(module) > 1 else ""


def _dotted(path: Path) -> tuple[str, ...]:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path) -> list[tuple[str, ...]]:
    """Every derive module `path` imports, as dotted tuples (relative imports resolved)."""
    here = _dotted(path)
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + tuple(node.module.split(".")) if node.module else base
            elif node.module and node.module.split(".")[0] == "derive":
                target = tuple(node.module.split("."))
            else:
                continue
            if node.module is None:  # from . import api
                out += [target + (alias.name,) for alias in node.names]
            else:
                out.append(target)
        elif isinstance(node, ast.Import):
            out += [tuple(a.name.split(".")) for a in node.names if a.name.split(".")[0] == "derive"]
    return out


def test_the_import_reader_can_fail() -> None:
    """The reader sees cli's lazy imports of api (inside functions) and a relative upward import."""
    assert ("derive", "api") in _imports(PACKAGE / "cli" / "figures.py")
    assert ("derive", "model", "steps") in _imports(PACKAGE / "accounting" / "account.py")


def test_subpackages_and_top_level() -> None:
    subpackages = [p.parent.name for p in PACKAGE.glob("*/__init__.py")]
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(subpackages) >= 4 and {"model", "accounting", "render", "check", "verify"} <= set(subpackages)
    assert len(top) <= 8, top


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_size(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path: Path) -> None:
    here = _dotted(path)
    part = _part(here)
    for target in _imports(path):
        other = _part(target)
        what = f"{'.'.join(here)} imports {'.'.join(target)}"
        if other not in RANKS and other not in SHARED or other == part:
            continue  # the package itself (derive.__version__), or a module of the same part
        if part in SHARED:
            assert other in SHARED, what
        elif part == "cli":
            assert other in ("api", "errors"), what
        elif part in RANKS and other in RANKS and other != part:
            assert RANKS[other] < RANKS[part], what


def test_every_subpackage_ships_in_the_wheel() -> None:
    """pyproject lists packages by hand (templates/ and configs/ are mapped into the package): a new
    subpackage missing from the list would work in a source checkout and be absent from the wheel."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found - listed == set()
