"""The HTML sheets' pieces: closed forms and tree lines in MathML, the symbols list, charts as inline SVG.

The page is one self-contained file: MathML (rendered by the browser itself), inline SVG and an inline
stylesheet; no script, font or stylesheet is fetched from anywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sympy

from ..model.steps import Evaluated
from ..model.symbols import SYMBOL_DEFS
from .formatting import TreeLine, tree_lines
from .mathml import DeriveMathMLPrinter, dim_mathml, expr_mathml, math, mn, symbol_mathml

_DOT = "<mo>\u22c5</mo>"


def lhs_mathml(lhs: str) -> str:
    """`P`, `P_active`, `F` (sympy-style names) as MathML."""
    return DeriveMathMLPrinter().doprint(sympy.Symbol(lhs))


def inline_math(expr: Any) -> str:
    return math(expr_mathml(sympy.sympify(expr)))


def equation(lhs: str, expr: Any, value: int | None = None, more: tuple[Any, ...] = ()) -> str:
    """`lhs = expr [= more ...] [= value]` as a display <math> (browsers wrap long lines themselves)."""
    parts = [lhs_mathml(lhs)] + [expr_mathml(sympy.sympify(e)) for e in (expr, *more)]
    if value is not None:
        parts.append(mn(value))
    return math("<mo>=</mo>".join(parts), display=True)


@dataclasses.dataclass(frozen=True)
class HtmlLine:
    """A tree line for HTML: the text line (label, value) and its formula and numbers in MathML."""

    line: TreeLine
    symbolic: str
    numbers: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.line, name)


def html_tree_lines(root: Evaluated) -> list[HtmlLine]:
    """tree_lines with MathML: the same lines, in the same order, as the Markdown and LaTeX sheets."""
    nodes = {node.key: node for node in root.walk()}
    out = []
    for line in tree_lines(root):
        node = nodes.get(line.key)
        if node is None or line.kind in ("heading", "lookup"):
            out.append(HtmlLine(line, "", ""))
            continue
        s = node.step
        if line.kind == "total":
            sym = expr_mathml(s.expr)
            if node.repeat_value is not None:
                numbers = mn(node.repeat_value) + _DOT + mn(node.children[0].value)
            elif len(node.children) > 1:
                numbers = "<mo>+</mo>".join(mn(c.value) for c in node.children)
            else:
                numbers = ""
        else:
            sym = _DOT.join(dim_mathml(f) for f in s.factors)
            numbers = _DOT.join(mn(v) for v in node.factor_values) if len(s.factors) > 1 else ""
        out.append(HtmlLine(line, math(sym), math(numbers) if numbers else ""))
    return out


def symbol_rows(names: "set[str] | None" = None) -> list[tuple[str, str, str]]:
    """(MathML, config key, meaning) for the symbols a sheet uses (None: all)."""
    rows = [(math(symbol_mathml(d.name)), d.name, d.meaning) for d in SYMBOL_DEFS if names is None or d.name in names]
    rows.append((math(symbol_mathml("d_k")), "d_model / num_heads", "width of one attention head"))
    return rows


def chart_svg(kind: str, data: dict[str, Any]) -> str:
    """A chart (shares or context) as an inline <svg> element."""
    from .charts import chart_svg as draw

    return draw(kind, data, standalone=False)


