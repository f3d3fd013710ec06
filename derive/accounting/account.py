"""From a config to evaluated trees: the one entry point every command and sheet goes through."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

import sympy

from ..errors import UsageError
from ..model.architectures import GROUP_LABELS, WINDOW_CONVENTIONS, Derivation, derivation, derivation_for
from ..model.components import weight
from ..model.config import ModelConfig
from ..model.steps import Dim, Evaluated, Step, evaluate
from ..model.symbols import SYMBOLS
from .display import Displayable, DisplayRow

DTYPE_BYTES: dict[str, int] = {"fp32": 4, "bf16": 2, "fp16": 2}


@lru_cache(maxsize=None)
def memory_step(params: Step, dtype: str) -> Step:
    """Bytes to hold the weights: total_parameters * bytes per parameter (one Step per tree and dtype)."""
    return weight(f"memory.{dtype}", f"memory_{dtype}", Dim("total_parameters", params.expr, "P"),
                  Dim.const(DTYPE_BYTES[dtype]), f"bytes to load the weights in {dtype}")


def substitution(config: ModelConfig, batch_size: int, seq_len: int) -> dict[sympy.Symbol, int]:
    """Every symbol's value for one config and input shape: the one place numbers meet the symbols."""
    values = {SYMBOLS[k]: v for k, v in config.symbol_values().items()}
    values[SYMBOLS["batch_size"]] = batch_size
    values[SYMBOLS["seq_len"]] = seq_len
    return values


@dataclass(frozen=True, eq=False)
class Accounting(Displayable):
    """Exact figures for one config at one batch size and sequence length (shown in Jupyter as a table)."""

    config: ModelConfig
    batch_size: int
    seq_len: int
    derivation: Derivation

    @cached_property
    def subs(self) -> dict[sympy.Symbol, int]:
        return substitution(self.config, self.batch_size, self.seq_len)

    @cached_property
    def params(self) -> Evaluated:
        return evaluate(self.derivation.params, self.subs)

    @cached_property
    def buffers(self) -> Evaluated:
        return evaluate(self.derivation.buffers, self.subs)

    @cached_property
    def forward(self) -> Evaluated:
        return evaluate(self.derivation.forward, self.subs)

    @cached_property
    def active_params(self) -> Evaluated | None:
        """Mixture of experts: the parameters one token passes through (None for a dense model)."""
        step = self.derivation.active_params
        return evaluate(step, self.subs) if step is not None else None

    def memory(self, dtype: str = "fp32") -> Evaluated:
        return evaluate(memory_step(self.derivation.params, dtype), self.subs)

    @property
    def total_params(self) -> int:
        return self.params.value

    @property
    def forward_flops(self) -> int:
        return self.forward.value

    @cached_property
    def groups(self) -> dict[str, int]:
        """Forward FLOPs per share group (attention projections, scores, FFN, lm_head)."""
        out: dict[str, int] = {}
        for group, expr in self.derivation.forward_groups.items():
            value = expr.xreplace({k: v for k, v in self.subs.items()})
            out[group] = int(value)
        assert sum(out.values()) == self.forward_flops, "groups must partition the forward FLOPs"
        return out

    @cached_property
    def shares(self) -> dict[str, Fraction]:
        return {g: Fraction(v, self.forward_flops) for g, v in self.groups.items()}

    def group_label(self, group: str) -> str:
        return self.derivation.group_labels.get(group, GROUP_LABELS.get(group, group))

    def display_title(self) -> str:
        return f"{self.config.name}: batch_size {self.batch_size:,}, seq_len {self.seq_len:,}"

    def display_rows(self) -> list[DisplayRow]:
        d = self.derivation
        rows = [DisplayRow("trainable parameters", "P", d.params.expr, self.total_params)]
        if self.active_params is not None:
            rows.append(DisplayRow("active parameters per token", "P_active", d.active_params.expr,
                                   self.active_params.value))
        rows.append(DisplayRow("non-trainable buffers", "N_buffers", d.buffers.expr, self.buffers.value))
        for dtype in DTYPE_BYTES:
            node = self.memory(dtype)
            rows.append(DisplayRow(f"weights in {dtype}", f"M_{dtype}", node.step.expr, node.value, "bytes"))
        rows.append(DisplayRow("forward matmul FLOPs", "F", d.forward.expr, self.forward_flops, "FLOPs"))
        return rows


def account(config: ModelConfig, batch_size: int = 1, seq_len: int | None = None,
            architecture: str | None = None, window: str = "full") -> Accounting:
    """architecture=None: the config's own architecture options (the assignment's by default).

    window: how sliding-window layers' attention is counted (WINDOW_CONVENTIONS): "full" (the square the
    reference multiplies, what FlopCounterMode counts) or "band" (only the pairs inside the window)."""
    if window not in WINDOW_CONVENTIONS:
        raise UsageError(f"--window: must be one of {', '.join(WINDOW_CONVENTIONS)}, got {window!r}")
    seq = config.context_length if seq_len is None else seq_len
    if batch_size <= 0:
        raise UsageError(f"--batch: must be a positive integer, got {batch_size}")
    if seq <= 0:
        raise UsageError(f"--seq-len: must be a positive integer, got {seq}")
    if seq > config.context_length:
        raise UsageError(
            f"--seq-len: {seq} exceeds context_length {config.context_length} of {config.name} "
            f"(use --set context_length={seq})"
        )
    if architecture is not None:
        return Accounting(config, batch_size, seq, derivation(architecture))
    try:
        deriv = derivation_for(config, window)
    except ValueError as exc:
        raise UsageError(f"--window {window}: {config.name}: {exc}") from None
    return Accounting(config, batch_size, seq, deriv)


def window_note(acc: Accounting) -> str | None:
    """The sliding-window convention in one sentence, for a config with sliding layers (None otherwise)."""
    c = acc.config
    if not c.sliding_layers:
        return None
    layers = "every layer" if c.sliding_layers == c.num_layers else f"{c.sliding_layers} of {c.num_layers} layers"
    return (f"Sliding-window attention ({layers}, window {c.sliding_window:,} tokens), window convention "
            f"{acc.derivation.window}: {WINDOW_CONVENTIONS[acc.derivation.window]}.")
