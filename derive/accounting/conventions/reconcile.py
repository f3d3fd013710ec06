"""Each convention beside derive's exact count of the same thing, and the difference as a closed form.

The exact count of a scope is summed per forward-FLOP group from derive's trees: the forward tree; the backward
tree (`training.derivation.backward_tree`: dX and dW of every matmul); the block forward recomputed under full
recomputation (`forward.blocks`, what Megatron's 96 counts). Everything is symbolic and cached per Derivation and
convention; numbers come later (run.py). A convention's term is compared with the exact count of the groups it
covers, in the convention's unit (per token = per step / (B S)); a group no term covers is listed as "not counted"
with its exact count as the difference, so the term differences add up to the whole difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy

from ...model.architectures import Derivation
from ...model.steps import group_totals
from ..training.derivation import backward_tree, halve_causal
from .facts import Facts, facts_of
from .registry import BLOCK_WEIGHTS, CONVENTIONS, PER, WEIGHTS, Convention

SCORES = "attention_scores"


def simplify(expr: sympy.Expr) -> sympy.Expr:
    """A closed form to print: expanded (so equal forms cancel to 0), then factored (so the terms read)."""
    expanded = sympy.expand(expr)
    return sympy.factor(expanded) if expanded != 0 else sympy.Integer(0)


@lru_cache(maxsize=None)
def exact_groups(d: Derivation, scope: str, causal: bool = False) -> dict[str, sympy.Expr]:
    """Exact matmul FLOPs of one step per forward-FLOP group, for a scope of registry.SCOPES.

    causal=True halves the attention-score matmuls in every pass (what a causal kernel computes)."""
    forward = halve_causal(d.forward) if causal else d.forward
    totals = dict(group_totals(forward))
    if scope == "forward":
        return totals
    trees = [backward_tree(d.forward)]
    if scope == "training+recompute":
        trees.append(d.forward.find("forward.blocks"))
    for tree in trees:
        tree = halve_causal(tree) if causal else tree
        for group, expr in group_totals(tree).items():
            totals[group] = totals.get(group, sympy.Integer(0)) + expr
    return totals


def exact_total(d: Derivation, scope: str, causal: bool = False) -> sympy.Expr:
    return sympy.Add(*exact_groups(d, scope, causal).values())


def _resolve(covers: tuple[str, ...], groups: list[str]) -> list[str]:
    if covers == WEIGHTS:
        return [g for g in groups if g != SCORES]
    if covers == BLOCK_WEIGHTS:
        return [g for g in groups if g not in (SCORES, "lm_head")]
    return [g for g in covers if g in groups]


@dataclass(frozen=True)
class TermRow:
    """One line of a reconciliation: a convention's term (or a group it leaves out) beside the exact count."""

    label: str
    written: str
    groups: tuple[str, ...]
    convention: sympy.Expr
    exact: sympy.Expr
    difference: sympy.Expr  # exact - convention, simplified, in the convention's unit


@dataclass(frozen=True, eq=False)
class Reconciled:
    """A convention for one architecture: its expression, the exact count and the difference, in its unit."""

    convention: Convention
    facts: Facts
    expr: sympy.Expr
    exact: sympy.Expr
    difference: sympy.Expr
    rows: tuple[TermRow, ...]

    @property
    def per_unit(self) -> sympy.Expr:
        return PER[self.convention.per]


def reconcile_with(c: Convention, facts: Facts, groups: dict[str, sympy.Expr]) -> Reconciled:
    """`c` beside exact per-step `groups`, both in `c`'s unit; every group goes to one term or a 'not counted' row."""
    unit = PER[c.per]
    native = {g: sympy.cancel(e / unit) for g, e in groups.items()}
    names = list(native)
    rows, used = [], set()
    for t in c.terms:
        covered = tuple(g for g in _resolve(t.covers, names) if g not in used)
        used.update(covered)
        conv = sympy.expand(t.expr(facts))
        exact = sympy.expand(sympy.Add(*(native[g] for g in covered)))
        rows.append(TermRow(t.label, t.written, covered, conv, exact, simplify(exact - conv)))
    for g in names:
        if g not in used:
            rows.append(TermRow("not counted", "", (g,), sympy.Integer(0), native[g], simplify(native[g])))
    expr = sympy.expand(c.expr(facts))
    exact = sympy.expand(sympy.Add(*native.values()))
    return Reconciled(c, facts, expr, exact, simplify(exact - expr), tuple(rows))


@lru_cache(maxsize=None)
def reconcile(d: Derivation, key: str) -> Reconciled:
    """The registered convention `key` beside the exact count of its scope for the architecture `d`."""
    c = CONVENTIONS[key]
    return reconcile_with(c, facts_of(d), exact_groups(d, c.scope))


def reconcile_all(d: Derivation) -> list[Reconciled]:
    return [reconcile(d, key) for key in CONVENTIONS]
