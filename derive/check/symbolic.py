"""A formula claim against the closed form of the quantity its value matched: equal in general, equal
given a relation this config satisfies (seq_len = context_length, d_ff = 4 d_model), or different."""

from __future__ import annotations

import re

import sympy

from ..model import symbols as sy
from .candidates import Candidate
from .claims import Claim
from .formula import ALIASES, HEAD_NAMES, compare, head_symbols, to_sympy
from .values import NotUnderstood


def formula_note(claim: Claim, c: Candidate, scope: dict) -> tuple[str, bool]:
    """(note, equal) for a claim written as a formula that matched candidate `c` by value."""
    derived = c.expr
    if derived is None or c.setting is None or claim.formula is None:
        return "", True
    setting = c.setting
    params = scope.get("P")
    extra = {k: sympy.Integer(int(v)) for k, v in scope.items()
             if isinstance(v, int) and k not in sy.SYMBOLS and not k.isupper() and getattr(v, "denominator", 1) == 1 and len(k) <= 3
             and k not in ("d", "h", "n", "dk", "dff", "seq", "d_kv") and k not in ALIASES and k not in HEAD_NAMES}
    if params is not None:
        extra["P"] = extra["N"] = sympy.Integer(int(params))
    config_values = setting.config.symbol_values()
    try:
        claimed = to_sympy(claim.formula, extra, head_symbols(config_values))
    except (NotUnderstood, TypeError, ValueError, ZeroDivisionError, RecursionError):
        return "", True
    values = {**setting.config.symbol_values(), "batch_size": setting.batch, "seq_len": setting.seq}
    equal, used, diff = compare(claimed, derived, values, setting.batch, setting.seq)
    if not equal:
        keep = claimed.free_symbols
        numbers = {sy.SYMBOLS[k]: sympy.Integer(v) for k, v in values.items()
                   if k in sy.SYMBOLS and sy.SYMBOLS[k] not in keep}
        equal, used, diff = compare(claimed, derived.xreplace(numbers), values, setting.batch, setting.seq)
        if equal:
            return "", True
    if equal:
        return (f"The formula equals derive's closed form {sympy.sstr(derived)}"
                + (f", given {', '.join(used)}." if used else ".")), True
    return (f"The formula agrees with {c.describe()} only at these sizes: derive's closed form is "
            f"{sympy.sstr(derived)} (the difference is {sympy.sstr(sympy.factor(diff))})."), False


def formula_under_rule(formula: str, c: Candidate, ratio) -> bool:
    """The formula (text in symbols) is c's closed form once d_ff = ratio x d_model (a document's stated rule
    for its symbolic forms), whatever d_ff the config has."""
    if c.expr is None or c.setting is None or not formula:
        return False
    rule = {sy.d_ff: sympy.Rational(ratio.numerator, ratio.denominator) * sy.d}
    try:
        claimed = to_sympy(formula, {}, head_symbols(c.setting.config.symbol_values())).xreplace(rule)
    except (NotUnderstood, TypeError, ValueError, ZeroDivisionError, RecursionError):
        return False
    values = {**c.setting.config.symbol_values(), "batch_size": c.setting.batch, "seq_len": c.setting.seq}
    return compare(claimed, c.expr.xreplace(rule), values, c.setting.batch, c.setting.seq)[0]


def rule_match(claim: Claim, ctx, matches) -> tuple[Candidate, str] | None:
    """`F_step = B (12 T^2 d L + 72 T d^2 L + ...) = 10,803,517,115,596,800` in a document whose symbolic
    forms assume d_ff = 8/3 d_model while its figures are the config's own d_ff (the 2026 handout): the
    formula is the closed form under the rule and the figure is the config's, so neither is an error.
    (candidate, note) when both hold for one quantity the written value matches; else None."""
    cfg, ratio = ctx.models[ctx.model_at.get(claim.line, 0)].config, ctx.givens.d_ff_ratio
    if claim.value is None or ratio is None or ratio * cfg.d_model == cfg.d_ff:
        return None
    pair = claim.mismatch
    formula = claim.formula or (claim.segments[pair.left] if pair is not None else None)
    if not formula or not re.search(r"[A-Za-z]", formula):
        return None
    for c in matches(claim)[:12]:
        if c.expr is not None and formula_under_rule(formula, c, ratio):
            return c, (f"The formula is derive's closed form of {c.describe()} with d_ff = {ratio} d_model, as the "
                       f"document's symbolic forms assume; the figure is at the config's d_ff = {cfg.d_ff:,}.")
    return None


def formula_match(claim: Claim, matches: list[Candidate], scope_for) -> Candidate | None:
    """Of the quantities a formula claim's value matched, the first whose closed form the formula is
    (`A_{\\mathrm{swiglu}} = B (...)`: the subscript names the FFN, the formula is the activation count)."""
    if not claim.formula or not matches:
        return None
    scope = scope_for(claim.line)
    return next((c for c in matches[:12] if c.expr is not None
                 and formula_note(claim, c, scope)[0].startswith("The formula equals")), None)
