"""The data behind the plots: FLOP shares per model, FLOPs against context length, and the crossover
context length where attention-score FLOPs overtake the FFN, solved symbolically.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy

from ..model.architectures import GROUP_LABELS, derivation, derivation_for
from ..model.config import ModelConfig
from ..model.symbols import SYMBOLS
from .account import Accounting, account

# Short labels for legends and narrow table headers (display text only).
GROUP_SHORT: dict[str, str] = {
    "attention_projections": "attention projections",
    "attention_scores": "attention scores",
    "ffn": "FFN",
    "lm_head": "lm_head",
}
SMALLEST_CONTEXT = 128
PLOTTED_BEYOND = 16_384  # part (e) asks about 16,384; the axis always reaches at least 4x further


@dataclass(frozen=True)
class Crossover:
    """seq_len where two groups' FLOPs are equal: the symbolic solution and its value for a config."""

    expr: sympy.Expr  # in symbols, e.g. 3*d_ff/2
    value: Fraction  # for the config (seq_len = context_length: one full-length sequence)
    equation: sympy.Eq  # the equation that was solved

    @property
    def value_float(self) -> float:
        return float(self.value)


def _solve_for(eq: sympy.Eq, x: sympy.Symbol) -> list[sympy.Expr]:
    """Roots of a polynomial equation in x by sympy.roots (milliseconds; the first sympy.solve of a run
    costs about 0.1 s of set-up); sympy.solve for anything else or when roots() cannot give them all."""
    diff = sympy.expand(eq.lhs - eq.rhs)
    if diff.is_polynomial(x):
        poly = sympy.Poly(diff, x)
        found = sympy.roots(poly)
        if sum(found.values()) == poly.degree():
            return list(found)
    return sympy.solve(eq, x)


def _is_monomial(expr: sympy.Expr) -> bool:
    """c * x^a * y^b ...: nothing for simplify() to shorten (its first call costs ~0.1 s of imports)."""
    def atom(a: sympy.Expr) -> bool:
        return a.is_Rational or a.is_Symbol or (a.is_Pow and a.base.is_Symbol and a.exp.is_Integer)
    return atom(expr) or (expr.is_Mul and all(atom(a) for a in expr.args))


def crossover(config: ModelConfig, over: str = "attention_scores", under: str = "ffn",
              architecture: str | None = None) -> Crossover:
    """Solve groups[over] == groups[under] for seq_len with sympy; the one positive root. The groups are those
    of the config's own architecture (a GELU MLP crosses over at d_ff, SwiGLU at 3 d_ff / 2) unless a named
    `architecture` is given."""
    groups = (derivation(architecture) if architecture else derivation_for(config)).forward_groups
    S = SYMBOLS["seq_len"]
    eq = sympy.Eq(groups[over], groups[under])
    roots = [r for r in _solve_for(eq, S) if r.is_positive is not False and r != 0]
    if len(roots) != 1:
        raise ValueError(f"expected one positive crossover for {over} vs {under}, got {roots}")
    expr = roots[0] if _is_monomial(roots[0]) else sympy.simplify(roots[0])
    # Every symbol of the config (experts_per_token, head_dim, kv_lora_rank ...), not only the six sizes.
    values = {SYMBOLS[k]: v for k, v in config.symbol_values().items()}
    value = sympy.Rational(expr.xreplace({k: sympy.Integer(v) for k, v in values.items()}))
    return Crossover(expr, Fraction(int(value.p), int(value.q)), eq)


def context_lengths(config: ModelConfig, cross: Crossover | None = None) -> list[int]:
    """Powers of two from 128 to at least 4 x 16,384, far enough to show the crossover too."""
    top = max(4 * PLOTTED_BEYOND, 4 * config.context_length)
    if cross is not None:
        while top < 2 * cross.value:
            top *= 2
    out, n = [], SMALLEST_CONTEXT
    while n <= top:
        out.append(n)
        n *= 2
    return out


@dataclass(frozen=True)
class ContextPoint:
    context_length: int
    forward_flops: int
    groups: dict[str, int]
    shares: dict[str, Fraction]


def context_series(config: ModelConfig, lengths: list[int]) -> list[ContextPoint]:
    """One full-length sequence (batch 1, seq_len = context_length) at each context length."""
    points = []
    for n in lengths:
        acc = account(config.replace(context_length=n))
        points.append(ContextPoint(n, acc.forward_flops, dict(acc.groups), dict(acc.shares)))
    return points


def share_series(accs: list[Accounting]) -> list[tuple[str, dict[str, Fraction]]]:
    return [(a.config.name, {g: a.shares[g] for g in GROUP_LABELS}) for a in accs]
