"""Named quantities as data: how to get each one's sympy expression from a Derivation.

Sweeps, formula listings and any other command that asks for "params" or "forward_flops" by name go through
this registry, so a quantity is defined once. Add one with `register(Quantity(...))`; the `expr` callable
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

from .accounting import DTYPE_BYTES, memory_step
from .architectures import Derivation
from .errors import UsageError
from .symbols import SYMBOLS


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


def _memory(dtype: str) -> Callable[[Derivation], sympy.Expr]:
    return lambda d: memory_step(d.params, dtype).expr


def _flops_per_token(d: Derivation) -> sympy.Expr:
    # forward FLOPs of one pass divided by the tokens it processes (batch_size * seq_len)
    return sympy.cancel(d.forward.expr / (SYMBOLS["batch_size"] * SYMBOLS["seq_len"]))


register(Quantity("params", "trainable parameters", "parameters", lambda d: d.params.expr))
register(Quantity("buffers", "non-trainable buffers (RoPE cos/sin tables)", "elements", lambda d: d.buffers.expr))
register(Quantity("forward_flops", "forward-pass matmul FLOPs for batch_size x seq_len tokens", "FLOPs",
                  lambda d: d.forward.expr))
register(Quantity("flops_per_token", "forward-pass matmul FLOPs per token at seq_len", "FLOPs",
                  _flops_per_token))
for _dtype in DTYPE_BYTES:
    register(Quantity(f"memory_{_dtype}", f"bytes to hold the weights in {_dtype}", "bytes", _memory(_dtype)))

DEFAULT_QUANTITIES: tuple[str, ...] = ("params", "forward_flops")
