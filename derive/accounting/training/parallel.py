"""Parallelism as data: data (ZeRO), tensor (+ sequence), pipeline and expert parallelism of one training run.

The degrees are symbols in the closed forms (`tp`, `pp`, `dp`, `ep`, `etp`), so a per-device formula reads like
Korthikanti et al.'s Table 2 (sbh(10 + 24/t + 5as/(ht))); `Parallel` holds their values and checks them against a
config: every split must be exact, as Megatron-LM requires (heads, key/value heads, d_ff and the layers divisible;
experts divisible by ep; the sequence divisible by tp under sequence parallelism).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ...errors import UsageError
from ...model.config import ModelConfig

TP = sympy.Symbol("tp", positive=True, integer=True)
PP = sympy.Symbol("pp", positive=True, integer=True)
DP = sympy.Symbol("dp", positive=True, integer=True)
EP = sympy.Symbol("ep", positive=True, integer=True)
ETP = sympy.Symbol("etp", positive=True, integer=True)
MICROBATCHES = sympy.Symbol("microbatches", positive=True, integer=True)
PARALLEL_SYMBOLS: dict[sympy.Symbol, tuple[str, str]] = {
    TP: ("t", "tensor-parallel degree (--tp)"),
    PP: ("p", "pipeline stages (--pp)"),
    DP: (r"N_d", "data-parallel degree (--dp): ZeRO shards over it"),
    EP: (r"e", "expert-parallel degree (--ep)"),
    ETP: (r"t_e", "expert tensor-parallel degree (--etp)"),
    MICROBATCHES: ("m", "micro-batches per step and data-parallel rank"),
}
ZERO_STAGES = (0, 1, 2, 3)


@dataclass(frozen=True)
class Parallel:
    """Degrees of parallelism; `etp` None means Megatron-LM's default (expert tensor parallelism = tp)."""

    dp: int = 1
    zero: int = 0
    tp: int = 1
    sp: bool = False
    pp: int = 1
    ep: int = 1
    etp: int | None = None

    @property
    def expert_tp(self) -> int:
        return self.tp if self.etp is None else self.etp

    @property
    def devices(self) -> int:
        """World size: dp x tp x pp (expert parallelism is carved out of dp x tp, not added)."""
        return self.dp * self.tp * self.pp

    @property
    def expert_dp(self) -> int:
        """Ranks that hold copies of the same experts (ZeRO shards expert states over them): dp tp / (ep etp)."""
        return self.dp * self.tp // (self.ep * self.expert_tp)

    @property
    def any(self) -> bool:
        return self != Parallel()

    def values(self) -> dict[sympy.Symbol, int]:
        return {TP: self.tp, PP: self.pp, DP: self.dp, EP: self.ep, ETP: self.expert_tp}


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{name}: must be a positive integer, got {value!r}")
    return value


def check_parallel(p: Parallel, config: ModelConfig, seq_len: int, zero_given: bool = True,
                   dp_given: bool = True) -> Parallel:
    """UsageError naming the option whose split is not exact for `config`; `p` when every split is."""
    for name, value in (("--dp", p.dp), ("--tp", p.tp), ("--pp", p.pp), ("--ep", p.ep)):
        _positive(name, value)
    if p.etp is not None:
        _positive("--etp", p.etp)
    if p.zero not in ZERO_STAGES:
        raise UsageError(f"--zero: must be 0, 1, 2 or 3, got {p.zero!r}")
    if p.zero and not dp_given:
        raise UsageError(f"--zero {p.zero}: give --dp (ZeRO shards model states over the data-parallel ranks)")
    c = config
    if p.tp > 1:
        heads = {"num_heads": c.num_heads}
        if c.attention == "mha":
            heads["num_kv_heads"] = c.kv_heads
        for key, value in heads.items():
            if value % p.tp:
                raise UsageError(f"--tp {p.tp}: does not divide {key} ({value:,}) (Megatron-LM splits attention "
                                 "by heads)")
        widths = {"d_ff": c.d_ff} if c.ffn != "moe" or c.dense_layers else {}
        if c.ffn == "moe" and c.d_ff_shared:
            widths["d_ff_shared"] = c.d_ff_shared
        for key, value in widths.items():
            if value % p.tp:
                raise UsageError(f"--tp {p.tp}: does not divide {key} ({value:,}) (column-parallel linears split it)")
    if p.sp and p.tp == 1:
        raise UsageError("--sp: sequence parallelism needs --tp > 1 (it splits along the tensor-parallel group)")
    if p.sp and seq_len % p.tp:
        raise UsageError(f"--sp: --tp {p.tp} does not divide seq_len ({seq_len:,})")
    if c.num_layers % p.pp:
        raise UsageError(f"--pp {p.pp}: does not divide num_layers ({c.num_layers:,})")
    if p.ep > 1 or p.etp is not None:
        if c.ffn != "moe":
            raise UsageError(f"--ep {p.ep}: {c.name} has no experts (ffn: {c.ffn})" if p.ep > 1 else
                             f"--etp {p.etp}: {c.name} has no experts (ffn: {c.ffn})")
    if c.ffn == "moe":
        if c.n_experts % p.ep:
            raise UsageError(f"--ep {p.ep}: does not divide n_experts ({c.n_experts:,})")
        width = c.d_ff_expert or c.d_ff
        if width % p.expert_tp:
            raise UsageError(f"--etp {p.expert_tp}: does not divide the expert width ({width:,})")
        if (p.dp * p.tp) % (p.ep * p.expert_tp):
            raise UsageError(f"--ep {p.ep}: ep x etp ({p.ep * p.expert_tp}) must divide dp x tp ({p.dp * p.tp}): "
                             "expert parallelism is carved out of the data- and tensor-parallel ranks")
    return p
