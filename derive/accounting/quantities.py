"""Named quantities as data: one registry for `derive formula`, `derive sweep` and anything that asks for
"params" or "forward_flops" by name.

Each entry has its name, its left-hand side in text and LaTeX, what it means, the unit its integers
count, and how to get its sympy expression from a Derivation, so a quantity is defined once. Add one with
`register(Quantity(...))`; the `expr` callable receives the architecture's Derivation and must return a
sympy expression in the symbols of derive.model.symbols (it may use batch_size and seq_len).

    >>> from derive.accounting.quantities import QUANTITIES
    >>> from derive.model.architectures import assignment
    >>> QUANTITIES["params"].expr(assignment()) == assignment().params.expr
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy

from ..errors import UsageError
from ..model.architectures import Derivation
from ..model.symbols import SYMBOLS
from .account import DTYPE_BYTES, memory_step


@dataclass(frozen=True)
class Quantity:
    """A named figure: `expr(derivation)` gives its symbolic form; `unit` is what its integers count
    (parameters, elements, bytes or FLOPs); `lhs_text` / `lhs_tex` name it in a printed formula."""

    name: str
    lhs_text: str
    lhs_tex: str
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
    """The registered quantity `name`; UsageError naming `option` and every known name otherwise."""
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


def _flops_per_token(d: Derivation) -> sympy.Expr:
    # forward FLOPs of one pass divided by the tokens it processes (batch_size * seq_len)
    return sympy.cancel(d.forward.expr / (SYMBOLS["batch_size"] * SYMBOLS["seq_len"]))


def _group(name: str) -> Callable[[Derivation], sympy.Expr]:
    return lambda d: d.forward_groups[name]


def _memory(dtype: str) -> Callable[[Derivation], sympy.Expr]:
    return lambda d: memory_step(d.params, dtype).expr


for _q in (
    Quantity("params", "P", "P", "trainable parameters", "parameters", lambda d: d.params.expr),
    Quantity("active_params", "P_active", r"P_{\mathrm{active}}",
             "parameters one token passes through (= params unless mixture of experts)", "parameters",
             lambda d: (d.active_params or d.params).expr),
    Quantity("buffers", "R", "R", "non-trainable buffers (RoPE tables)", "elements", lambda d: d.buffers.expr),
    *(Quantity(f"memory_{dt}", f"M_{dt}", rf"M_{{\mathrm{{{dt}}}}}", f"bytes of the weights in {dt}", "bytes",
               _memory(dt)) for dt in DTYPE_BYTES),
    Quantity("forward_flops", "F", "F", "forward matmul FLOPs", "FLOPs", lambda d: d.forward.expr),
    Quantity("flops_per_token", "F_token", r"F_{\mathrm{token}}", "forward-pass matmul FLOPs per token at seq_len",
             "FLOPs", _flops_per_token),
    Quantity("forward_backward_flops", "F_train", r"F_{\mathrm{train}}",
             "forward + backward matmul FLOPs (backward = 2 x forward)", "FLOPs", lambda d: 3 * d.forward.expr),
    Quantity("attention_projection_flops", "F_proj", r"F_{\mathrm{proj}}", "attention projection FLOPs", "FLOPs",
             _group("attention_projections")),
    Quantity("attention_score_flops", "F_scores", r"F_{\mathrm{scores}}",
             "attention score + weighted-sum FLOPs", "FLOPs", _group("attention_scores")),
    Quantity("ffn_flops", "F_ffn", r"F_{\mathrm{ffn}}", "feed-forward FLOPs", "FLOPs", _group("ffn")),
    Quantity("lm_head_flops", "F_head", r"F_{\mathrm{head}}", "lm_head FLOPs", "FLOPs", _group("lm_head")),
):
    register(_q)

DEFAULT_QUANTITIES: tuple[str, ...] = ("params", "forward_flops")
