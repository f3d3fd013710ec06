"""`derive formula`: the closed form of one quantity, in symbols and optionally with numbers.

The quantities themselves are data in derive.accounting.quantities; this module only prints one.
"""

from __future__ import annotations

import sympy

from ..accounting.account import Accounting
from ..accounting.quantities import get_quantity
from ..errors import UsageError
from ..model.steps import substitute
from .escape import escape_tex
from .formatting import expr_latex, expr_text, fmt_int
from .latex import equation, macro_definitions, packages_comment, with_numbers

FORMATS = ("text", "md", "tex")


def render_formula(acc: Accounting, key: str, fmt: str = "text", numbers: bool = False) -> str:
    """`lhs = symbols [= numbers] = value`; LaTeX is an equation* ready to paste (macros provided)."""
    q = get_quantity(key, "QUANTITY")
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
        # the comment's text is escaped like any other: a newline in a name must not end the comment
        head = f"{packages_comment()}\n{macro_definitions()}\n% {escape_tex(q.description)}: {escape_tex(acc.config.name)}\n"
        return head + equation(q.lhs_tex, expr, rf" = \dnum{{{value}}}", more=more) + "\n"
    raise UsageError(f"--format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
