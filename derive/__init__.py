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
