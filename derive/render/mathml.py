"""Presentation MathML for the HTML sheets: closed forms printed by sympy's MathML printer, symbols as their
LaTeX shows them (d_ff as d with subscript ff, not `d_model`), integers with thousands separators.

Every browser renders presentation MathML natively (MathML Core), so the HTML sheet needs no script or font.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sympy
from sympy.printing.mathml import MathMLPresentationPrinter

from ..model.steps import Dim
from ..model.symbols import SYMBOL_DEFS, SYMBOLS
from .escape import escape_html

_BY_NAME = {d.name: d for d in SYMBOL_DEFS}
DERIVED_NAMES = {"d_k": "d_k"}


def _display_name(latex: str, fallback: str) -> str:
    """A sympy-style name (`d_ff`, `h_kv`, `d_h^R`) from a symbol's LaTeX (`d_{\\mathrm{ff}}`), which sympy's
    printer splits into base, subscript and superscript; the symbol's own name if the LaTeX is not that simple."""
    text = re.sub(r"\\(?:mathrm|text|mathit|operatorname)\{([^{}]*)\}", r"\1", latex)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text).replace("{", "").replace("}", "")
    return text if re.fullmatch(r"[A-Za-z0-9]+(?:[_^][A-Za-z0-9]+)*", text) else fallback


class DeriveMathMLPrinter(MathMLPresentationPrinter):
    """sympy's presentation printer with derive's symbols and grouped integers (2,127,057,600)."""

    def __init__(self) -> None:
        super().__init__()

    def _print_Symbol(self, sym, style="plain"):  # noqa: N802 (sympy's naming)
        d = _BY_NAME.get(sym.name)
        name = _display_name(d.latex, sym.name) if d is not None else DERIVED_NAMES.get(sym.name, sym.name)
        return super()._print_Symbol(sympy.Symbol(name), style)

    def _print_Piecewise(self, expr):  # noqa: N802
        """Cases, one row each: `{ value  if condition ; value  otherwise }` (sympy writes piecewise(...))."""
        table = self.dom.createElement("mtable")
        table.setAttribute("columnalign", "left left")
        for value, cond in expr.args:
            row = self.dom.createElement("mtr")
            cell = self.dom.createElement("mtd")
            cell.appendChild(self._print(value))
            row.appendChild(cell)
            cell = self.dom.createElement("mtd")
            text = self.dom.createElement("mtext")
            text.appendChild(self.dom.createTextNode("otherwise" if cond == sympy.true else "if\u00a0"))
            cell.appendChild(text)
            if cond != sympy.true:
                cell.appendChild(self._print(cond))
            row.appendChild(cell)
            table.appendChild(row)
        brace = self.dom.createElement("mo")
        brace.appendChild(self.dom.createTextNode("{"))
        mrow = self.dom.createElement("mrow")
        mrow.appendChild(brace)
        mrow.appendChild(table)
        return mrow

    def _print_Integer(self, expr):  # noqa: N802
        mn = self.dom.createElement("mn")
        mn.appendChild(self.dom.createTextNode(f"{int(expr):,}"))
        return mn


@lru_cache(maxsize=4096)
def expr_mathml(expr: sympy.Expr) -> str:
    """The MathML of a closed form (an <mrow>, without the <math> element)."""
    return DeriveMathMLPrinter().doprint(sympy.sympify(expr))


@lru_cache(maxsize=None)
def symbol_mathml(name: str) -> str:
    """One symbol (`d_ff`) or derived size (`d_k`) as MathML."""
    symbol = SYMBOLS.get(name, sympy.Symbol(name))
    return expr_mathml(symbol)


def dim_mathml(dim: Dim) -> str:
    """A factor of a tree line: a symbol, a derived size (d_k, d_kv) or a constant."""
    if dim.name in _BY_NAME or dim.name in DERIVED_NAMES:
        return symbol_mathml(dim.name)
    if isinstance(dim.expr, sympy.Integer):
        return f"<mn>{int(dim.expr):,}</mn>"
    name = _display_name(dim.latex, dim.name)
    return DeriveMathMLPrinter().doprint(sympy.Symbol(name))


def mn(n: int) -> str:
    return f"<mn>{n:,}</mn>"


def math(inner: str, display: bool = False, label: str = "") -> str:
    """Wrap MathML in a <math> element (display block or inline); `label` is its alt text for screen readers."""
    attrs = ' display="block"' if display else ""
    if label:
        attrs += f' alttext="{escape_html(label)}"'
    return f"<math{attrs}>{inner}</math>"
