"""Inference accounting of one config and one request: the symbolic trees evaluated, rooflines, the budget.

Every integer comes from substituting the config's and the request's numbers into a tree of
derive.accounting.inference.derivation; times are exact fractions until they are printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import sympy

from ...errors import UsageError, shown
from ...model import symbols as sy
from ...model.config import ModelConfig
from ...model.steps import Evaluated, evaluate, substitute
from ..account import DTYPE_BYTES, substitution
from ..display import Displayable, DisplayRow
from ..hardware import Budget, hardware_table, parse_budget
from .derivation import InferenceDerivation, inference_derivation
from .roofline import Roofline, crossover
from .timing import decode_time

# Number formats of weights and of the KV cache, bytes per element (fp8: e4m3 or e5m2, one byte).
INFER_DTYPES: dict[str, int] = {**DTYPE_BYTES, "fp8": 1}
DEFAULT_DTYPE = "bf16"
DEFAULT_HARDWARE = "h100"  # resolved with the weights' dtype: h100-bf16, h100-fp8, ...
DEFAULT_PROMPT = 512
DEFAULT_GENERATE = 512
# Options whose default a sheet's file name leaves out (the others default to None).
INFER_DEFAULTS = {"batch_size": 1, "dtype": DEFAULT_DTYPE}
_NUMBER = re.compile(r"\s*([0-9]{1,40})(\.[0-9]{0,40})?([eE][+]?[0-9]{1,2})?\s*")


@dataclass(frozen=True)
class Accelerator:
    """The accelerator a roofline is drawn for: peak FLOP/s, bandwidth (bytes/s), memory (bytes), sources."""

    key: str
    name: str
    dtype: str
    also: tuple[str, ...]
    peak_flops: Fraction
    bandwidth: Fraction
    memory_bytes: int
    source: str
    bandwidth_source: str

    @property
    def ridge(self) -> Fraction:
        """FLOPs per byte at which compute time equals memory time: peak / bandwidth."""
        return self.peak_flops / self.bandwidth


def parse_rate(text: str, option: str) -> Fraction:
    """A positive rate such as 312e12 or 1.5e12 (decimal, exponent of at most two digits), exactly."""
    match = _NUMBER.fullmatch(str(text))
    value = Fraction(str(text).strip()) if match else Fraction(0)
    if value <= 0:
        raise UsageError(f"{option}: expected a positive number such as 312e12, got {shown(text)}")
    return value


def resolve_hardware(name: str, dtype: str, peak_flops: str | None = None, bandwidth: str | None = None
                     ) -> Accelerator:
    """A key of configs/hardware.yaml, or an accelerator name completed with the weights' dtype (`h100` with
    bf16: h100-bf16; with fp16, the entry that lists fp16 in `also`); --peak-flops and --bandwidth replace its
    figures. UsageError naming --hardware otherwise."""
    table = hardware_table()
    keys = [name] if name in table else [f"{name}-{dtype}"] if f"{name}-{dtype}" in table else \
        [k for k, hw in table.items() if k.startswith(f"{name}-") and dtype in hw.also]
    if not keys:
        raise UsageError(f"--hardware: unknown hardware {shown(name)} for {dtype} (known: {', '.join(table)})")
    key = keys[0]
    hw = table[key]
    if bandwidth is None and hw.bandwidth is None:
        raise UsageError(f"--hardware {key}: configs/hardware.yaml gives no memory bandwidth (give --bandwidth)")
    peak = parse_rate(peak_flops, "--peak-flops") if peak_flops is not None else Fraction(hw.peak_flops)
    rate = parse_rate(bandwidth, "--bandwidth") if bandwidth is not None else Fraction(hw.bandwidth or 0)
    return Accelerator(key, hw.name, hw.dtype, hw.also, peak, rate, hw.memory_bytes,
                       "given with --peak-flops" if peak_flops is not None else hw.source,
                       "given with --bandwidth" if bandwidth is not None else hw.bandwidth_source)


def memory_budget(n: int) -> Budget:
    """An accelerator's memory as a budget, written in GB when it is a whole number of them."""
    return Budget(f"{n // 10**9}GB", n // 10**9, "GB") if n % 10**9 == 0 else Budget(f"{n}B", n, "B")


@dataclass(frozen=True, eq=False)
class InferAccounting(Displayable):
    """Exact inference figures for one config and request (shown in Jupyter as a table)."""

    config: ModelConfig
    batch_size: int
    prompt: int
    generate: int
    dtype: str
    kv_dtype: str
    hardware: Accelerator
    budget: Budget
    budget_given: bool
    derivation: InferenceDerivation

    @cached_property
    def subs(self) -> dict[sympy.Symbol, int]:
        values = substitution(self.config, self.batch_size, self.prompt)
        values.update({sy.SYMBOLS["prompt_len"]: self.prompt, sy.SYMBOLS["gen_len"]: self.generate,
                       sy.SYMBOLS["weight_bytes"]: INFER_DTYPES[self.dtype],
                       sy.SYMBOLS["kv_bytes"]: INFER_DTYPES[self.kv_dtype]})
        return values

    def at_step(self, step: int) -> dict[sympy.Symbol, int]:
        return {**self.subs, sy.SYMBOLS["decode_step"]: step}

    def _eval(self, tree) -> Evaluated:
        return evaluate(tree, self.subs)

    @cached_property
    def kv_per_token(self) -> Evaluated:
        return self._eval(self.derivation.kv_per_token)

    @cached_property
    def kv_cache(self) -> Evaluated:
        return self._eval(self.derivation.kv_cache)

    @cached_property
    def kv_expanded(self) -> Evaluated | None:
        tree = self.derivation.kv_expanded
        return self._eval(tree) if tree is not None else None

    @cached_property
    def weights(self) -> Evaluated:
        return self._eval(self.derivation.weights)

    @cached_property
    def prefill(self) -> Evaluated:
        return self._eval(self.derivation.prefill)

    @cached_property
    def decode(self) -> Evaluated:
        """All M - 1 decode steps together."""
        return self._eval(self.derivation.decode_total)

    @property
    def steps(self) -> int:
        return self.generate - 1

    def decode_step(self, step: int) -> Evaluated:
        """Decode step `step` (1 .. M - 1): one token per sequence with N + step - 1 tokens cached."""
        if not 1 <= step <= self.steps:
            raise ValueError(f"decode step {step} outside 1 .. {self.steps}")
        return evaluate(self.derivation.decode_step, self.at_step(step))

    @cached_property
    def full_forward(self) -> int:
        return substitute(self.derivation.full_forward, self.subs)

    @cached_property
    def logits_saving(self) -> int:
        return substitute(self.derivation.logits_saving, self.subs)

    # --- bytes moved and rooflines
    @cached_property
    def prefill_bytes(self) -> Evaluated:
        return self._eval(self.derivation.prefill_bytes)

    def step_bytes(self, step: int) -> Evaluated:
        return evaluate(self.derivation.step_bytes, self.at_step(step))

    @cached_property
    def prefill_roofline(self) -> Roofline:
        hw = self.hardware
        return Roofline(self.prefill.value, self.prefill_bytes.value, hw.peak_flops, hw.bandwidth)

    def step_roofline(self, step: int) -> Roofline:
        hw = self.hardware
        return Roofline(self.decode_step(step).value, self.step_bytes(step).value, hw.peak_flops, hw.bandwidth)

    def crossover(self, step: int) -> tuple[Fraction | None, dict[str, Fraction]]:
        """The batch size where decode step `step` turns compute-bound, and the (W_0, f, q) of its closed form."""
        no_batch = {k: v for k, v in self.at_step(step).items() if k != sy.B}
        ints = {k: sympy.Integer(v) for k, v in no_batch.items()}
        return crossover(self.derivation.decode_step.expr.xreplace(ints),
                         self.derivation.step_bytes.expr.xreplace(ints), self.hardware.peak_flops,
                         self.hardware.bandwidth)

    @cached_property
    def decode_seconds(self) -> Fraction:
        """Lower bound on the time of all decode steps: the sum of each step's roofline bound."""
        if self.steps == 0:
            return Fraction(0)
        ints = {k: sympy.Integer(v) for k, v in self.subs.items()}
        return decode_time(self.derivation.decode_step.expr.xreplace(ints),
                           self.derivation.step_bytes.expr.xreplace(ints), sy.SYMBOLS["decode_step"], self.steps,
                           self.hardware.peak_flops, self.hardware.bandwidth)

    # --- the budget
    @cached_property
    def request_bytes(self) -> int:
        """KV cache of one sequence of N + M tokens."""
        return self.kv_cache.value // self.batch_size

    @property
    def free_bytes(self) -> int:
        return self.budget.bytes - self.weights.value

    @property
    def max_tokens(self) -> int:
        """floor((budget - weight bytes) / KV bytes per token): tokens of KV cache beside the weights, each held by
        every layer (exact without sliding-window layers; with them, tokens of sequences shorter than the
        window)."""
        return max(self.free_bytes, 0) // self.kv_per_token.value

    @property
    def max_requests(self) -> int | None:
        """floor((budget - weight bytes) / KV bytes of one N + M token sequence), sliding windows capped (None:
        a request holds no cache, only with a window of one token)."""
        return max(self.free_bytes, 0) // self.request_bytes if self.request_bytes else None

    @property
    def fits(self) -> bool:
        """The weights and this batch's KV cache fit the budget together."""
        return self.weights.value + self.kv_cache.value <= self.budget.bytes

    def display_title(self) -> str:
        return (f"{self.config.name}: inference, batch_size {self.batch_size:,}, prompt {self.prompt:,}, generate "
                f"{self.generate:,}, weights {self.dtype}, KV cache {self.kv_dtype}, {self.hardware.key}")

    def display_rows(self) -> list[DisplayRow]:
        d = self.derivation
        rows = [DisplayRow("KV cache bytes per token", "KV_token", d.kv_per_token_closed, self.kv_per_token.value,
                           "bytes"),
                DisplayRow("KV cache of the batch after N + M tokens", "KV", d.kv_cache.expr, self.kv_cache.value,
                           "bytes"),
                DisplayRow("weights in memory", "M_w", d.weights.expr, self.weights.value, "bytes"),
                DisplayRow("prefill FLOPs (logits for the last position)", "F_prefill", d.prefill.expr,
                           self.prefill.value, "FLOPs"),
                DisplayRow("FLOPs of decode step i (the value at i = 1)", "F_step", d.decode_step.expr,
                           self.decode_step(1).value if self.steps else 0, "FLOPs"),
                DisplayRow("decode FLOPs, all M - 1 steps", "F_decode", d.decode_total.expr, self.decode.value,
                           "FLOPs"),
                DisplayRow(f"most tokens of KV cache in {self.budget.text}", "T_max", None, self.max_tokens),
                DisplayRow(f"lower bound on the time of all decode steps on {self.hardware.key}", "t_decode", None,
                           self.decode_seconds * 1000, "ms")]
        return rows


def _positive(value: int, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{option}: must be a positive integer, got {shown(value)}")
    return value


def infer_account(config: ModelConfig, *, prompt: int | None = None, generate: int | None = None,
                  batch_size: int = 1, dtype: str = DEFAULT_DTYPE, kv_dtype: str | None = None,
                  hardware: str | None = None, peak_flops: str | None = None, bandwidth: str | None = None,
                  budget: str | None = None) -> InferAccounting:
    """The inference accounting of `config` for batch_size sequences of `prompt` tokens generating `generate`.

    Defaults: prompt and generate 512 each (half the context length each when it is shorter than 1,024), weights
    and KV cache in bf16 (kv_dtype defaults to dtype), hardware h100 (the entry for the weights' dtype), budget
    the accelerator's memory. UsageError naming the option for a size that is not positive, prompt + generate
    beyond context_length, an unknown dtype or hardware, or a budget smaller than the weights."""
    ctx = config.context_length
    short = ctx < DEFAULT_PROMPT + DEFAULT_GENERATE
    n = _positive(prompt if prompt is not None else (max(ctx // 2, 1) if short else DEFAULT_PROMPT), "--prompt")
    m = _positive(generate if generate is not None else (max(ctx - n, 1) if short else DEFAULT_GENERATE),
                  "--generate")
    b = _positive(batch_size, "--batch")
    if n + m > ctx:
        raise UsageError(f"--prompt {n:,} + --generate {m:,}: {n + m:,} tokens exceed context_length {ctx:,} of "
                         f"{shown(config.name)} (use --set context_length={n + m})")
    kv = dtype if kv_dtype is None else kv_dtype
    for option, value in (("--dtype", dtype), ("--kv-dtype", kv)):
        if value not in INFER_DTYPES:
            raise UsageError(f"{option}: unknown number format {shown(value)} (known: {', '.join(INFER_DTYPES)})")
    hw = resolve_hardware(hardware or DEFAULT_HARDWARE, dtype, peak_flops, bandwidth)
    acc = InferAccounting(config, b, n, m, dtype, kv, hw, parse_budget(budget) if budget is not None
                          else memory_budget(hw.memory_bytes), budget is not None, inference_derivation(config.arch))
    if budget is not None and acc.budget.bytes < acc.weights.value:
        raise UsageError(f"--budget: {acc.budget.text} ({acc.budget.bytes:,} bytes) is smaller than the weights in "
                         f"{dtype} ({acc.weights.value:,} bytes)")
    return acc
