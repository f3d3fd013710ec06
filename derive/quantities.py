"""Named quantities as data: how to get each one's sympy expression from a Derivation.

Sweeps and any other command that asks for "params" or "forward_flops" by name go through this registry. It
takes every closed form of `derive formula` (derive.formulas.QUANTITIES: params, active_params, buffers,
memory_fp32, forward_flops, flops_per_token, ...), so a quantity is defined once. Add one with `register(Quantity(...))`; the `expr` callable
receives the architecture's Derivation and must return a sympy expression in the symbols of
derive.symbols (it may use batch_size and seq_len).

    >>> from derive.quantities import QUANTITIES
    >>> from derive.architectures import assignment
    >>> QUANTITIES["params"].expr(assignment()) == assignment().params.expr
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy

from .architectures import Derivation
from .errors import UsageError
from .formulas import QUANTITIES as _FORMULAS


@dataclass(frozen=True)
class Quantity:
    """A named figure: `expr(derivation)` gives its symbolic form; `unit` is what its integers count."""

    name: str
    description: str
    unit: str
    expr: Callable[[Derivation], sympy.Expr]


QUANTITIES: dict[str, Quantity] = {}


def register(quantity: Quantity) -> Quantity:
    """Add a quantity to the registry (a name can be registered once)."""
    if quantity.name in QUANTITIES:
        raise ValueError(f"quantity {quantity.name!r} is already registered")
    QUANTITIES[quantity.name] = quantity
    return quantity


def get_quantity(name: str, option: str = "--quantities") -> Quantity:
    try:
        return QUANTITIES[name]
    except KeyError:
        raise UsageError(f"{option}: unknown quantity {name!r} (known: {', '.join(QUANTITIES)})") from None


def parse_quantities(spec: str, option: str = "--quantities") -> list[Quantity]:
    """'params,forward_flops' -> [Quantity, Quantity]; an unknown or empty name is a usage error."""
    names = [n.strip() for n in spec.split(",")]
    if not spec.strip() or any(not n for n in names):
        raise UsageError(f"{option}: expected a comma-separated list of names, got {spec!r}")
    return [get_quantity(n, option) for n in dict.fromkeys(names)]


def _unit(key: str) -> str:
    if key.startswith("memory_"):
        return "bytes"
    if key.endswith("flops"):
        return "FLOPs"
    if key.endswith("flops_per_token"):
        return "FLOPs"
    return {"params": "parameters", "active_params": "parameters", "buffers": "elements"}.get(key, "")


# `derive formula`'s registry (derive.formulas) holds the closed forms it prints; every one of them is a
# sweep quantity too, with its expression taken from there, so each formula stays defined once.
for _f in _FORMULAS.values():
    register(Quantity(_f.key, _f.meaning, _unit(_f.key), _f.expr))

DEFAULT_QUANTITIES: tuple[str, ...] = ("params", "forward_flops")
