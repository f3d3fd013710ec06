"""A training run for one config: exact figures from the symbolic TrainingDerivation, plus the JSON report."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any

import sympy

from ...errors import UsageError, shown
from ...model import symbols as sy
from ...model.config import ArchOptions, ModelConfig
from ...model.steps import Evaluated, evaluate, substitute
from ..display import Displayable, DisplayRow
from ..account import substitution
from ..hardware import Budget, Hardware, get_hardware, parse_budget
from .activations import get_activation_set
from .derivation import SECONDS_PER_DAY, Conventions, TrainingDerivation, max_batch_expr, training

_MFU_TEXT = re.compile(r"[+]?(\d{1,50}(\.\d{0,50})?|\.\d{1,50})([eE][-+]?\d{1,3})?|\d{1,50}/\d{1,50}")
MAX_SECONDS = Fraction(10) ** 300  # durations are rendered as floats (at most about 1.8e308)


@lru_cache(maxsize=None)
def givens() -> dict[str, Any]:
    """The problem's givens, the defaults of `derive train`: the default handout edition's adamw-accounting
    (configs/editions/2025.yaml: 400K steps, batch 1,024, A100 fp32, 50% MFU, 80GB / 80GiB). Keys steps,
    batch_size, hardware (a name in hardware.yaml), mfu (a string), budgets."""
    from ..editions import load_edition  # the editions read the training package's activation lists

    problem = load_edition().adamw
    return {"steps": problem.steps, "batch_size": problem.batch_size, "hardware": problem.hardware.key,
            "mfu": problem.mfu, "budgets": list(problem.budgets)}


def parse_mfu(value: str | float | Fraction) -> Fraction:
    """MFU as an exact fraction ('0.5' -> 1/2), in (0, 1].

    Written as a decimal number, a fraction (1/3) or with an exponent of at most three digits (5e-1): an
    exponent such as 1e-999999999 would make Fraction build a billion-digit power of ten."""
    text = str(value).strip()
    if not _MFU_TEXT.fullmatch(text):
        raise UsageError(f"--mfu: expected a number in (0, 1] such as 0.5, got {shown(text)}")
    try:
        frac = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--mfu: expected a number in (0, 1], got {shown(text)}") from None
    if not 0 < frac <= 1:
        raise UsageError(f"--mfu: expected a number in (0, 1], got {shown(text)}")
    return frac


@dataclass(frozen=True, eq=False)
class TrainAccounting(Displayable):
    config: ModelConfig
    batch_size: int
    steps: int
    budget: Budget
    hardware: Hardware
    mfu: Fraction
    derivation: TrainingDerivation

    @property
    def seq_len(self) -> int:
        return self.config.context_length

    @cached_property
    def subs(self) -> dict[sympy.Symbol, int]:
        return substitution(self.config, self.batch_size, self.seq_len)

    def _eval(self, step) -> Evaluated:
        return evaluate(step, self.subs)

    @cached_property
    def forward(self) -> Evaluated:
        return self._eval(self.derivation.forward)

    @cached_property
    def backward(self) -> Evaluated:
        return self._eval(self.derivation.backward)

    @cached_property
    def recompute(self) -> Evaluated | None:
        return self._eval(self.derivation.recompute) if self.derivation.recompute is not None else None

    @cached_property
    def optimizer(self) -> Evaluated:
        return self._eval(self.derivation.optimizer)

    @cached_property
    def activations(self) -> Evaluated:
        return self._eval(self.derivation.activations)

    @cached_property
    def memory(self) -> Evaluated:
        return self._eval(self.derivation.memory_tree())

    @cached_property
    def total_params(self) -> int:
        return substitute(self.derivation.params.expr, self.subs)

    @cached_property
    def step_flops(self) -> int:
        return substitute(self.derivation.step_flops, self.subs)

    @cached_property
    def train_step_flops(self) -> int:
        return substitute(self.derivation.train_step_flops, self.subs)

    @cached_property
    def linear(self) -> tuple[int, int]:
        """(per_example_bytes, fixed_bytes): memory = a * batch_size + b for this config."""
        a, b = self.derivation.memory_linear()
        return substitute(a, self.subs), substitute(b, self.subs)

    def max_batch(self, budget: Budget | None = None) -> int:
        """Largest batch whose peak memory fits the budget (0 if not even the fixed part fits)."""
        a, b = self.linear
        value = int(max_batch_expr(sympy.Integer(a), sympy.Integer(b), (budget or self.budget).bytes))
        return max(value, 0)

    def approximations(self) -> dict[str, int]:
        tokens = sy.B * sy.S
        return {k: substitute(v, self.subs) for k, v in self.derivation.approximations(tokens).items()}

    @cached_property
    def total_flops(self) -> int:
        """steps * (forward + backward) for the batch: what the problem's training time counts."""
        return self.steps * self.step_flops

    def seconds(self, include_optimizer: bool = False) -> Fraction:
        flops = self.steps * (self.train_step_flops if include_optimizer else self.step_flops)
        return Fraction(flops) / (self.hardware.peak_flops * self.mfu)

    def days(self, include_optimizer: bool = False) -> Fraction:
        return self.seconds(include_optimizer) / SECONDS_PER_DAY

    def display_title(self) -> str:
        return (f"{self.config.name}: training with AdamW, batch_size {self.batch_size:,}, seq_len "
                f"{self.seq_len:,}, {self.steps:,} steps on {self.hardware.key} at {float(self.mfu):.0%} MFU")

    def display_rows(self) -> list[DisplayRow]:
        d = self.derivation
        a, b = d.memory_linear()
        return [
            DisplayRow("trainable parameters", "P", d.params.expr, self.total_params),
            DisplayRow("peak memory per step", "M", a * sy.B + b, self.memory.value, "bytes"),
            DisplayRow(f"largest batch in {self.budget.text}", "B_max", None, self.max_batch()),
            DisplayRow("forward FLOPs", "F_forward", d.forward.expr, self.forward.value, "FLOPs"),
            DisplayRow("backward FLOPs", "F_backward", d.backward.expr, self.backward.value, "FLOPs"),
            DisplayRow("training step FLOPs (forward + backward)", "F_step", d.step_flops, self.step_flops, "FLOPs"),
            DisplayRow("AdamW step FLOPs", "F_AdamW", d.optimizer.expr, self.optimizer.value, "FLOPs"),
            DisplayRow("training time", "t", None, self.seconds(), "s"),
        ]


def train_account(config: ModelConfig, *, batch_size: int | None = None, steps: int | None = None,
                  budget: str | None = None, hardware: str | None = None, mfu: str | float | None = None,
                  conventions: Conventions = Conventions()) -> TrainAccounting:
    allowed = get_activation_set(conventions.activations).arch
    if config.arch != allowed:
        # An activation set is written for one block (the built-in ones: MHA + SwiGLU, RMSNorm, untied, no
        # biases); counting another architecture with it would print confident wrong numbers.
        default = allowed
        differs = ", ".join(f"{f.name}={getattr(config.arch, f.name)}" for f in dataclasses.fields(ArchOptions)
                            if getattr(config.arch, f.name) != getattr(default, f.name))
        raise UsageError(f"{config.source or config.name}: derive train covers the assignment architecture only "
                         f"(RMSNorm, MHA, SwiGLU, RoPE, untied, no biases); this config has {differs}")
    g = givens()
    batch = g["batch_size"] if batch_size is None else batch_size
    n_steps = g["steps"] if steps is None else steps
    if batch <= 0:
        raise UsageError(f"--batch: must be a positive integer, got {batch}")
    if n_steps <= 0:
        raise UsageError(f"--steps: must be a positive integer, got {n_steps}")
    t = TrainAccounting(config, batch, n_steps, parse_budget(g["budgets"][0] if budget is None else budget),
                        get_hardware(g["hardware"] if hardware is None else hardware),
                        parse_mfu(g["mfu"] if mfu is None else mfu),
                        training(conventions, "assignment" if config.arch.is_assignment else config.arch))
    # Durations are shown as floats: refuse givens whose time no float can hold (--mfu 1e-400, --steps 10^400).
    if t.seconds(include_optimizer=True) > MAX_SECONDS:
        raise UsageError(f"--mfu {shown(str(mfu if mfu is not None else g['mfu']))}, --steps {shown(n_steps)}: "
                         "the training time exceeds 10^300 seconds, beyond what derive can show")
    return t


def train_report(t: TrainAccounting) -> dict[str, Any]:
    """The `derive train --json` document: exact integers; floats only for durations."""
    a, b = t.linear
    c = t.derivation.conventions
    return {
        "config": t.config.name,
        "batch_size": t.batch_size,
        "seq_len": t.seq_len,
        "conventions": {"backward": c.backward, "causal": c.causal, "recompute": c.recompute,
                        "activations": c.activations, "bytes_per_element": 4},
        "params": t.total_params,
        "memory": {
            "fixed_bytes": b, "per_example_bytes": a,
            "parameters_bytes": t.memory.find("memory.parameters").value,
            "gradients_bytes": t.memory.find("memory.gradients").value,
            "optimizer_state_bytes": t.memory.find("memory.adamw_m").value + t.memory.find("memory.adamw_v").value,
            "activations_bytes": t.memory.find("memory.activations").value,
            "total_bytes": t.memory.value,
        },
        "budget": {"text": t.budget.text, "bytes": t.budget.bytes},
        "max_batch_size": t.max_batch(),
        "forward_flops": t.forward.value,
        "backward_flops": t.backward.value,
        "recompute_flops": t.recompute.value if t.recompute is not None else 0,
        "step_flops": t.step_flops,
        "optimizer_flops": t.optimizer.value,
        "train_step_flops": t.train_step_flops,
        "approximations": t.approximations(),
        "hardware": {"name": t.hardware.key, "peak_flops": t.hardware.peak_flops},
        "mfu": float(t.mfu),
        "steps": t.steps,
        "total_flops": t.total_flops,
        "seconds": float(t.seconds()),
        "days": float(t.days()),
        "days_with_optimizer": float(t.days(include_optimizer=True)),
    }
