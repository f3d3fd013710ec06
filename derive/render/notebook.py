"""Jupyter displays of derive's results: a Markdown table and LaTeX, the closed form before the value.

Registered with derive.accounting.display when derive.api is imported, for every Displayable result
(Accounting, TrainAccounting, and any result class that lists its display_rows()).
"""

from __future__ import annotations

from fractions import Fraction

from ..accounting.display import Displayable, DisplayRow, register_display
from .escape import escape_md
from .formatting import expr_latex, fmt_decimal

def _value_text(row: DisplayRow) -> str:
    v = row.value
    if isinstance(v, Fraction) and v.denominator != 1:
        text = fmt_decimal(v, 2)
    else:
        text = f"{int(v):,}"
    return f"{text} {row.unit}".rstrip()


def _symbol_latex(symbol: str) -> str:
    base, _, sub = symbol.partition("_")
    return f"{base}_{{\\mathrm{{{sub}}}}}" if sub else base


def to_markdown(result: Displayable) -> str:
    """`**title**` and a table | quantity | closed form | value |; formulas as $...$ (Jupyter's MathJax)."""
    lines = [f"**{escape_md(result.display_title())}**", "", "| quantity | closed form | value |", "|---|---|---:|"]
    for row in result.display_rows():
        closed = f"${_symbol_latex(row.symbol)} = {expr_latex(row.expr)}$" if row.expr is not None else ""
        lines.append(f"| {escape_md(row.label)} | {closed} | {escape_md(_value_text(row))} |")
    return "\n".join(lines) + "\n"


def _latex_number(row: DisplayRow) -> str:
    return _value_text(row).replace(",", "{,}").replace(f" {row.unit}", rf"\ \text{{{row.unit}}}") if row.unit \
        else _value_text(row).replace(",", "{,}")


def to_latex(result: Displayable) -> str:
    """An aligned block: `symbol &= closed form = value` per row (plain LaTeX, no derive macros: MathJax)."""
    body = []
    for row in result.display_rows():
        parts = [_symbol_latex(row.symbol)]
        if row.expr is not None:
            parts.append(expr_latex(row.expr))
        body.append(" &= ".join(parts[:1] + [" = ".join(parts[1:] + [_latex_number(row)])]))
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join(body) + "\n\\end{aligned}\n$$"


register_display("markdown", to_markdown)
register_display("latex", to_latex)
