"""How numbers and expressions are written: thousands separators, text and LaTeX forms, tree lines."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import sympy
from sympy.printing.str import StrPrinter

from ..model.steps import Evaluated
from ..model.symbols import LATEX_NAMES

GB = 10**9
GIB = 2**30


def fmt_int(n: int) -> str:
    return f"{n:,}"


def tex_int(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def fmt_decimal(x: Fraction | int | float, places: int = 2) -> str:
    """Rounded for display; exact ratios are rounded exactly (half to even), so no float digits leak in."""
    if isinstance(x, float):
        return f"{x:,.{places}f}"
    q = round(Fraction(x) * 10**places)
    whole, frac = divmod(abs(q), 10**places)
    sign = "-" if q < 0 else ""
    return f"{sign}{whole:,}" + (f".{frac:0{places}d}" if places else "")


class _TextPrinter(StrPrinter):
    """sympy's str printer with the cases and extrema a reader writes by hand: a Piecewise as
    `{1 if batch_size = 1; num_heads / tp otherwise}`, Min/Max as `min(E, B * k * N)`, Eq as `a = b` (sympy's
    own forms, `Piecewise((1, Eq(batch_size, 1)), ...)` and `Min(...)`, are Python, not mathematics)."""

    def _print_Piecewise(self, expr):  # noqa: N802 (sympy's naming)
        cases = [f"{self._print(value)} otherwise" if cond == sympy.true else
                 f"{self._print(value)} if {self._print(cond)}" for value, cond in expr.args]
        return "{" + "; ".join(cases) + "}"

    def _print_Equality(self, expr):  # noqa: N802
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"

    def _print_Unequality(self, expr):  # noqa: N802
        return f"{self._print(expr.lhs)} != {self._print(expr.rhs)}"

    def _minmax(self, name: str, expr) -> str:
        return f"{name}(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr):  # noqa: N802
        return self._minmax("min", expr)

    def _print_Max(self, expr):  # noqa: N802
        return self._minmax("max", expr)


@lru_cache(maxsize=4096)
def expr_text(expr: sympy.Expr) -> str:
    """Plain-text closed form (cached per expression: a Derivation's totals print once, not per config) in the
    hand-derivation style: `num_layers * (4 * d_model^2 + ...)`; cases and extrema as _TextPrinter writes them."""
    return _TextPrinter().doprint(expr).replace("**", "^").replace("*", " * ").replace("/", " / ")


@lru_cache(maxsize=4096)
def expr_latex(expr: sympy.Expr) -> str:
    return sympy.latex(expr, symbol_names=LATEX_NAMES)


def shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(x) for x in shape) + ")"


@dataclass(frozen=True)
class TreeLine:
    """One line of an indented derivation: `label: symbolic = numbers = value`."""

    depth: int
    label: str
    segments: tuple[str, ...]  # text segments after the label, joined by " = "
    value: int | None
    symbolic_tex: str = ""
    numbers_tex: str = ""
    kind: str = ""
    key: str = ""
    label_tex: str = ""  # set by latex.tex_tree_lines

    @property
    def text(self) -> str:
        body = " = ".join(self.segments)
        return f"{'    ' * self.depth}{self.label}:" + (f" {body}" if body else "")


def _leaf_line(node: Evaluated, depth: int) -> TreeLine:
    s = node.step
    if s.kind == "lookup":
        return TreeLine(depth, s.title, (f"0 ({s.note})",), 0, "0", "0", s.kind, s.key)
    names = " * ".join(f.name for f in s.factors)
    numbers = " * ".join(fmt_int(v) for v in node.factor_values)
    tex_sym = r" \cdot ".join(f.latex for f in s.factors)
    tex_num = r" \cdot ".join(tex_int(v) for v in node.factor_values)
    if s.kind == "matmul":
        shapes_sym = " @ ".join(shape_text(tuple(d.name for d in shape)) for shape in s.shapes)
        shapes_num = " @ ".join(shape_text(shape) for shape in node.shape_values)
        segments = (shapes_sym, shapes_num, numbers, fmt_int(node.value))
    elif len(s.factors) == 1:
        segments = (names, fmt_int(node.value))
    else:
        segments = (names, numbers, fmt_int(node.value))
    return TreeLine(depth, s.title, segments, node.value, tex_sym, tex_num, s.kind, s.key)


def _total_line(node: Evaluated, depth: int) -> TreeLine:
    s = node.step
    if node.repeat_value is not None:
        numbers = f"{fmt_int(node.repeat_value)} * {fmt_int(node.children[0].value)}"
        tex_num = rf"{tex_int(node.repeat_value)} \cdot {tex_int(node.children[0].value)}"
    else:
        numbers = " + ".join(fmt_int(c.value) for c in node.children)
        tex_num = " + ".join(tex_int(c.value) for c in node.children)
    segments = (expr_text(s.expr), numbers, fmt_int(node.value))
    if numbers == fmt_int(node.value):
        segments = (segments[0], segments[2])
    return TreeLine(depth, s.total_title, segments, node.value, expr_latex(s.expr), tex_num, "total", s.key)


def tree_lines(root: Evaluated) -> list[TreeLine]:
    """The root's children at depth 0 and its total last, as the hand derivation lays them out."""
    lines: list[TreeLine] = []

    def go(node: Evaluated, depth: int) -> None:
        s = node.step
        if s.kind == "repeat" and not node.children[0].children:
            lines.append(_leaf_line(node.children[0], depth))
            lines.append(_total_line(node, depth))
        elif s.kind == "repeat":
            child = node.children[0]
            title = f"{child.step.title} (x {s.repeat.name})"
            lines.append(TreeLine(depth, title, (), None, kind="heading", key=child.key))
            for grandchild in child.children:
                go(grandchild, depth + 1)
            lines.append(_total_line(child, depth + 1))
            lines.append(_total_line(node, depth))
        elif s.children:
            lines.append(TreeLine(depth, s.title, (), None, kind="heading", key=s.key))
            for child in node.children:
                go(child, depth + 1)
            lines.append(_total_line(node, depth + 1))
        else:
            lines.append(_leaf_line(node, depth))

    for child in root.children:
        go(child, 0)
    lines.append(_total_line(root, 0))
    return lines
