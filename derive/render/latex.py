"""Paper-quality LaTeX: one macro per symbol, siunitx numbers, and closed forms broken to fit a page.

Every LaTeX output derive writes starts with `macro_definitions()` (\\providecommand, so a paper that
already defines \\dmodel keeps its own), prints symbols through those macros and numbers through
\\dnum (siunitx \\num with thousands separators), so the same text works as a full document or \\input{}.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from typing import Sequence

import sympy
from sympy.printing.latex import LatexPrinter

from ..model.steps import Dim, Evaluated
from ..model.symbols import SYMBOL_DEFS, SYMBOLS
from .formatting import TreeLine, expr_text, tree_lines

# Macro names kept from derive's first sheets (papers may already use them). Every other symbol gets one by
# rule (macro_name), so a symbol added to symbols.SYMBOL_DEFS has its macro without an edit here.
LEGACY_MACROS: dict[str, str] = {
    "vocab_size": "vocab",
    "context_length": "ctxlen",
    "num_layers": "nlayers",
    "d_model": "dmodel",
    "num_heads": "nheads",
    "d_ff": "dff",
    "batch_size": "batch",
    "seq_len": "seqlen",
}
# Derived sizes that appear in step trees and have a macro (others print their own LaTeX, see dim_tex).
DERIVED_MACROS: dict[str, tuple[str, str, str]] = {
    "d_k": ("dhead", "d_k", "width of one attention head"),
}
_DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")


def macro_name(name: str) -> str:
    """The control word (without backslash) of a symbol: a legacy name, or `sym` + the name in CamelCase.

    The rule is deterministic and keeps distinct names distinct (`num_kv_heads` -> `symNumKvHeads`,
    `kv_lora_rank` -> `symKvLoraRank`); the `sym` prefix keeps clear of LaTeX's own commands (`\\dim`, `\\num`),
    which \\providecommand would otherwise silently keep. TeX control words hold letters only: digits are
    spelled (`w1` -> `symWOne`)."""
    if name in LEGACY_MACROS:
        return LEGACY_MACROS[name]
    if name in DERIVED_MACROS:
        return DERIVED_MACROS[name][0]
    words = [w for w in name.split("_") if w]
    camel = "".join(w[0].upper() + w[1:] for w in words)
    return "sym" + "".join(_DIGITS[int(c)] if c.isdigit() else c for c in camel if c.isalnum() and c.isascii())


def _check_macro_names() -> dict[str, str]:
    names = {d.name: macro_name(d.name) for d in SYMBOL_DEFS}
    names.update({n: m for n, (m, _, _) in DERIVED_MACROS.items()})
    seen: dict[str, str] = {}
    for sym, mac in names.items():
        if not mac.isalpha() or mac in seen:
            raise ValueError(f"symbol {sym!r}: macro \\{mac} is not a distinct control word")
        seen[mac] = sym
    return names


MACRO_NAMES: dict[str, str] = _check_macro_names()  # every symbol and derived size with a macro

# What a document must load for any derive LaTeX output (the fragment header lists these).
REQUIRED_PACKAGES: tuple[tuple[str, str], ...] = (
    ("amsmath", ""), ("booktabs", ""), ("tabularx", ""), ("xltabular", ""), ("siunitx", ""), ("pgfplots", ""),
)
PGFPLOTS_COMPAT = "1.18"


def macro(name: str) -> str:
    """The control sequence (with backslash) for a symbol or derived size name; KeyError for an unknown one."""
    return "\\" + MACRO_NAMES[name]


def macro_definitions() -> str:
    """\\providecommand lines for every symbol macro and \\dnum; safe to repeat and to \\input twice."""
    lines = [rf"\providecommand{{\{MACRO_NAMES[d.name]}}}{{{d.latex}}}" for d in SYMBOL_DEFS]
    lines += [rf"\providecommand{{\{m}}}{{{body}}}" for m, body, _ in DERIVED_MACROS.values()]
    lines.append(r"\providecommand{\dnum}[1]{\num[group-separator={,},group-minimum-digits=4]{#1}}")
    return "\n".join(lines)


def symbol_table(names: "set[str] | None" = None, derived: "Sequence[Dim]" = ()) -> list[tuple[str, str, str]]:
    """(symbol, config key or definition, meaning) rows of a sheet's symbols table, the first two as LaTeX.

    names: the symbols the sheet uses (None: every symbol); derived: sizes such as d_kv that the sheet's trees
    use, listed with their definition."""
    from .escape import escape_tex
    from .mathtext import prose_tex

    def key(name: str) -> str:
        return r"\texttt{" + escape_tex(name) + "}"

    rows = [(macro(d.name), key(d.name), d.meaning) for d in SYMBOL_DEFS if names is None or d.name in names]
    rows.append((macro("d_k"), prose_tex("d_model / num_heads"), DERIVED_MACROS["d_k"][2]))
    for dim in derived:
        if dim.name not in MACRO_NAMES:
            rows.append((dim.latex, prose_tex(f"{dim.name} = {expr_text(dim.expr)}"), "derived size"))
    return rows


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
        super().__init__({"symbol_names": {SYMBOLS[d.name]: macro(d.name) for d in SYMBOL_DEFS}})
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


@lru_cache(maxsize=4096)
def expr_tex(expr: sympy.Expr) -> str:
    """A closed form in LaTeX with derive's macros and \\dnum numbers (cached: trees share their formulas)."""
    return _plain_parens(MacroPrinter().doprint(expr))





def with_numbers(expr: sympy.Expr, subs: dict) -> sympy.Expr:
    """The expression with numbers in place of symbols, left unevaluated (`48 (4 * 1600^2 + ...)`)."""
    with sympy.evaluate(False):
        return sympy.sympify(expr).xreplace({k: sympy.Integer(v) for k, v in subs.items() if k in expr.free_symbols})


def visible_width(tex: str) -> int:
    """Rough printed width in characters: a control word counts as one glyph, braces as none."""
    text = re.sub(r"\\dnum\{(\d+)\}", lambda m: f"{int(m.group(1)):,}", tex)
    text = re.sub(r"\\(cdot|left|right|Bigl|Bigr)", " ", text)
    text = re.sub(r"\\sym[A-Za-z]+", "xxx", text)  # a letter with a worded subscript (r_kv, d_nope): ~3 glyphs
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return len(re.sub(r"[{}^_ ]", "", text))


def _terms_tex(expr: sympy.Expr, printer: MacroPrinter, width: int) -> list[str]:
    """Tokens of a sum, each starting with its sign; a long `c (a + b + ...)` term is opened up."""
    tokens: list[str] = []
    for i, term in enumerate(printer._as_ordered_terms(expr)):
        tex = _plain_parens(printer.doprint(term))
        sign = "" if i == 0 else ("" if tex.startswith("-") else "+ ")
        inner = [a for a in sympy.Mul.make_args(term) if isinstance(a, sympy.Add)]
        if visible_width(tex) > width and inner:
            # Open the longest sum; other sums stay in the coefficient ((L - L_dense) (a + b + ...) opens the
            # second: DeepSeek's MoE layers ran 249 pt into the margin when only a lone sum was opened).
            big = max(inner, key=lambda a: visible_width(printer.doprint(a)))
            coeff = term / big
            parts = _terms_tex(big, printer, width)
            head = _plain_parens(printer.doprint(coeff))
            if isinstance(coeff, sympy.Add):  # (L - L_dense) stays one factor
                head = f"({head})"
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


def align_row(lhs: str, expr: sympy.Expr, width: int = 40) -> str:
    """`lhs &= expr` for an align* environment, continued on `&\\quad + ...` lines where wider than `width`."""
    whole = expr_tex(expr)
    if visible_width(f"{lhs} = {whole}") <= width:
        return f"{lhs} &= {whole}"
    lines, current = [], ""
    for tok in _terms_tex(sympy.sympify(expr), MacroPrinter(), width - 4):
        if current and visible_width(current + tok) > width - 4:
            lines.append(current.rstrip())
            current = ""
        current += tok + " "
    lines.append(current.rstrip())
    return f"{lhs} &= {lines[0]}" + "".join(f" \\\\\n&\\quad {line}" for line in lines[1:])


def dim_tex(dim: Dim) -> str:
    if dim.name in MACRO_NAMES:
        return macro(dim.name)
    if not isinstance(dim.expr, sympy.Integer) and dim.latex:
        return dim.latex  # a derived size without a macro (d_kv): its own LaTeX, listed in the symbol table
    if isinstance(dim.expr, sympy.Integer):
        return num(int(dim.expr)) if abs(int(dim.expr)) >= 1000 else str(dim.expr)
    return expr_tex(dim.expr)


_REPEATED = re.compile(r"^(.*) \(x (\w+)\)$")


def label_tex(label: str) -> str:
    """A tree line's name in typewriter, breakable after underscores; `block (x num_layers)` gets its factor
    as math (`\\texttt{block} ($\\times\\,\\nlayers$)`)."""
    from .escape import escape_tex

    m = _REPEATED.match(label)
    name, times = (m.group(1), m.group(2)) if m else (label, None)
    tex = r"\texttt{" + escape_tex(name).replace(r"\_", r"\_\allowbreak{}") + "}"
    if times is not None:
        factor = macro(times) if times in MACRO_NAMES else r"\texttt{" + escape_tex(times) + "}"
        tex += rf" ($\times\,{factor}$)"
    return tex


def tex_tree_lines(root: Evaluated) -> list[TreeLine]:
    """tree_lines with LaTeX in macros and \\dnum: the same lines, the same order, printed for papers."""
    nodes = {node.key: node for node in root.walk()}
    out = []
    for line in tree_lines(root):
        node = nodes.get(line.key)
        if node is None or line.kind in ("heading", "lookup"):
            out.append(dataclasses.replace(line, label_tex=label_tex(line.label)))
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
        out.append(dataclasses.replace(line, symbolic_tex=sym, numbers_tex=numbers, label_tex=label_tex(line.label)))
    return out
