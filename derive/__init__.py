"""derive: symbolic resource accounting for Transformer language models.

Importing the package is cheap; the sympy-backed API loads on first use (`derive.api`), so that
`derive --help` answers at once.
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = {"account", "load_config", "render_sheet", "write_sheets", "derivation", "params_report",
        "flops_report", "preset_names"}


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")


def catalog() -> dict[str, object]:
    """The answer sheets and handout editions that ship with derive, read from the package's files without
    importing sympy (what `derive sheet --help` lists): {"sheets": [...], "editions": [...], "default_edition"}."""
    from .resources import DEFAULT_EDITION, editions_dir, templates_dir

    sheets = sorted(p.name[: -len(".md.j2")] for p in templates_dir().glob("*.md.j2") if not p.name.startswith("_"))
    editions = sorted(p.stem for p in editions_dir().glob("*.yaml"))
    return {"sheets": sheets, "editions": editions, "default_edition": DEFAULT_EDITION}
