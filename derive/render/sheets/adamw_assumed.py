"""Part (b) of the adamw-accounting sheet when (a)'s assumed d_ff is not the config's own.

The 2026 handout assumes d_ff = 8/3 d_model in (a) and asks (b) for a GPT-2 XL-shaped model: 8/3 x 1,600 is
4,266.67, so no config holds it, and the XL config of transformer_accounting has d_ff 4,288. Part (b) then
instantiates (a)'s closed forms: each activation summed over the layers (a whole number here, although one
layer's W1 output, 1,024 x 4,266.67 elements, is not), the parameters and a, b of memory = a * batch_size + b,
all exact. Parts (c) and (d) stay with the config (the sheet says which d_ff each number used).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy

from ...accounting.editions import DffRule, fmt_fraction, fmt_multiplier
from ...accounting.training.derivation import FP32_BYTES
from ...accounting.training.run import TrainAccounting
from ...errors import UsageError
from ...model import symbols as sy
from ...model.config import ModelConfig
from ..formatting import expr_text, fmt_int
from ..latex import expr_tex, num

ORDER = ("batch_size", "context_length", "d_model", "num_heads", "num_layers", "vocab_size")


def rule_view(rule: DffRule, config: ModelConfig) -> dict[str, Any]:
    """(a)'s d_ff in the forms the templates print: `4 x d_model` in prose, `4 * d_model` in formulas, its value
    for this config, and whether it is the config's own d_ff."""
    m = rule.multiplier
    tex_mult = str(m) if m.denominator == 1 else rf"\tfrac{{{m.numerator}}}{{{m.denominator}}}"
    value = rule.value(config.d_model)
    return {"mult": str(m), "tex_mult": tex_mult, "words": f"{fmt_multiplier(m)} x d_model", "text": f"{m} * d_model",
            "value": fmt_fraction(value), "working": rule.working(config.d_model),
            "is_config": value == config.d_ff, "config_d_ff": config.d_ff}


def _exact(expr: sympy.Expr, subs: dict[sympy.Symbol, int]) -> Fraction:
    v = sympy.nsimplify(expr.xreplace({k: sympy.Integer(x) for k, x in subs.items()}))
    return Fraction(int(v.p), int(v.q))


def _fmt(x: Fraction) -> str:
    """An exact value: 1,468,006,400, or 13,107,200/3 when it is not whole."""
    return fmt_int(x.numerator) if x.denominator == 1 else f"{fmt_int(x.numerator)}/{fmt_int(x.denominator)}"


def _tex(x: Fraction) -> str:
    return num(x.numerator) if x.denominator == 1 else rf"\tfrac{{{num(x.numerator)}}}{{{num(x.denominator)}}}"


def _monomial(expr: sympy.Expr, subs: dict[sympy.Symbol, int]) -> dict[str, Any]:
    """`8/3 * batch_size * context_length * d_model * num_layers` and the same with numbers, term by term."""
    coeff, rest = expr.as_coeff_Mul()
    powers = sorted(rest.as_powers_dict().items(), key=lambda kv: ORDER.index(kv[0].name)
                    if kv[0].name in ORDER else len(ORDER))
    coeff = Fraction(int(coeff.p), int(coeff.q))
    names = [_fmt(coeff)] if coeff != 1 else []
    numbers = list(names)
    tex_numbers = [_tex(coeff)] if coeff != 1 else []
    for symbol, power in powers:
        suffix = f"^{power}" if power != 1 else ""
        names.append(f"{symbol.name}{suffix}")
        numbers.append(f"{fmt_int(subs[symbol])}{suffix}")
        tex_numbers.append(num(subs[symbol]) + (f"^{{{power}}}" if power != 1 else ""))
    return {"text": " * ".join(names), "numbers": " * ".join(numbers), "tex": expr_tex(expr),
            "tex_numbers": r" \cdot ".join(tex_numbers), "expr": expr}


def assumed_instantiation(t: TrainAccounting, config: ModelConfig, rule: DffRule) -> dict[str, Any] | None:
    """None when (a)'s d_ff is the config's own (the tree of one sequence's activations shows (b) then);
    otherwise each activation over all layers, its total, the parameters and a, b, all with (a)'s d_ff."""
    if rule.value(config.d_model) == config.d_ff:
        return None
    d_ff = rule.expr(sy.d)
    subs = {sy.V: config.vocab_size, sy.T: config.context_length, sy.L: config.num_layers, sy.d: config.d_model,
            sy.h: config.num_heads, sy.B: 1}

    def form(expr: sympy.Expr) -> sympy.Expr:
        return sympy.expand(sympy.sympify(expr).subs(sy.S, sy.T).subs({sy.d_ff: d_ff}))

    rows = []
    for leaf, mult in t.derivation.activations.leaves_with_multiplier():
        expr = form(mult * leaf.expr)
        value = _exact(expr, subs)
        title = f"{leaf.title} (x num_layers)" if mult != 1 else leaf.title
        rows.append({"title": title, "value": value, "value_text": _fmt(value), "value_tex": _tex(value),
                     **_monomial(expr, subs)})
    total = sum((r["value"] for r in rows), Fraction(0))
    a_expr, b_expr = (form(x) for x in t.derivation.memory_linear())
    params = _exact(form(t.derivation.params.expr), subs)
    a, b = _exact(a_expr, subs), _exact(b_expr, subs)
    for name, value in (("activation elements per sequence", total), ("parameters", params), ("a", a), ("b", b)):
        if value.denominator != 1:
            raise UsageError(f"--sheet adamw-accounting: with d_ff = {rule.multiplier} x d_model = "
                             f"{fmt_fraction(rule.exact(config.d_model))}, {config.name} would have {_fmt(value)} "
                             f"{name}, not a whole number: the problem's assumption does not fit this config")
    if a != FP32_BYTES * total:
        raise AssertionError("a is not the bytes of one sequence's activations")
    return {"rows": rows, "total": int(total), "total_text": " + ".join(r["value_text"] for r in rows),
            "total_tex": " + ".join(r["value_tex"] for r in rows), "params": int(params), "a": int(a), "b": int(b),
            "d_ff": fmt_fraction(rule.exact(config.d_model)), "params_text": expr_text(form(t.derivation.params.expr))}
