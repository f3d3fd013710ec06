"""Building blocks of a Transformer, each producing Steps for its parameters and its forward matmuls.

The one FLOP rule lives in `matmul`: (..., m, k) @ (k, n) costs 2 * batch * m * k * n (1 MAC = 2 FLOPs).
A parent is always the sum of its children.
"""

from __future__ import annotations

from dataclasses import dataclass

from .steps import Dim, Step

TWO = Dim.const(2)


def weight(key: str, title: str, d_in: Dim, d_out: Dim, description: str = "", aliases=()) -> Step:
    """A weight matrix mapping d_in -> d_out, printed as `d_in * d_out` like the hand derivation."""
    return Step(key, title, factors=(d_in, d_out), shapes=((d_in, d_out),), kind="weight",
                description=description, aliases=tuple(aliases))


def vector(key: str, title: str, n: Dim, description: str = "", aliases=()) -> Step:
    return Step(key, title, factors=(n,), shapes=((n,),), kind="vector", description=description,
                aliases=tuple(aliases))


def matmul(key: str, title: str, left: tuple[Dim, ...], right: tuple[Dim, ...], *, group: str,
           description: str, aliases=()) -> Step:
    """The only place FLOPs of a matrix multiply are defined."""
    if left[-1] != right[-2]:
        raise ValueError(f"{key}: inner dimensions differ: {left[-1].name} vs {right[-2].name}")
    batch = left[:-2]
    if right[:-2] and right[:-2] != batch:
        raise ValueError(f"{key}: batch dimensions differ")
    return Step(key, title, factors=(TWO, *batch, left[-2], left[-1], right[-1]), shapes=(left, right),
                kind="matmul", group=group, description=description, aliases=tuple(aliases))


def lookup(key: str, title: str, description: str, aliases=()) -> Step:
    """An embedding lookup: indexing, not a matmul, so 0 FLOPs by convention."""
    return Step(key, title, kind="lookup", description=description, note="a lookup, not a matmul",
                aliases=tuple(aliases))


def total(key: str, title: str, total_title: str, children: list[Step] | tuple[Step, ...],
          description: str = "", aliases=()) -> Step:
    return Step(key, title, children=tuple(children), kind="total", total_title=total_title,
                description=description, aliases=tuple(aliases))


def repeat(key: str, total_title: str, times: Dim, child: Step, aliases=()) -> Step:
    return Step(key, child.title, children=(child,), repeat=times, kind="repeat", total_title=total_title,
                aliases=tuple(aliases))


@dataclass(frozen=True)
class Linear:
    """y = x W (no bias): `d_in * d_out` parameters; a (batch..., d_in) @ (d_in, d_out) matmul."""

    name: str
    d_in: Dim
    d_out: Dim
    description: str
    group: str
    aliases: tuple[str, ...] = ()

    def params(self, prefix: str) -> Step:
        return weight(f"{prefix}.{self.name}", self.name, self.d_in, self.d_out, self.description,
                      self.aliases)

    def flops(self, prefix: str, tokens: tuple[Dim, ...]) -> Step:
        return matmul(f"{prefix}.{self.name}", self.name, (*tokens, self.d_in), (self.d_in, self.d_out),
                      group=self.group, description=self.description, aliases=self.aliases)
