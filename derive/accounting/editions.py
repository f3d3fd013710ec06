"""Handout editions as data: the CS336 assignment 1 accounting problems of one year (configs/editions/YEAR.yaml).

An edition holds what a handout gives and asks: its model's architecture, the configs (with d_ff given or
derived by a named rule), which parts each problem has and what each answers, the activation list, the
hardware, MFU, steps, batch, memory budgets and the unit of the training time. Adding an edition is adding a
file; `--edition PATH.yaml` reads one from anywhere. Every error names the file and the key (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import sympy

from ..errors import ConfigError, UsageError
from ..model import symbols as sy
from ..model.config import ArchOptions, ModelConfig, apply_overrides, load_config
from ..resources import DEFAULT_EDITION, editions_dir
from .hardware import Hardware

TRANSFORMER_SECTIONS = ("parameters", "matmuls", "ranking", "family", "long_context")
ADAMW_SECTIONS = ("memory", "batch", "flops", "time")
TIME_UNITS = {"days": 24 * 60 * 60, "hours": 60 * 60}


def edition_names() -> list[str]:
    """The editions shipped in configs/editions, oldest first."""
    return sorted(p.stem for p in editions_dir().glob("*.yaml"))


@dataclass(frozen=True)
class DffRule:
    """d_ff as a function of d_model: multiplier x d_model, optionally the nearest multiple of `multiple_of`.

    `text` says it in words; `given` says whether the handout states it (True) or derive assumes it."""

    key: str
    multiplier: Fraction
    multiple_of: int | None = None
    text: str = ""
    given: bool = False

    def expr(self, d_model: sympy.Expr = sy.d) -> sympy.Expr:
        """The rule as a sympy expression; nearest multiple: m * floor(x / m + 1/2) (a tie rounds up)."""
        exact = sympy.Rational(self.multiplier.numerator, self.multiplier.denominator) * d_model
        if self.multiple_of is None:
            return exact
        m = sympy.Integer(self.multiple_of)
        return m * sympy.floor(exact / m + sympy.Rational(1, 2))

    def exact(self, d_model: int) -> Fraction:
        return self.multiplier * d_model

    def value(self, d_model: int) -> int | Fraction:
        """d_ff for this d_model: an int when the rule rounds (or the product is whole), else a Fraction."""
        v = sympy.nsimplify(self.expr(sympy.Integer(d_model)))
        return int(v) if v.is_Integer else Fraction(int(v.p), int(v.q))

    def working(self, d_model: int) -> str:
        """The rule with this d_model's numbers: `64 x round(8 / 3 x 1,600 / 64) = 64 x 67 = 4,288` (written in
        the notation the sheets typeset as math in LaTeX and HTML: operators between spaces)."""
        mult = fmt_multiplier(self.multiplier)
        if self.multiple_of is None:
            return f"{mult} x {d_model:,} = {fmt_fraction(self.exact(d_model))}"
        m = self.multiple_of
        return (f"{m} x round({mult} x {d_model:,} / {m}) = {m} x {int(self.value(d_model)) // m:,} "
                f"= {int(self.value(d_model)):,}")


def fmt_multiplier(m: Fraction) -> str:
    """`4`, or `8 / 3` (spaced: a formula in the sheets' prose, where 8/3 would read as a word)."""
    return str(m.numerator) if m.denominator == 1 else f"{m.numerator} / {m.denominator}"


def fmt_fraction(x: Fraction | int) -> str:
    """4,266.67 for 12800/3 (two decimals, as the sheets print non-integers); 3,072 for a whole number."""
    x = Fraction(x)
    if x.denominator == 1:
        return f"{x.numerator:,}"
    return f"{float(x):,.2f}"


@dataclass(frozen=True)
class Part:
    """One lettered part of a problem: which of the sheet's sections answer it, an optional heading for a part
    that several sections answer, and what it asks (in our words)."""

    label: str
    answers: tuple[str, ...]
    heading: str = ""
    asks: str = ""


@dataclass(frozen=True)
class TransformerProblem:
    problem: str
    subject: str
    family: tuple[str, ...]
    family_heading: str
    long_context: int
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class AdamwProblem:
    problem: str
    model: str
    d_ff: DffRule
    activations: str  # a name in derive.accounting.training.activations.ACTIVATION_SETS
    budgets: tuple[str, ...]
    steps: int
    batch_size: int
    hardware: Hardware
    mfu: str
    time_unit: str
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Edition:
    name: str
    handout: str
    source: str
    arch: ArchOptions
    models: Mapping[str, ModelConfig]
    transformer: TransformerProblem
    adamw: AdamwProblem
    path: str = field(default="", compare=False)

    @property
    def is_default(self) -> bool:
        """The shipped default edition (a file of your own that calls itself 2025 is not)."""
        return Path(self.path) == (editions_dir() / f"{DEFAULT_EDITION}.yaml").resolve()

    def config(self, name: str, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
        """One of the edition's models (or, when it has none of that name, a preset), with --set overrides."""
        if name in self.models:
            return apply_overrides(self.models[name], overrides)
        return load_config(name, overrides)


def load_edition(spec: str | None = None) -> Edition:
    """An edition by name (`2026`) or path (`my-course.yaml`); None is the default edition (2025).

    UsageError for an unknown name (the message lists the known ones); ConfigError naming the file and the
    dotted key for a file that is missing, not YAML, or inconsistent (a d_ff that is not its rule's, a part
    that answers no section, a tensor the activation catalog lacks, a budget that is not one ...)."""
    from .edition_file import read_edition  # the reader: only needed when an edition is loaded
    spec = DEFAULT_EDITION if spec is None else str(spec)
    if spec.endswith((".yaml", ".yml")) or "/" in spec:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(spec, None, "no such edition file")
        return read_edition(str(path.resolve()))
    if spec not in edition_names():
        raise UsageError(f"--edition: unknown edition {spec!r} (known editions: {', '.join(edition_names())})")
    return read_edition(str((editions_dir() / f"{spec}.yaml").resolve()))
