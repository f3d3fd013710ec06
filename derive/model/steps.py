"""Step trees: the symbolic derivation as data, and its evaluation against a config.

A leaf is a product of named factors (so a sheet can print `d_model * d_ff`); a parent is the sum of its
children, optionally repeated (`num_layers` blocks). Nothing here knows about Transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Mapping

import sympy


@dataclass(frozen=True)
class Dim:
    """A named size: a symbol (`d_model`), a derived size (`d_k = d_model / num_heads`) or a constant."""

    name: str
    expr: sympy.Expr
    latex: str

    @classmethod
    def of(cls, symbol: sympy.Symbol, latex: str) -> "Dim":
        return cls(symbol.name, symbol, latex)

    @classmethod
    def const(cls, n: int) -> "Dim":
        return cls(str(n), sympy.Integer(n), str(n))


@dataclass(frozen=True, eq=False)
class Step:
    key: str
    title: str
    factors: tuple[Dim, ...] = ()
    children: tuple["Step", ...] = ()
    repeat: Dim | None = None
    shapes: tuple[tuple[Dim, ...], ...] = ()
    kind: str = ""  # weight | vector | matmul | lookup | buffer | total | repeat
    group: str = ""
    description: str = ""
    note: str = ""
    total_title: str = ""
    aliases: tuple[str, ...] = ()

    @cached_property
    def expr(self) -> sympy.Expr:
        if self.children:
            total = sympy.Add(*(c.expr for c in self.children))
            return self.repeat.expr * total if self.repeat is not None else total
        return sympy.Mul(*(f.expr for f in self.factors)) if self.factors else sympy.Integer(0)

    def walk(self) -> Iterator["Step"]:
        yield self
        for child in self.children:
            yield from child.walk()

    def leaves_with_multiplier(self, multiplier: sympy.Expr = sympy.Integer(1)):
        """(leaf, how many times it occurs) pairs: what group totals and shares are built from."""
        if self.repeat is not None:
            multiplier = multiplier * self.repeat.expr
        if not self.children:
            yield self, multiplier
        for child in self.children:
            yield from child.leaves_with_multiplier(multiplier)

    def find(self, key: str) -> "Step":
        for step in self.walk():
            if step.key == key:
                return step
        raise KeyError(key)


def group_totals(root: Step) -> dict[str, sympy.Expr]:
    """Symbolic sum of every leaf's contribution per group, in order of first appearance."""
    totals: dict[str, sympy.Expr] = {}
    for leaf, mult in root.leaves_with_multiplier():
        if leaf.group:
            totals[leaf.group] = totals.get(leaf.group, sympy.Integer(0)) + mult * leaf.expr
    return totals


def substitute(expr: sympy.Expr, subs: Mapping[sympy.Symbol, int]) -> int:
    """Exact integer value of an expression; a non-integer result is a bug in a formula or config."""
    value = sympy.sympify(expr).xreplace({k: sympy.Integer(v) for k, v in subs.items()})
    if not value.is_Integer:
        raise ValueError(f"{expr} does not evaluate to an integer with {dict(subs)}: {value}")
    return int(value)


@dataclass(frozen=True, eq=False)
class Evaluated:
    """A Step with every size and sub-total replaced by exact integers."""

    step: Step
    value: int
    factor_values: tuple[int, ...]
    shape_values: tuple[tuple[int, ...], ...]
    repeat_value: int | None
    children: tuple["Evaluated", ...] = field(default=())

    @property
    def key(self) -> str:
        return self.step.key

    @property
    def title(self) -> str:
        return self.step.title

    def walk(self) -> Iterator["Evaluated"]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, key: str) -> "Evaluated":
        for node in self.walk():
            if node.key == key:
                return node
        raise KeyError(key)


def evaluate(step: Step, subs: Mapping[sympy.Symbol, int]) -> Evaluated:
    """Substitute once per distinct size: a tree repeats a handful of Dims (d_model, 2, d_k) many times,
    and a leaf's value is the product of its factors' values, so no per-node xreplace is needed."""
    ints = {k: sympy.Integer(v) for k, v in subs.items()}
    memo: dict[sympy.Expr, int] = {}

    def value(expr: sympy.Expr) -> int:
        if expr in memo:
            return memo[expr]
        v = expr.xreplace(ints)
        if not v.is_Integer:
            raise ValueError(f"{expr} is not an integer at {dict(subs)}: {v}")
        memo[expr] = int(v)
        return memo[expr]

    def leaf_value(s: Step, factor_values: tuple[int, ...]) -> int:
        if not s.factors:
            return value(s.expr)
        out = 1
        for v in factor_values:
            out *= v
        return out

    def go(s: Step) -> Evaluated:
        children = tuple(go(c) for c in s.children)
        if children:
            total = sum(c.value for c in children)
            rep = value(s.repeat.expr) if s.repeat is not None else None
            val = total * rep if rep is not None else total
        factor_values = tuple(value(f.expr) for f in s.factors)
        if not children:
            rep = None
            val = leaf_value(s, factor_values)
        return Evaluated(
            step=s,
            value=val,
            factor_values=factor_values,
            shape_values=tuple(tuple(value(d.expr) for d in shape) for shape in s.shapes),
            repeat_value=rep,
            children=children,
        )

    return go(step)
