"""The HTML sheets' pieces: closed forms and tree lines in MathML, the symbols list, charts as inline SVG.

The page is one self-contained file: MathML (rendered by the browser itself), inline SVG and an inline
stylesheet; no script, font or stylesheet is fetched from anywhere.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Sequence

import sympy
from markupsafe import Markup

from ..model.steps import Dim, Evaluated
from ..model.symbols import SYMBOL_DEFS
from .escape import escape_html
from .formatting import TreeLine, expr_text, tree_lines
from .mathml import DeriveMathMLPrinter, dim_mathml, expr_mathml, math, mn, symbol_mathml

_DOT = "<mo>\u22c5</mo>"
_PLUS = '<mo form="infix">+</mo>'  # a sum's term in its own <math>: keep the spacing of a binary operator
_MINUS = '<mo form="infix">\u2212</mo>'


def lhs_mathml(lhs: str) -> str:
    """`P`, `P_active`, `F` (sympy-style names) as MathML."""
    return DeriveMathMLPrinter().doprint(sympy.Symbol(lhs))


def inline_math(expr: Any) -> str:
    return math(expr_mathml(sympy.sympify(expr)))


def wrapping_math(expr: Any) -> str:
    """A sum as one inline <math> per term (MathML does not break lines; the browser breaks between them)."""
    expr = sympy.sympify(expr)
    if not isinstance(expr, sympy.Add):
        return math(expr_mathml(expr))
    printer = DeriveMathMLPrinter()
    parts = []
    for i, term in enumerate(printer._as_ordered_terms(expr)):
        negative = term.could_extract_minus_sign()
        body = expr_mathml(-term if negative else term)
        op = _MINUS if negative else (_PLUS if i else "")
        parts.append(math(op + body))
    return " ".join(parts)


def equation(lhs: str, expr: Any, value: int | None = None, more: tuple[Any, ...] = (), prefix: str = "") -> str:
    """`lhs [- prefix] = expr [= more ...] [= value]` as a display <math> (it scrolls sideways when too wide)."""
    head = lhs_mathml(lhs) + (f"<mo>\u2212</mo>{lhs_mathml(prefix)}" if prefix else "")
    parts = [head] + [expr_mathml(sympy.sympify(e)) for e in (expr, *more)]
    if value is not None:
        parts.append(mn(value))
    return math("<mo>=</mo>".join(parts), display=True)


_REPEATED = re.compile(r"^(.*) \(x (\w+)\)$")


def label_html(label: str) -> str:
    """A tree line's name as code; `block (x num_layers)` gets its factor as math."""
    m = _REPEATED.match(label)
    name, times = (m.group(1), m.group(2)) if m else (label, None)
    out = f"<code>{escape_html(name)}</code>"
    if times is not None:
        out += f" (<math><mo>\u00d7</mo>{symbol_mathml(times)}</math>)"
    return out


@dataclasses.dataclass(frozen=True)
class HtmlLine:
    """A tree line for HTML: the text line (label, value) and its name, formula and numbers in MathML."""

    line: TreeLine
    symbolic: str
    numbers: str

    @property
    def label_html(self) -> Markup:
        return Markup(label_html(self.line.label))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.line, name)


def html_tree_lines(root: Evaluated) -> list[HtmlLine]:
    """tree_lines with MathML: the same lines, in the same order, as the Markdown and LaTeX sheets."""
    nodes = {node.key: node for node in root.walk()}
    out = []
    for line in tree_lines(root):
        node = nodes.get(line.key)
        if node is None or line.kind in ("heading", "lookup"):
            out.append(HtmlLine(line, Markup(""), Markup("")))
            continue
        s = node.step
        if line.kind == "total":
            sym_html = wrapping_math(s.expr)
            if node.repeat_value is not None:
                numbers = math(mn(node.repeat_value) + _DOT + mn(node.children[0].value))
            elif len(node.children) > 1:  # one <math> per term: the browser wraps a long sum between them
                numbers = " ".join(math((_PLUS if i else "") + mn(c.value)) for i, c in enumerate(node.children))
            else:
                numbers = ""
        else:
            sym_html = math(_DOT.join(dim_mathml(f) for f in s.factors))
            numbers = math(_DOT.join(mn(v) for v in node.factor_values)) if len(s.factors) > 1 else ""
        out.append(HtmlLine(line, Markup(sym_html), Markup(numbers)))
    return out


def symbol_rows(names: "set[str] | None" = None, derived: "Sequence[Dim]" = ()) -> list[tuple[Markup, Markup, str]]:
    """(symbol, config key or definition, meaning) rows of a sheet's symbols table (None: every symbol)."""
    from .mathtext import prose_html

    def key(name: str) -> Markup:
        return Markup(f"<code>{escape_html(name)}</code>")

    rows = [(Markup(math(symbol_mathml(d.name))), key(d.name), d.meaning)
            for d in SYMBOL_DEFS if names is None or d.name in names]
    rows.append((Markup(math(symbol_mathml("d_k"))), Markup(prose_html("d_model / num_heads")),
                 "width of one attention head"))
    for dim in derived:
        rows.append((Markup(math(dim_mathml(dim))), Markup(prose_html(f"{dim.name} = {expr_text(dim.expr)}")),
                     "derived size"))
    return rows


def symbol(name: str) -> Markup:
    return Markup(math(symbol_mathml(name)))


def chart_svg(kind: str, data: dict[str, Any]) -> str:
    """A chart (shares or context) as an inline <svg> element."""
    from .charts import chart_svg as draw

    return draw(kind, data, standalone=False)




def crossover_math(cross: dict[str, Any]) -> Markup:
    """`equation  =>  S* = expr = value` of part (e), as display MathML."""
    eq = cross["equation"]
    star = "<msup><mi>S</mi><mo>*</mo></msup>"
    value = cross["exact"]
    value_ml = mn(int(value)) if value.denominator == 1 else f"<mn>{float(value):,.1f}</mn>"
    inner = (f"{expr_mathml(eq.lhs)}<mo>=</mo>{expr_mathml(eq.rhs)}<mspace width=\"2em\"/><mo>\u27f9</mo>"
             f"<mspace width=\"2em\"/>{star}<mo>=</mo>{expr_mathml(cross['expr'])}<mo>=</mo>{value_ml}")
    return Markup(math(inner, display=True))
