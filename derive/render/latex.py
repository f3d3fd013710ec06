"""Paper-quality LaTeX: one macro per symbol, siunitx numbers, and closed forms broken to fit a page.

Every LaTeX output derive writes starts with `macro_definitions()` (\\providecommand, so a paper that
already defines \\dmodel keeps its own), prints symbols through those macros and numbers through
\\dnum (siunitx \\num with thousands separators), so the same text works as a full document or \\input{}.
"""

from __future__ import annotations

import dataclasses
import re

import sympy
from sympy.printing.latex import LatexPrinter

from ..model.steps import Dim, Evaluated
from ..model.symbols import SYMBOL_DEFS, SYMBOLS
from .formatting import TreeLine, tree_lines

# Macro name of each symbol; the macro's body is the symbol's LaTeX in symbols.SYMBOL_DEFS (defined once).
MACRO_NAMES: dict[str, str] = {
    "vocab_size": "vocab",
    "context_length": "ctxlen",
    "num_layers": "nlayers",
    "d_model": "dmodel",
    "num_heads": "nheads",
    "d_ff": "dff",
    "batch_size": "batch",
    "seq_len": "seqlen",
}
# Derived sizes that appear in step trees but are not config symbols.
DERIVED_MACROS: dict[str, tuple[str, str]] = {"d_k": ("dhead", "d_k")}

# What a document must load for any derive LaTeX output (the fragment header lists these).
REQUIRED_PACKAGES: tuple[tuple[str, str], ...] = (
    ("amsmath", ""), ("booktabs", ""), ("tabularx", ""), ("siunitx", ""), ("pgfplots", ""),
)
PGFPLOTS_COMPAT = "1.18"


def macro(name: str) -> str:
    """The control sequence (with backslash) for a symbol or derived size name."""
    if name in MACRO_NAMES:
        return "\\" + MACRO_NAMES[name]
    return "\\" + DERIVED_MACROS[name][0]


def macro_definitions() -> str:
    """\\providecommand lines for every symbol macro and \\dnum; safe to repeat and to \\input twice."""
    lines = [rf"\providecommand{{\{MACRO_NAMES[d.name]}}}{{{d.latex}}}" for d in SYMBOL_DEFS
             if d.name in MACRO_NAMES]
    lines += [rf"\providecommand{{\{m}}}{{{body}}}" for m, body in DERIVED_MACROS.values()]
    lines.append(r"\providecommand{\dnum}[1]{\num[group-separator={,},group-minimum-digits=4]{#1}}")
    return "\n".join(lines)


def symbol_table() -> list[tuple[str, str, str]]:
    """(macro, config key, meaning) for the symbols section of a sheet."""
    rows = [(macro(d.name), d.name, d.meaning) for d in SYMBOL_DEFS if d.name in MACRO_NAMES]
    return rows + [(macro("d_k"), "d_model / num_heads", "width of one attention head")]


def packages_comment() -> str:
    names = ", ".join(p for p, _ in REQUIRED_PACKAGES)
    return (f"% derive LaTeX fragment: \\input{{}} it after \\usepackage{{{names}}}"
            f" and \\pgfplotsset{{compat={PGFPLOTS_COMPAT}}}.")


def num(n: int) -> str:
    return rf"\dnum{{{n}}}"


_NUMBER_AFTER_NUMBER = re.compile(r"(\d|\})\s+(?=\\dnum\{)")


class MacroPrinter(LatexPrinter):
    """sympy's LaTeX with symbol macros and \\dnum integers (only numbers of 4+ digits need grouping)."""

    def __init__(self, numbers: bool = True) -> None:
        super().__init__({"symbol_names": {SYMBOLS[n]: macro(n) for n in MACRO_NAMES}})
        self._numbers = numbers

    def doprint(self, expr) -> str:
        # sympy puts \cdot only between factors that start with a digit; \dnum{...} starts with "\".
        return _NUMBER_AFTER_NUMBER.sub(r"\1 \\cdot ", super().doprint(expr))

    def _print_Integer(self, expr: sympy.Integer) -> str:  # noqa: N802 (sympy's naming)
        if self._numbers and abs(int(expr)) >= 1000:
            return num(int(expr))
        return str(int(expr))


def _plain_parens(text: str) -> str:
    # \left( ... \right) cannot break across lines; plain parentheses can, and these are one level deep.
    return text.replace(r"\left(", "(").replace(r"\right)", ")")


def expr_tex(expr: sympy.Expr) -> str:
    return _plain_parens(MacroPrinter().doprint(expr))


_NUMBER_AFTER_NUMBER = re.compile(r"(\d|\})\s+(?=\\dnum\{)")



def with_numbers(expr: sympy.Expr, subs: dict) -> sympy.Expr:
    """The expression with numbers in place of symbols, left unevaluated (`48 (4 * 1600^2 + ...)`)."""
    with sympy.evaluate(False):
        return sympy.sympify(expr).xreplace({k: sympy.Integer(v) for k, v in subs.items() if k in expr.free_symbols})


def visible_width(tex: str) -> int:
    """Rough printed width in characters: a control word counts as one glyph, braces as none."""
    text = re.sub(r"\\dnum\{(\d+)\}", lambda m: f"{int(m.group(1)):,}", tex)
    text = re.sub(r"\\(cdot|left|right|Bigl|Bigr)", " ", text)
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return len(re.sub(r"[{}^_ ]", "", text))


def _terms_tex(expr: sympy.Expr, printer: MacroPrinter, width: int) -> list[str]:
    """Tokens of a sum, each starting with its sign; a long `c (a + b + ...)` term is opened up."""
    tokens: list[str] = []
    for i, term in enumerate(printer._as_ordered_terms(expr)):
        tex = _plain_parens(printer.doprint(term))
        sign = "" if i == 0 else ("" if tex.startswith("-") else "+ ")
        inner = [a for a in sympy.Mul.make_args(term) if isinstance(a, sympy.Add)]
        if visible_width(tex) > width and len(inner) == 1:
            coeff = term / inner[0]
            parts = _terms_tex(inner[0], printer, width)
            head = _plain_parens(printer.doprint(coeff))
            parts[0] = f"{sign}{head} \\Bigl({parts[0]}"
            parts[-1] = f"{parts[-1]}\\Bigr)"
            tokens.extend(parts)
        else:
            tokens.append(sign + tex)
    return tokens


def equation(lhs: str, expr: sympy.Expr, rhs_suffix: str = "", width: int = 58,
             more: tuple[sympy.Expr, ...] = ()) -> str:
    """`lhs = expr [= more ...] [suffix]` as equation*, or multline* broken at + and = when too wide."""
    printer = MacroPrinter()
    chain = [sympy.sympify(expr), *more]
    whole = f"{lhs} = " + " = ".join(expr_tex(e) for e in chain) + rhs_suffix
    if visible_width(whole) <= width:
        return f"\\begin{{equation*}}\n{whole}\n\\end{{equation*}}"
    tokens: list[str] = []
    for i, e in enumerate(chain):
        part = _terms_tex(e, printer, width)
        if i:
            part[0] = "= " + part[0]
        tokens.extend(part)
    if rhs_suffix:
        tokens.append(rhs_suffix.strip())
    lines, current = [], f"{lhs} = "
    for tok in tokens:
        if visible_width(current + tok) > width and current.strip() not in ("", f"{lhs} ="):
            lines.append(current.rstrip())
            current = ""
        current += tok + " "
    lines.append(current.rstrip())
    body = " \\\\\n".join(lines)
    return f"\\begin{{multline*}}\n{body}\n\\end{{multline*}}"


def dim_tex(dim: Dim) -> str:
    if dim.name in MACRO_NAMES or dim.name in DERIVED_MACROS:
        return macro(dim.name)
    if isinstance(dim.expr, sympy.Integer):
        return num(int(dim.expr)) if abs(int(dim.expr)) >= 1000 else str(dim.expr)
    return expr_tex(dim.expr)


def tex_tree_lines(root: Evaluated) -> list[TreeLine]:
    """tree_lines with LaTeX in macros and \\dnum: the same lines, the same order, printed for papers."""
    nodes = {node.key: node for node in root.walk()}
    out = []
    for line in tree_lines(root):
        node = nodes.get(line.key)
        if node is None or line.kind in ("heading", "lookup"):
            out.append(line)
            continue
        s = node.step
        if line.kind == "total":
            sym = expr_tex(s.expr)
            if node.repeat_value is not None:
                numbers = rf"{num(node.repeat_value)} \cdot {num(node.children[0].value)}"
            else:
                numbers = " + ".join(num(c.value) for c in node.children)
            if len(node.children) == 1 and node.repeat_value is None:
                numbers = ""
        else:
            sym = r" \cdot ".join(dim_tex(f) for f in s.factors)
            numbers = r" \cdot ".join(num(v) for v in node.factor_values) if len(s.factors) > 1 else ""
        out.append(dataclasses.replace(line, symbolic_tex=sym, numbers_tex=numbers))
    return out
