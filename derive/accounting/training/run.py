"""A training run for one config: exact figures from the symbolic TrainingDerivation, plus the JSON report.

With the homework's defaults (fp32, AdamW, the handout's activation list, one device) the figures are CS336's
adamwAccounting answers; a `Setup` adds a precision ledger, an optimizer, parallelism (data with ZeRO, tensor
with sequence, pipeline, expert), recomputation and a FLOP convention (scale.py, states.py, timing.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any

import sympy

from ...errors import UsageError, shown
from ...model import symbols as sy
from ...model.architectures import WINDOW_CONVENTIONS, derivation_for
from ...model.config import ModelConfig
from ...model.steps import Evaluated, evaluate, substitute
from ..display import Displayable, DisplayRow
from ..account import substitution
from ..hardware import Budget, Hardware, hardware_table, parse_budget, positive_number
from .activations import ACTIVATION_SETS
from .derivation import SECONDS_PER_DAY, Conventions, TrainingDerivation, training_for
from .parallel import Parallel, check_parallel
from .precision import (
    DEFAULT_OPTIMIZER, DEFAULT_PRECISION, Optimizer, Precision, get_optimizer, get_precision,
)
from .scale import ScaleAccounting, default_activations
from .timing import EXACT, Timing, step_flops_expr, training_hardware

_MFU_TEXT = re.compile(r"[+]?(\d{1,50}(\.\d{0,50})?|\.\d{1,50})([eE][-+]?\d{1,3})?|\d{1,50}/\d{1,50}")
MAX_SECONDS = Fraction(10) ** 300  # durations are rendered as floats (at most about 1.8e308)


@lru_cache(maxsize=None)
def givens(edition: str | None = None) -> dict[str, Any]:
    """The problem's givens, the defaults of `derive train`: a handout edition's adamw-accounting (None: the
    default, configs/editions/2025.yaml: 400K steps, batch 1,024, A100 fp32, 50% MFU, 80GB / 80GiB). Keys steps,
    batch_size, hardware (a name, in hardware.yaml unless the edition defines its own), hardware_entry (the
    Hardware), mfu (a string), budgets, activations (the edition's activation set)."""
    from ..editions import load_edition  # the editions read the training package's activation lists

    problem = load_edition(edition).adamw
    return {"steps": problem.steps, "batch_size": problem.batch_size, "hardware": problem.hardware.key,
            "hardware_entry": problem.hardware, "mfu": problem.mfu, "budgets": list(problem.budgets),
            "activations": problem.activations}


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


@dataclass(frozen=True)
class Setup:
    """The settings of a run beyond the homework's: precision ledger, optimizer, parallelism, micro-batch, the
    FLOP convention of its time and MFU, the sliding-window convention, and a measured step time or throughput."""

    precision: str = DEFAULT_PRECISION
    optimizer: str = DEFAULT_OPTIMIZER
    parallel: Parallel = field(default_factory=Parallel)
    micro_batch: int | None = None
    flops: str = EXACT
    window: str = "full"
    measured_step_time: str | None = None
    tokens_per_second: str | None = None
    seq_len: int | None = None  # tokens per sequence (default: the config's context_length)


@dataclass(frozen=True, eq=False)
class TrainAccounting(Displayable):
    config: ModelConfig
    batch_size: int
    steps: int
    budget: Budget
    hardware: Hardware
    mfu: Fraction
    derivation: TrainingDerivation
    setup: Setup = field(default_factory=Setup)
    hardware_choice: str = ""  # why this entry's peak times the run, when derive chose it ("" for the homework)

    @property
    def precision(self) -> Precision:
        return get_precision(self.setup.precision)

    @property
    def optimizer_kind(self) -> Optimizer:
        return get_optimizer(self.setup.optimizer)

    @property
    def parallel(self) -> Parallel:
        return self.setup.parallel

    @property
    def micro_batch(self) -> int:
        """Sequences per micro-batch on one device: given, or the batch split over dp (pp = 1) or 1 (pp > 1)."""
        if self.setup.micro_batch is not None:
            return self.setup.micro_batch
        return self.batch_size // self.parallel.dp if self.parallel.pp == 1 else 1

    @property
    def microbatches(self) -> int:
        """Micro-batches per step on each data-parallel rank (gradient accumulation or the pipeline's m)."""
        return self.batch_size // (self.parallel.dp * self.micro_batch)

    @cached_property
    def scale(self) -> ScaleAccounting:
        return ScaleAccounting(self.config, self.derivation.model, self.precision, self.optimizer_kind,
                               self.parallel, self.derivation.conventions.activations,
                               self.derivation.conventions.recompute, self.micro_batch, self.microbatches,
                               substitution(self.config, self.micro_batch, self.seq_len))

    @cached_property
    def timing(self) -> Timing:
        flops = substitute(step_flops_expr(self.derivation, self.setup.flops), self.subs)
        recompute = self.recompute.value if self.recompute is not None else 0
        return Timing(self.setup.flops, flops, recompute, self.parallel.devices, self.hardware.peak_flops,
                      self.steps, self.batch_size * self.seq_len)

    @property
    def seq_len(self) -> int:
        """Tokens per training sequence: --seq-len, or the config's context_length."""
        return self.config.context_length if self.setup.seq_len is None else self.setup.seq_len

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
        """(per_example_bytes, fixed_bytes): one device's memory = a * micro_batch + b (the homework: memory =
        a * batch_size + b), for the stage that needs the most."""
        return self.scale.linear(self.scale.peak)

    def max_batch(self, budget: Budget | None = None) -> int:
        """Largest (micro-)batch whose peak memory fits the budget on every device (0 if not even the fixed
        part fits): floor((budget - b) / a), the root of a x + b = budget (derivation.max_batch_expr)."""
        return self.scale.largest_micro_batch((budget or self.budget).bytes)[0]

    def approximations(self) -> dict[str, int]:
        tokens = sy.B * sy.S
        return {k: substitute(v, self.subs) for k, v in self.derivation.approximations(tokens).items()}

    @cached_property
    def total_flops(self) -> int:
        """steps * (forward + backward) for the batch: what the problem's training time counts."""
        return self.steps * self.step_flops

    def seconds(self, include_optimizer: bool = False) -> Fraction:
        """steps x (forward + backward [+ recomputed] [+ AdamW]) FLOPs / (devices x peak x MFU)."""
        flops = self.steps * (self.train_step_flops if include_optimizer else self.step_flops)
        return Fraction(flops) / (self.parallel.devices * self.hardware.peak_flops * self.mfu)

    def days(self, include_optimizer: bool = False) -> Fraction:
        return self.seconds(include_optimizer) / SECONDS_PER_DAY

    def display_title(self) -> str:
        return (f"{self.config.name}: training with {self.optimizer_kind.title}, {self.precision.key}, batch_size "
                f"{self.batch_size:,}, seq_len {self.seq_len:,}, {self.steps:,} steps on {self.hardware.key} at "
                f"{float(self.mfu):.0%} MFU")

    def display_rows(self) -> list[DisplayRow]:
        d = self.derivation
        a, b = self.linear
        peak = self.scale.peak
        return [
            DisplayRow("trainable parameters", "P", d.params.expr, self.total_params),
            DisplayRow("peak memory per device", "M", a * sy.B + b, peak.total, "bytes"),
            DisplayRow(f"largest batch in {self.budget.text}", "B_max", None, self.max_batch()),
            DisplayRow("forward FLOPs", "F_forward", d.forward.expr, self.forward.value, "FLOPs"),
            DisplayRow("backward FLOPs", "F_backward", d.backward.expr, self.backward.value, "FLOPs"),
            DisplayRow("training step FLOPs (forward + backward)", "F_step", d.step_flops, self.step_flops, "FLOPs"),
            DisplayRow("AdamW step FLOPs", "F_AdamW", d.optimizer.expr, self.optimizer.value, "FLOPs"),
            DisplayRow("training time", "t", None, self.seconds(), "s"),
        ]


def make_setup(*, precision: str = DEFAULT_PRECISION, optimizer: str = DEFAULT_OPTIMIZER, dp: int | None = None,
               zero: int | None = None, tp: int = 1, sp: bool = False, pp: int = 1, ep: int = 1,
               etp: int | None = None, micro_batch: int | None = None, flops: str = EXACT, window: str = "full",
               measured_step_time: Any = None, tokens_per_second: Any = None, seq_len: int | None = None) -> Setup:
    """A Setup from `derive train`'s options: a ZeRO stage of 1-3 needs dp (it shards over the data-parallel
    ranks); everything else is checked against the config by train_account. UsageError naming the option."""
    get_precision(precision)
    get_optimizer(optimizer)
    if zero is not None and zero not in (0, 1, 2, 3):
        raise UsageError(f"--zero: must be 0, 1, 2 or 3, got {zero!r}")
    if zero and dp is None:
        raise UsageError(f"--zero {zero}: give --dp (ZeRO shards model states over the data-parallel ranks)")
    parallel = Parallel(dp=1 if dp is None else dp, zero=zero or 0, tp=tp, sp=sp, pp=pp, ep=ep, etp=etp)
    return Setup(precision, optimizer, parallel, micro_batch, flops, window,
                 None if measured_step_time is None else str(measured_step_time),
                 None if tokens_per_second is None else str(tokens_per_second), seq_len)


def _check_setup(config: ModelConfig, batch: int, setup: Setup) -> None:
    """UsageError naming the option of a setup that does not fit the config or the batch."""
    get_precision(setup.precision)
    get_optimizer(setup.optimizer)
    if setup.window not in WINDOW_CONVENTIONS:
        raise UsageError(f"--window: must be one of {', '.join(WINDOW_CONVENTIONS)}, got {shown(setup.window)}")
    p = setup.parallel
    if setup.micro_batch is not None and (isinstance(setup.micro_batch, bool) or setup.micro_batch <= 0):
        raise UsageError(f"--micro-batch: must be a positive integer, got {setup.micro_batch}")
    micro = setup.micro_batch if setup.micro_batch is not None else (batch // p.dp if p.pp == 1 else 1)
    if micro <= 0 or batch % (p.dp * micro):
        raise UsageError(f"--batch {batch:,}: not a multiple of dp x micro-batch ({p.dp:,} x {max(micro, 1):,}); "
                         "every data-parallel rank runs whole micro-batches")
    if setup.measured_step_time is not None and setup.tokens_per_second is not None:
        raise UsageError("--measured-step-time: give either it or --tokens-per-second, not both")
    if setup.measured_step_time is not None:
        positive_number(setup.measured_step_time, "--measured-step-time")
    if setup.tokens_per_second is not None:
        positive_number(setup.tokens_per_second, "--tokens-per-second")


def train_account(config: ModelConfig, *, batch_size: int | None = None, steps: int | None = None,
                  budget: str | None = None, hardware: str | None = None, mfu: str | float | None = None,
                  conventions: Conventions = Conventions(), setup: Setup | None = None,
                  edition: str | None = None) -> TrainAccounting:
    """Training accounting of any architecture: the givens of a handout edition's AdamW problem by default (None:
    the default edition); conventions.activations "" picks the default set (the edition's list for its own
    architecture on one device, else scale.default_activations). UsageError naming the option on bad input."""
    setup = setup or Setup()
    g = givens(edition)
    batch = g["batch_size"] if batch_size is None else batch_size
    n_steps = g["steps"] if steps is None else steps
    if batch <= 0:
        raise UsageError(f"--batch: must be a positive integer, got {batch}")
    if n_steps <= 0:
        raise UsageError(f"--steps: must be a positive integer, got {n_steps}")
    seq_len = config.context_length if setup.seq_len is None else setup.seq_len
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len <= 0:
        raise UsageError(f"--seq-len: must be a positive integer, got {shown(seq_len)}")
    if seq_len > config.context_length:
        raise UsageError(f"--seq-len {seq_len:,}: exceeds {config.name}'s context_length ({config.context_length:,})")
    check_parallel(setup.parallel, config, seq_len)
    _check_setup(config, batch, setup)
    if setup.window == "band" and conventions.causal:
        raise UsageError("--causal: the band convention (--window band) already counts only the causal pairs")
    if not conventions.activations:
        own = ACTIVATION_SETS.get(g["activations"])
        single = setup.parallel.tp == 1 and setup.parallel.pp == 1
        chosen_set = g["activations"] if edition is not None and own is not None and own.arch == config.arch \
            and single else default_activations(config, setup.parallel)
        conventions = replace(conventions, activations=chosen_set)
    handout = ACTIVATION_SETS.get(conventions.activations)
    if handout is not None and config.arch != handout.arch:
        # A handout's list is written for one block (the built-in ones: MHA + SwiGLU, RMSNorm, untied, no biases;
        # an edition's own: its model); counting another architecture with it would print confident wrong numbers.
        model = "the assignment architecture" if handout.arch.is_assignment else "its edition's model"
        raise UsageError(f"--activations {conventions.activations}: the handout's list describes {model} only "
                         "(use full or korthikanti)")
    try:
        model = derivation_for(config, setup.window)
    except ValueError as exc:
        raise UsageError(f"--window {setup.window}: {config.name}: {exc}") from None
    derived = training_for(model, conventions)
    precision = get_precision(setup.precision)
    if hardware is None and g["hardware"] not in hardware_table():  # an edition's own accelerator (2026's H100)
        if precision.key == DEFAULT_PRECISION:  # the problem's own precision: the handout's peak, as it gives it
            chosen, choice = g["hardware_entry"], ""
        else:  # another precision: that accelerator's peak at its compute dtype, from hardware.yaml
            base = g["hardware"].split("-")[0]
            chosen, choice = training_hardware(base, g["hardware"], precision)
            choice = f"the edition's {base} at {precision.key}'s compute dtype, {precision.compute}"
    else:
        chosen, choice = training_hardware(hardware, g["hardware"], precision)
    t = TrainAccounting(config, batch, n_steps, parse_budget(g["budgets"][0] if budget is None else budget),
                        chosen, parse_mfu(g["mfu"] if mfu is None else mfu), derived, setup, choice)
    # Durations are shown as floats: refuse givens whose time no float can hold (--mfu 1e-400, --steps 10^400).
    if t.seconds(include_optimizer=True) > MAX_SECONDS:
        raise UsageError(f"--mfu {shown(str(mfu if mfu is not None else g['mfu']))}, --steps {shown(n_steps)}: "
                         "the training time exceeds 10^300 seconds, beyond what derive can show")
    return t


def train_report(t: TrainAccounting, text=str) -> dict[str, Any]:
    """The `derive train --json` document: exact integers; floats only for durations and utilizations.

    The homework's keys keep their meaning (memory.fixed_bytes ... total_bytes for the device that needs the
    most); the at-scale keys (memory.model_states_per_device, memory.activations_per_layer,
    memory.activations_per_device, memory.total_per_device, largest_batch, time, ...) come from scale_report."""
    from .report import scale_report

    a, b = t.linear
    c = t.derivation.conventions
    peak = t.scale.peak
    states: dict[str, int] = {}
    for node in peak.states.children:
        states[node.key.split(".")[1]] = states.get(node.key.split(".")[1], 0) + node.value
    report = {
        "config": t.config.name,
        "batch_size": t.batch_size,
        "seq_len": t.seq_len,
        "conventions": {"backward": c.backward, "causal": c.causal, "recompute": c.recompute,
                        "activations": c.activations, "bytes_per_element": t.precision.activations},
        "params": t.total_params,
        "memory": {
            "fixed_bytes": b, "per_example_bytes": a,
            "parameters_bytes": states.get("weights", 0),
            "gradients_bytes": states.get("gradients", 0),
            "optimizer_state_bytes": states.get("master", 0) + states.get("optimizer", 0),
            "activations_bytes": peak.activations.value,
            "total_bytes": peak.total,
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
        "hardware": {"name": t.hardware.key, "peak_flops": t.hardware.peak_flops, "dtype": t.hardware.dtype,
                     "choice": t.hardware_choice},
        "mfu": float(t.mfu),
        "steps": t.steps,
        "total_flops": t.total_flops,
        "seconds": float(t.seconds()),
        "days": float(t.days()),
        "days_with_optimizer": float(t.days(include_optimizer=True)),
    }
    return scale_report(t, report, text)
