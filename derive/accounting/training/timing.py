"""Step FLOPs under a named convention, training time at a given MFU, and MFU from a measured run.

The FLOPs of a step are derive's exact count (forward + backward per matmul, derivation.py) or any training
convention of the registry (derive.accounting.conventions: 6n, palm, megatron, ...), defined there once and
evaluated here for batch_size sequences of seq_len tokens. MFU divides model FLOPs (no recomputation) by the
peak of every device; with recomputation on, the hardware FLOPs utilization (HFU) adds the recomputed FLOPs
(Chowdhery et al. 2022, Appendix B; Korthikanti et al. 2022, Section 6.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from ...errors import UsageError, shown
from ..conventions.facts import facts_of
from ..conventions.registry import CONVENTIONS
from .derivation import TrainingDerivation

EXACT = "exact"


def flop_conventions() -> list[str]:
    """Conventions a training step can be counted with: exact, and every registered training convention."""
    return [EXACT, *(k for k, c in CONVENTIONS.items() if c.scope != "forward")]


def step_flops_expr(t: TrainingDerivation, convention: str) -> sympy.Expr:
    """Model FLOPs of one step of batch_size sequences of seq_len tokens, in symbols."""
    if convention == EXACT:
        return t.forward.expr + t.backward.expr
    if convention not in CONVENTIONS:
        raise UsageError(f"--flops: unknown convention {shown(convention)} (known: {', '.join(flop_conventions())})")
    c = CONVENTIONS[convention]
    if c.scope == "forward":
        raise UsageError(f"--flops {convention}: counts the forward pass only, not a training step "
                         f"(training conventions: {', '.join(flop_conventions())})")
    return c.per_step(facts_of(t.model))


def convention_line(convention: str) -> str:
    """What the step FLOPs count, printed next to every time and MFU."""
    if convention == EXACT:
        return "exact: forward + backward per matmul (dX and dW of every matmul), model FLOPs"
    c = CONVENTIONS[convention]
    what = "hardware FLOPs (recomputation counted): an HFU, not an MFU" if c.scope == "training+recompute" else \
        "model FLOPs"
    return f"{c.key}: {c.title}, {c.as_written}; {what}"


def positive_number(value: Any, option: str) -> Fraction:
    """A positive exact number ('2.5', '1e-3', '3/2'); UsageError naming `option` otherwise."""
    text = str(value).strip()
    try:
        if len(text) > 60:
            raise ValueError
        number = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{option}: expected a positive number, got {shown(text)}") from None
    if number <= 0:
        raise UsageError(f"{option}: expected a positive number, got {shown(text)}")
    return number


@dataclass(frozen=True)
class Timing:
    """One step's FLOPs under a convention, on `devices` devices of `peak` FLOP/s each."""

    convention: str
    flops: int  # model FLOPs per step (the convention's count)
    recompute: int  # FLOPs recomputed per step (exact count; 0 without recomputation)
    devices: int
    peak: int
    steps: int
    tokens: int  # tokens per step

    def seconds(self, mfu: Fraction) -> Fraction:
        """Time of all steps at the given MFU: steps x FLOPs / (devices x peak x MFU)."""
        return Fraction(self.steps * self.flops) / (self.devices * self.peak * mfu)

    def hfu(self, mfu: Fraction) -> Fraction:
        """The hardware FLOPs utilization the same run has when recomputation is done as well."""
        return mfu * Fraction(self.flops + self.recompute, self.flops)

    def mfu_from_step_time(self, seconds: Fraction) -> Fraction:
        return Fraction(self.flops) / (seconds * self.devices * self.peak)

    def mfu_from_throughput(self, tokens_per_second: Fraction) -> Fraction:
        return Fraction(self.flops) * tokens_per_second / (self.tokens * self.devices * self.peak)
