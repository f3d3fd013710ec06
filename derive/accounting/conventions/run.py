"""`derive conventions` for one config: every convention's value beside the exact count, MFU from a throughput.

Values are exact integers (per step: batch_size sequences of seq_len tokens, and in each convention's own unit);
MFU is an exact fraction until it is printed. MFU = (FLOPs per step) x (steps per second) / (devices x peak),
steps per second = measured tokens per second / (batch_size x seq_len): the same throughput gives a different MFU
under each convention, and the spread is how much of a reported MFU is convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import sympy

from ...errors import UsageError, shown
from ...model import symbols as sy
from ...model.architectures import Derivation, derivation_for
from ...model.config import ModelConfig
from ...model.steps import substitute
from ..account import substitution
from ..hardware import get_hardware, positive_number, utilization
from .facts import PARAM_COUNTS
from .reconcile import Reconciled, TermRow, exact_total, reconcile_all, simplify
from .registry import PER, SCOPES


@dataclass(frozen=True)
class Measured:
    """A measured training throughput and the peak it is compared with (MFU's denominator)."""

    tokens_per_second: Fraction
    devices: int
    peak_flops: Fraction  # per device, FLOP/s
    hardware: str

    def utilization(self, flops_per_step: int, tokens_per_step: int) -> Fraction:
        """FLOPs per step x steps per second / (devices x peak): MFU (or HFU when recomputation is counted)."""
        return utilization(flops_per_step, Fraction(tokens_per_step) / self.tokens_per_second, self.devices,
                           self.peak_flops)


def measured(tokens_per_second: Any = None, hardware: str | None = None, peak_flops: Any = None,
             devices: int = 1) -> Measured | None:
    """None without a throughput; with one, --hardware (configs/hardware.yaml) or --peak-flops is required."""
    if tokens_per_second is None:
        if hardware is not None or peak_flops is not None:
            raise UsageError("--tokens-per-second: give the measured throughput to compute MFU")
        return None
    if isinstance(devices, bool) or not isinstance(devices, int) or devices <= 0:
        raise UsageError(f"--devices: must be a positive integer, got {shown(devices)}")
    tps = positive_number(tokens_per_second, "--tokens-per-second")
    if peak_flops is not None and hardware is not None:
        raise UsageError("--peak-flops: give either --hardware or --peak-flops, not both")
    if peak_flops is not None:
        return Measured(tps, devices, positive_number(peak_flops, "--peak-flops"), "--peak-flops")
    if hardware is None:
        raise UsageError("--hardware: give the accelerator (configs/hardware.yaml) or --peak-flops to compute MFU")
    hw = get_hardware(hardware)
    return Measured(tps, devices, Fraction(hw.peak_flops), hw.key)


@dataclass(frozen=True)
class TermValues:
    row: TermRow
    difference: sympy.Expr  # as displayed (seq_len = context_length substituted when they are equal)
    convention: int
    exact: int


@dataclass(frozen=True, eq=False)
class ConventionRow:
    """One convention for one config: exact integers per step and in its own unit, and the closed forms."""

    reconciled: Reconciled
    difference: sympy.Expr
    flops: int
    flops_per_unit: int
    exact: int
    exact_per_unit: int
    terms: tuple[TermValues, ...]
    utilization: Fraction | None

    @property
    def convention(self):
        return self.reconciled.convention

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.flops, self.exact)


@dataclass(frozen=True, eq=False)
class ConventionsAccounting:
    config: ModelConfig
    batch_size: int
    seq_len: int
    derivation: Derivation
    measured: Measured | None = None

    @cached_property
    def subs(self) -> dict[sympy.Symbol, int]:
        return substitution(self.config, self.batch_size, self.seq_len)

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len

    def value(self, expr: sympy.Expr) -> int:
        return substitute(expr, self.subs)

    @cached_property
    def exact(self) -> dict[str, int]:
        """Exact matmul FLOPs of one step, per scope, with attention as the full square and halved (causal)."""
        d = self.derivation
        out = {scope: self.value(exact_total(d, scope)) for scope in SCOPES}
        out["forward_causal"] = self.value(exact_total(d, "forward", causal=True))
        out["training_causal"] = self.value(exact_total(d, "training", causal=True))
        return out

    def display(self, expr: sympy.Expr, block_size: bool) -> sympy.Expr:
        """A convention that takes every sequence as block_size = context_length long, on a full-context step
        (seq_len = context_length): its difference with T written as seq_len, so equal lengths cancel."""
        full = block_size and self.seq_len == self.config.context_length
        return simplify(expr.subs(sy.T, sy.S)) if full else expr

    @cached_property
    def rows(self) -> list[ConventionRow]:
        out = []
        for r in reconcile_all(self.derivation):
            unit = self.value(PER[r.convention.per])
            bs = r.convention.block_size
            terms = tuple(TermValues(t, self.display(t.difference, bs), self.value(t.convention),
                                     self.value(t.exact)) for t in r.rows)
            flops_unit, exact_unit = self.value(r.expr), self.value(r.exact)
            flops = flops_unit * unit
            # a forward-only count is no training throughput's numerator: no MFU for it
            training = r.convention.scope != "forward"
            mfu = self.measured.utilization(flops, self.tokens_per_step) if self.measured and training else None
            out.append(ConventionRow(r, self.display(r.difference, bs), flops, flops_unit, exact_unit * unit,
                                     exact_unit, terms, mfu))
        return out

    def exact_utilization(self) -> dict[str, Fraction]:
        """MFU of the exact model FLOPs (full square and causal) and HFU with full recomputation."""
        if self.measured is None:
            return {}
        u = self.measured.utilization
        return {"training": u(self.exact["training"], self.tokens_per_step),
                "training_causal": u(self.exact["training_causal"], self.tokens_per_step),
                "training+recompute": u(self.exact["training+recompute"], self.tokens_per_step)}


def conventions_account(config: ModelConfig, batch_size: int = 1, seq_len: int | None = None,
                        measured_throughput: Measured | None = None) -> ConventionsAccounting:
    """The conventions of `config` at batch_size sequences of seq_len tokens (default: context_length)."""
    seq = config.context_length if seq_len is None else seq_len
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise UsageError(f"--batch: must be a positive integer, got {batch_size}")
    if seq <= 0:
        raise UsageError(f"--seq-len: must be a positive integer, got {seq}")
    if seq > config.context_length:
        raise UsageError(f"--seq-len: {seq} exceeds context_length {config.context_length} of {config.name} "
                         f"(use --set context_length={seq})")
    return ConventionsAccounting(config, batch_size, seq, derivation_for(config), measured_throughput)


def conventions_report(acc: ConventionsAccounting, text=str) -> dict[str, Any]:
    """The `derive conventions --json` document. `text` prints a closed form (render.formatting.expr_text)."""
    d = acc.derivation
    exact: dict[str, Any] = {"forward": acc.exact["forward"],
                             "backward": acc.exact["training"] - acc.exact["forward"],
                             "training": acc.exact["training"],
                             "recompute": acc.exact["training+recompute"] - acc.exact["training"],
                             "training_with_recompute": acc.exact["training+recompute"],
                             "forward_causal": acc.exact["forward_causal"],
                             "training_causal": acc.exact["training_causal"],
                             "closed_form": {k: text(exact_total(d, s)) for k, s in
                                             (("forward", "forward"), ("training", "training"),
                                              ("training_with_recompute", "training+recompute"))}}
    out: dict[str, Any] = {"config": acc.config.name, "batch_size": acc.batch_size, "seq_len": acc.seq_len,
                           "tokens_per_step": acc.tokens_per_step, "exact": exact, "conventions": {}}
    for row in acc.rows:
        c = row.convention
        out["conventions"][c.key] = {
            "title": c.title, "flops": row.flops, "formula": text(row.reconciled.expr), "as_written": c.as_written,
            "per": c.per, "flops_per_unit": row.flops_per_unit, "compared_with": c.scope,
            "exact": row.exact, "exact_per_unit": row.exact_per_unit,
            "difference": text(row.difference), "difference_flops": row.exact - row.flops,
            "ratio": float(row.ratio), "counts": c.counts, "attention": c.attention, "utilization": c.utilization,
            **({"n": PARAM_COUNTS[c.params], "n_value": acc.value(row.reconciled.facts.n(c.params))}
               if c.params else {}),
            "terms": [{"label": t.row.label, "written": t.row.written, "groups": list(t.row.groups),
                       "convention": t.convention, "exact": t.exact, "difference": text(t.difference),
                       "difference_flops": t.exact - t.convention} for t in row.terms],
            "source": c.source,
            **({"mfu": float(row.utilization)} if row.utilization is not None else {}),
        }
    if acc.measured is not None:
        m = acc.measured
        out["measured"] = {"tokens_per_second": float(m.tokens_per_second), "devices": m.devices,
                           "peak_flops_per_device": float(m.peak_flops), "hardware": m.hardware,
                           "exact_mfu": {k: float(v) for k, v in acc.exact_utilization().items()}}
    return out
