"""A formula claim against the closed form of the quantity its value matched: equal in general, equal
given a relation this config satisfies (seq_len = context_length, d_ff = 4 d_model), or different."""

from __future__ import annotations

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
