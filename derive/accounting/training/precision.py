"""Precision ledgers and optimizer state as data: bytes per parameter, each figure with where it comes from.

A precision says how many bytes every parameter costs in each kind of model state: the weights the forward pass
reads, the gradient buffer(s) backward writes and data parallelism reduces, the fp32 master copy an optimizer
updates when the weights are kept in 16 bits, and the bytes of each optimizer state element. It also fixes the
bytes of an activation element (the compute dtype). An optimizer says how many parameter-sized state tensors it
keeps (AdamW: m and v), or, for Adafactor, that its second moment is factored per matrix (rows + columns).

ZeRO (Rajbhandari et al. 2020, Section 5) shards these kinds stage by stage: 1 the optimizer states (master
copy included), 2 also the gradients, 3 also the weights; `ZERO_SHARDS` names which kinds each stage shards.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UsageError, shown


@dataclass(frozen=True)
class Precision:
    """Bytes per parameter of each model state, and per activation element (`activations`)."""

    key: str
    title: str
    weights: int
    gradients: int
    extra_gradients: int  # a second gradient buffer held at the same time (a 16-bit .grad and an fp32 accumulator)
    master: int  # an fp32 copy of the weights kept by the optimizer (0 when the weights are the master)
    state: int  # bytes per element of every optimizer state tensor
    activations: int
    source: str

    @property
    def compute(self) -> str:
        """The compute dtype (what the matmuls run in, so which peak times them): fp32, bf16 or fp16."""
        if self.activations == 4:
            return "fp32"
        return "fp16" if self.key.startswith("fp16") else "bf16"

    def per_parameter(self, states: int) -> int:
        """Bytes per parameter with an optimizer of `states` parameter-sized tensors (AdamW: 2)."""
        return self.weights + self.gradients + self.extra_gradients + self.master + states * self.state


PRECISIONS: dict[str, Precision] = {p.key: p for p in (
    Precision("fp32", "float32 everywhere", 4, 4, 0, 0, 4, 4,
              "CS336 assignment 1, adamwAccounting: every tensor in float32 (parameters, gradients, AdamW moments, "
              "activations): 16 bytes per parameter with AdamW"),
    Precision("bf16", "bfloat16 everywhere (no fp32 copy)", 2, 2, 0, 0, 2, 2,
              "pure bf16 training: weights, gradients and optimizer states in bf16, no master copy "
              "(DeepSpeed's bf16_master_weights_and_grads with bf16_optimizer_states): 8 bytes per parameter with "
              "AdamW"),
    Precision("bf16-mixed", "bf16 weights and gradients, fp32 master and optimizer states", 2, 2, 0, 4, 4, 2,
              "Rajbhandari et al. 2020 (ZeRO), Section 3.1: 16-bit parameters and gradients (2 + 2 bytes), fp32 "
              "parameter copy, momentum and variance (4 + 4 + 4 = K = 12): 16 bytes per parameter with Adam"),
    Precision("fp16-mixed", "fp16 weights and gradients, fp32 master and optimizer states", 2, 2, 0, 4, 4, 2,
              "Micikevicius et al. 2018, Mixed Precision Training, Section 3.1 (fp32 master copy of the weights); "
              "ZeRO's ledger (K = 12) is written for it: 16 bytes per parameter with Adam"),
    Precision("bf16-mixed-fp32-grads", "bf16 weights, fp32 gradients, fp32 master and optimizer states",
              2, 4, 0, 4, 4, 2,
              "Megatron-LM --accumulate-allreduce-grads-in-fp32 (the main_grad buffer is fp32; Megatron turns it on "
              "for bf16): 2 + 4 + 4 + 4 + 4 = 18 bytes per parameter with Adam"),
    Precision("bf16-mixed-bf16-fp32-grads", "bf16 weights and gradients plus an fp32 gradient accumulator, fp32 "
              "master and optimizer states", 2, 2, 4, 4, 4, 2,
              "DeepSpeed BF16_Optimizer (deepspeed/runtime/bf16_optimizer.py): bf16 parameters and their .grad, "
              "fp32 gradient accumulation buffers (fp32_groups_gradients), fp32 master partition, fp32 Adam states: "
              "2 + 2 + 4 + 4 + 4 + 4 = 20 bytes per parameter"),
)}
DEFAULT_PRECISION = "fp32"


@dataclass(frozen=True)
class Optimizer:
    """Optimizer state: `states` parameter-sized tensors, or (factored) Adafactor's per-matrix row and column sums."""

    key: str
    title: str
    states: int
    state_names: tuple[str, ...]
    factored: bool
    source: str


OPTIMIZERS: dict[str, Optimizer] = {o.key: o for o in (
    Optimizer("adamw", "AdamW", 2, ("m", "v"), False,
              "Loshchilov & Hutter 2019, Algorithm 2; torch.optim.AdamW keeps exp_avg and exp_avg_sq per parameter"),
    Optimizer("sgd-momentum", "SGD with momentum", 1, ("momentum",), False,
              "torch.optim.SGD with momentum > 0 keeps one momentum_buffer per parameter"),
    Optimizer("sgd", "SGD (no momentum)", 0, (), False, "torch.optim.SGD with momentum = 0 keeps no state"),
    Optimizer("adafactor", "Adafactor (factored second moment, no first moment)", 0, ("row", "column"), True,
              "Shazeer & Stern 2018, Section 3 and Algorithm 4: an r x c matrix keeps r + c second-moment "
              "accumulators, a vector keeps one per element, beta1 = 0 keeps no first moment (torch.optim.Adafactor: "
              "row_var and col_var)"),
)}
DEFAULT_OPTIMIZER = "adamw"

# Which model-state kinds each ZeRO stage partitions over the data-parallel ranks (Rajbhandari et al. 2020,
# Section 5.1-5.3: P_os, P_os+g, P_os+g+p).
ZERO_SHARDS: dict[int, frozenset[str]] = {
    0: frozenset(),
    1: frozenset({"master", "optimizer"}),
    2: frozenset({"master", "optimizer", "gradients"}),
    3: frozenset({"master", "optimizer", "gradients", "weights"}),
}
STATE_KINDS: tuple[str, ...] = ("weights", "gradients", "master", "optimizer")


def get_precision(key: str) -> Precision:
    if key not in PRECISIONS:
        raise UsageError(f"--precision: unknown precision {shown(key)} (known: {', '.join(PRECISIONS)})")
    return PRECISIONS[key]


def get_optimizer(key: str) -> Optimizer:
    if key not in OPTIMIZERS:
        raise UsageError(f"--optimizer: unknown optimizer {shown(key)} (known: {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[key]


def ledger(precision: Precision, optimizer: Optimizer) -> list[tuple[str, str, int]]:
    """The bytes-per-parameter table: (kind, what it is, bytes per parameter), in the order of STATE_KINDS.

    Adafactor's factored state is not per parameter: its row is 0 here and counted per matrix instead."""
    grads = f"{precision.gradients}-byte gradients"
    if precision.extra_gradients:
        grads += f" and a {precision.extra_gradients}-byte fp32 accumulator"
    names = ", ".join(optimizer.state_names) or "none"
    per_param_states = 0 if optimizer.factored else optimizer.states * precision.state
    state_text = (f"{optimizer.title}: factored rows + columns per matrix, {precision.state} bytes each"
                  if optimizer.factored else f"{optimizer.title}: {names}, {precision.state} bytes each")
    return [
        ("weights", f"{precision.weights}-byte weights read by forward and backward", precision.weights),
        ("gradients", grads, precision.gradients + precision.extra_gradients),
        ("master", "fp32 master copy of the weights" if precision.master else "none (the weights are the master)",
         precision.master),
        ("optimizer", state_text, per_param_states),
    ]
