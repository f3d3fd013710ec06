"""How results show themselves in Jupyter: a result lists its rows, the render layer writes them.

Any result class (Accounting, TrainAccounting, and the inference results to come) inherits Displayable and
says what it holds in `display_rows()`: a label, the closed form, the exact value and its unit. Jupyter calls
`_repr_markdown_` and `_repr_latex_`; they hand the rows to the writers derive.render.notebook registers
(imports flow one way: this layer cannot import the render layer, so the render layer registers itself when
derive.api is imported). Without a registered writer the methods return None and Jupyter falls back to repr.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import sympy


@dataclass(frozen=True)
class DisplayRow:
    """One line of a result's display: `label` (words), `symbol` (its name in formulas, sympy-style such as
    `P_active`), `expr` (the closed form, or None), `value` (exact), `unit` (bytes, FLOPs, s, ...)."""

    label: str
    symbol: str
    expr: sympy.Expr | None
    value: int | Fraction
    unit: str = ""


_WRITERS: dict[str, Callable[["Displayable"], str]] = {}


def register_display(mime: str, writer: Callable[["Displayable"], str]) -> None:
    """Register the writer of one representation: "markdown" or "latex"."""
    _WRITERS[mime] = writer


class Displayable:
    """Mixin for results: Jupyter shows them as a Markdown table and as LaTeX, closed form before value."""

    def display_title(self) -> str:
        raise NotImplementedError

    def display_rows(self) -> list[DisplayRow]:
        raise NotImplementedError

    def _display(self, mime: str) -> Any:
        writer = _WRITERS.get(mime)
        return writer(self) if writer is not None else None

    def _repr_markdown_(self) -> str | None:
        return self._display("markdown")

    def _repr_latex_(self) -> str | None:
        return self._display("latex")
