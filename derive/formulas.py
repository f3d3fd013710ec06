"""`derive formula`: the closed form of one quantity, in symbols and optionally with numbers.

QUANTITIES is data: a key, the left-hand side in text and LaTeX, and where its expression comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy

from .accounting import DTYPE_BYTES, Accounting, memory_step
from .architectures import Derivation
from .errors import UsageError
from .formatting import expr_latex, expr_text, fmt_int
from .latex import equation, expr_tex, macro_definitions, packages_comment, with_numbers
from .steps import substitute
from .symbols import SYMBOLS


@dataclass(frozen=True)
class Quantity:
    key: str
    lhs_text: str
    lhs_tex: str
    meaning: str
    expr: Callable[[Derivation], sympy.Expr]


def _flops_per_token(d: Derivation) -> sympy.Expr:
    # forward FLOPs of one pass divided by the tokens it processes (batch_size * seq_len)
    return sympy.cancel(d.forward.expr / (SYMBOLS["batch_size"] * SYMBOLS["seq_len"]))


def _group(name: str) -> Callable[[Derivation], sympy.Expr]:
    return lambda d: d.forward_groups[name]


QUANTITIES: dict[str, Quantity] = {q.key: q for q in (
    Quantity("params", "P", "P", "trainable parameters", lambda d: d.params.expr),
    Quantity("active_params", "P_active", r"P_{\mathrm{active}}",
             "parameters one token passes through (= params unless mixture of experts)",
             lambda d: (d.active_params or d.params).expr),
    Quantity("buffers", "R", "R", "non-trainable buffers (RoPE tables)", lambda d: d.buffers.expr),
    *(Quantity(f"memory_{dt}", f"M_{dt}", rf"M_{{\mathrm{{{dt}}}}}", f"bytes of the weights in {dt}",
               (lambda dt: lambda d: memory_step(d.params, dt).expr)(dt)) for dt in DTYPE_BYTES),
    Quantity("forward_flops", "F", "F", "forward matmul FLOPs", lambda d: d.forward.expr),
    Quantity("flops_per_token", "F_token", r"F_{\mathrm{token}}", "forward-pass matmul FLOPs per token at seq_len",
             _flops_per_token),
    Quantity("forward_backward_flops", "F_train", r"F_{\mathrm{train}}",
             "forward + backward matmul FLOPs (backward = 2 x forward)", lambda d: 3 * d.forward.expr),
    Quantity("attention_projection_flops", "F_proj", r"F_{\mathrm{proj}}", "attention projection FLOPs",
             _group("attention_projections")),
    Quantity("attention_score_flops", "F_scores", r"F_{\mathrm{scores}}",
             "attention score + weighted-sum FLOPs", _group("attention_scores")),
    Quantity("ffn_flops", "F_ffn", r"F_{\mathrm{ffn}}", "feed-forward FLOPs", _group("ffn")),
    Quantity("lm_head_flops", "F_head", r"F_{\mathrm{head}}", "lm_head FLOPs", _group("lm_head")),
)}
FORMATS = ("text", "md", "tex")


def get_quantity(key: str) -> Quantity:
    try:
        return QUANTITIES[key]
    except KeyError:
        raise UsageError(f"QUANTITY: unknown quantity {key!r} (known: {', '.join(QUANTITIES)})") from None


def render_formula(acc: Accounting, key: str, fmt: str = "text", numbers: bool = False) -> str:
    """`lhs = symbols [= numbers] = value`; LaTeX is an equation* ready to paste (macros provided)."""
    q = get_quantity(key)
    expr = q.expr(acc.derivation)
    value = substitute(expr, acc.subs)
    filled = with_numbers(expr, acc.subs)
    if fmt == "text":
        parts = [q.lhs_text, expr_text(expr)] + ([expr_text(filled)] if numbers else []) + [fmt_int(value)]
        return " = ".join(parts) + "\n"
    if fmt == "md":
        parts = [q.lhs_tex, expr_latex(expr)] + ([sympy.latex(filled)] if numbers else []) + [f"{value:,}".replace(",", "{,}")]
        return f"$$\n{' = '.join(parts)}\n$$\n"
    if fmt == "tex":
        more = (filled,) if numbers else ()
        head = f"{packages_comment()}\n{macro_definitions()}\n% {q.meaning}: {acc.config.name}\n"
        return head + equation(q.lhs_tex, expr, rf" = \dnum{{{value}}}", more=more) + "\n"
    raise UsageError(f"--format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
