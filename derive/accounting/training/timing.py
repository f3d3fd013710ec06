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

import sympy

from ...errors import UsageError, shown
from ..conventions.facts import facts_of
from ..conventions.registry import CONVENTIONS
from ..hardware import Hardware, hardware_table, utilization
from .derivation import TrainingDerivation
from .precision import Precision

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
        return utilization(self.flops, seconds, self.devices, self.peak)

    def mfu_from_throughput(self, tokens_per_second: Fraction) -> Fraction:
        return utilization(self.flops, Fraction(self.tokens) / tokens_per_second, self.devices, self.peak)


def training_hardware(name: str | None, default: str, precision: Precision) -> tuple[Hardware, str]:
    """The hardware whose peak times a run, and why it was chosen ("" when given as a key of hardware.yaml, or for
    the homework's fp32 default). Without --hardware: the problem's accelerator (a100) at the precision's compute
    dtype (bf16-mixed: a100-bf16; fp16-mixed: the entry listing fp16 in `also`), as `derive infer` completes
    --hardware from --dtype; fp32 keeps the problem's a100-fp32. A bare accelerator name (`h100`) is completed
    the same way. UsageError naming --hardware when no entry fits."""
    table = hardware_table()
    if name is not None and name in table:
        hw = table[name]
        return hw, "" if hw.dtype == precision.compute or precision.compute in hw.also else \
            f"given; its {hw.dtype} peak, not {precision.key}'s compute dtype {precision.compute}"
    base = default.rsplit("-", 1)[0] if name is None else name
    if name is None and precision.compute == table[default].dtype:
        return table[default], ""
    keys = [k for k, hw in table.items() if k.rsplit("-", 1)[0] == base and
            (hw.dtype == precision.compute or precision.compute in hw.also)]
    if not keys:
        if name is None:  # no entry of the problem's accelerator in this dtype: its own peak, said so
            return table[default], f"the problem's; no {precision.compute} entry for it"
        raise UsageError(f"--hardware: unknown hardware {shown(name)} for {precision.compute} "
                         f"(known: {', '.join(table)})")
    how = f"the problem's {base}" if name is None else f"--hardware {name}"
    return table[keys[0]], f"{how} at {precision.key}'s compute dtype, {precision.compute}"
