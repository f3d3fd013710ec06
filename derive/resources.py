"""Where the shipped presets and templates live, installed or in a source checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _package_dir(package: str, fallback: str) -> Path:
    # Installed wheels map the top-level configs/ and templates/ to derive.configs / derive.templates;
    # a plain source checkout (PYTHONPATH=.) has them beside the package.
    try:
        path = Path(str(resources.files(package)))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return _SOURCE_ROOT / fallback


def configs_dir() -> Path:
    return _package_dir("derive.configs", "configs")


def templates_dir() -> Path:
    return _package_dir("derive.templates", "templates")


# Handout editions (configs/editions/YEAR.yaml): which one a sheet answers when none is named.
DEFAULT_EDITION = "2025"


def editions_dir() -> Path:
    return configs_dir() / "editions"
