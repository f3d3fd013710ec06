"""Memory of one device in a training run at scale: model states, activations, the pipeline's in-flight
micro-batches, the largest micro-batch that fits a budget and the fewest devices that fit the model.

Per pipeline stage i (of pp): model states (states.py) plus the activations of min(pp - i, m) micro-batches in
flight under 1F1B (Narayanan et al. 2021, Section 2.2: stage i runs pp - i forward passes before its first
backward; m = micro-batches per step), each micro-batch keeping its blocks' tensors (saved_memory.py), the
once-per-step tensors of the stage (token ids on the first, the loss on the last) and, under full recomputation,
one block's tensors being recomputed. A device's memory is the largest stage's. Every figure is a sympy
expression in the config's symbols, B (the micro-batch) and the parallel degrees, then evaluated exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import sympy

from ...errors import UsageError
from ...model import symbols as sy
from ...model.architectures import Derivation
from ...model.components import repeat, total
from ...model.config import ModelConfig
from ...model.saved import SETS, profile_for
from ...model.steps import Dim, Evaluated, Step, evaluate
from .activations import ACTIVATION_SETS, activation_tree
from .derivation import max_batch_expr
from .parallel import DP, MICROBATCHES, Parallel
from .precision import Optimizer, Precision
from .saved_memory import SavedLayout, Split, block_step, once_steps
from .states import Stage, adafactor_elements, stage_params, stages, states_tree


def default_activations(config: ModelConfig, p: Parallel) -> str:
    """The handout's list for the homework's architecture on one pipeline stage without tensor parallelism (the
    handout counts neither); what autograd keeps (`full`) for every other architecture or layout."""
    return "problem" if config.arch.is_assignment and p.tp == 1 and p.pp == 1 else "full"


def _bytes_tree(step: Step, act: int) -> Step:
    """An element-count tree (the handout's sets) as bytes: every leaf times the compute dtype's bytes."""
    if step.children:
        return dataclasses.replace(step, children=tuple(_bytes_tree(c, act) for c in step.children))
    return dataclasses.replace(step, factors=(Dim.const(act), *step.factors))


@dataclass(frozen=True, eq=False)
class StageMemory:
    """One pipeline stage on one device: its trees and their exact values."""

    stage: Stage
    in_flight: int
    params: Evaluated
    states: Evaluated
    activations: Evaluated
    activations_expr: sympy.Expr  # in B (micro-batch), other symbols substituted by the caller

    @property
    def total(self) -> int:
        return self.states.value + self.activations.value


@dataclass(frozen=True, eq=False)
class ScaleAccounting:
    """Per-device memory of one training setup. `subs` maps every symbol (B = micro-batch) to its value."""

    config: ModelConfig
    derivation: Derivation
    precision: Precision
    optimizer: Optimizer
    parallel: Parallel
    activation_set: str
    recompute: str
    micro_batch: int
    microbatches: int
    subs: dict

    def __post_init__(self) -> None:
        p = self.parallel
        if self.activation_set in ACTIVATION_SETS:
            if self.config.arch != ACTIVATION_SETS[self.activation_set].arch:  # a list is written for one model
                raise UsageError(f"--activations {self.activation_set}: the handout's list describes its own "
                                 "model's architecture only (use full or korthikanti)")
            if p.tp > 1 or p.pp > 1:
                raise UsageError(f"--activations {self.activation_set}: the handout's list knows no tensor or "
                                 "pipeline parallelism (use full or korthikanti)")
        elif self.activation_set not in SETS:
            raise UsageError(f"--activations: unknown activation set {self.activation_set!r}")

    @cached_property
    def layout(self) -> SavedLayout:
        return self.layout_for(self.parallel, self.recompute)

    def layout_for(self, p: Parallel, recompute: str) -> SavedLayout:
        """The saved-tensor layout of this run's blocks under parallelism `p` and `recompute` (the per-layer
        comparison rows are other settings of the same run). A single key/value head per device (MQA, or GQA with
        tp = num_kv_heads) is a view at micro-batch 1: decided from `p`'s own tp, not this run's."""
        split = Split(tp=p.tp > 1, sp=p.sp, etp=p.expert_tp > 1, ep=p.ep > 1)
        prof = profile_for(self.config.hf_model_type, self.config.arch.is_assignment)
        c = self.config
        if c.attention == "mha" and c.kv_heads // p.tp == 1 < c.num_heads // p.tp:
            prof = dataclasses.replace(prof, single_kv=True)
        return SavedLayout(self.config.arch, prof, self.activation_set, self.precision.activations, split,
                           recompute)

    def in_flight(self, stage: Stage) -> int:
        """Micro-batches whose activations stage i holds at its peak under 1F1B: min(pp - i, m)."""
        return 1 if self.parallel.pp == 1 else min(self.parallel.pp - stage.index, self.microbatches)

    def block_counts(self, stage: Stage) -> dict[bool, Dim]:
        return {kind == "dense_block": count for kind, count in stage.blocks}

    def per_layer(self) -> dict[str, Step]:
        """Bytes one block keeps per micro-batch (the issue's activations_per_layer), per kind of block."""
        if self.activation_set in ACTIVATION_SETS:
            tree = activation_tree(self.activation_set, self.recompute)
            step = tree.find("activations.checkpoint.input") if self.recompute == "full" else \
                tree.find("activations.block")
            return {"block": _bytes_tree(step, self.precision.activations)}
        if self.config.ffn != "moe":
            kinds = {"block": True}
        else:
            kinds = {"dense_block": True, "block": False} if self.config.dense_layers else {"block": False}
        return {name: block_step(self.layout, dense) for name, dense in kinds.items()}

    def activation_tree(self, stage: Stage) -> Step:
        """Bytes of activations on one device of `stage`, symbolic in B (micro-batch) and the degrees."""
        act = self.precision.activations
        if self.activation_set in ACTIVATION_SETS:  # the homework: one stage, no tensor parallelism
            tree = activation_tree(self.activation_set, self.recompute)
            return _bytes_tree(tree, act)
        once = once_steps(self.layout)
        per_micro: list[Step] = []
        if stage.embeddings:
            per_micro.append(once["first"])
        per_micro.append(once["every"])
        for dense, count in self.block_counts(stage).items():
            block = block_step(self.layout, dense)
            per_micro.append(repeat(block.key + "s", block.title + "s_on_this_stage", count, block))
        if stage.head:
            per_micro.append(once["last"])
        micro = total("activations.micro_batch", "one_micro_batch", "total_per_micro_batch", per_micro)
        flight = self.in_flight(stage)
        count = Dim.const(flight) if self.parallel.pp == 1 else \
            Dim("min(pp - stage, microbatches)", sympy.Integer(flight), "\\min(p - i, m)")
        children = [repeat("activations.in_flight", "micro_batches_in_flight", count, micro)]
        if self.recompute == "full":  # one block's tensors while it is recomputed in backward
            children.append(block_step(self.layout, next(iter(self.block_counts(stage))), working=True))
        return total("activations", "activations_per_device", "total_activations_per_device", children)

    @cached_property
    def stage_list(self) -> list[Stage]:
        return stages(self.config, self.parallel)

    def _values(self) -> dict:
        return {**self.subs, **self.parallel.values(), MICROBATCHES: self.microbatches}

    @cached_property
    def stage_memory(self) -> list[StageMemory]:
        values = self._values()
        out = []
        for st in self.stage_list:
            params = stage_params(self.derivation, st, self.parallel)
            ada = adafactor_elements(params) if self.optimizer.factored else None
            states = states_tree(params, self.precision, self.optimizer, self.parallel, ada)
            acts = self.activation_tree(st)
            b_free = {k: sympy.Integer(v) for k, v in values.items() if k != sy.B}
            out.append(StageMemory(st, self.in_flight(st), evaluate(params, values), evaluate(states, values),
                                   evaluate(acts, values), sympy.expand(acts.expr.xreplace(b_free))))
        return out

    @cached_property
    def peak(self) -> StageMemory:
        """The stage whose device needs the most memory (the first one on a tie)."""
        return max(self.stage_memory, key=lambda m: m.total)

    def linear(self, m: StageMemory) -> tuple[int, int]:
        """(per micro-batch sequence, fixed): the stage's memory = a B + b, exact integers, for micro-batches of 2
        or more sequences (at 1, PyTorch keeps a single key/value head and MLA's value as views: at_one)."""
        expr = m.activations_expr.replace(sympy.Piecewise, lambda *pairs: pairs[-1][0])  # the B >= 2 branch
        poly = sympy.Poly(expr, sy.B)
        if poly.degree() > 1:
            raise ValueError("activations are not linear in the micro-batch")
        a = int(poly.coeff_monomial(sy.B))
        return a, int(poly.coeff_monomial(1)) + m.states.value

    def at_one(self, m: StageMemory) -> int:
        """The stage's memory at a micro-batch of one sequence, exactly."""
        return int(m.activations_expr.xreplace({sy.B: sympy.Integer(1)})) + m.states.value

    def largest_micro_batch(self, budget: int) -> tuple[int, StageMemory]:
        """The largest micro-batch every stage fits in `budget` bytes (0 if the fixed part does not fit), and the
        stage that bounds it. In-flight micro-batches as in this setup (1F1B: min(pp - i, m))."""
        best: tuple[int, StageMemory] | None = None
        for m in self.stage_memory:
            a, b = self.linear(m)  # solved as the homework's: floor of the root of a x + b = budget
            n = max(int(max_batch_expr(sympy.Integer(a), sympy.Integer(b), budget)), 0) if a else \
                (10**18 if b <= budget else 0)
            if n < 2:  # the linear form holds from 2 sequences on; 1 is checked exactly
                n = 1 if self.at_one(m) <= budget else 0
            if best is None or n < best[0]:
                best = (n, m)
        assert best is not None
        return best

    def fewest_devices(self, budget: int, micro_batch: int = 1) -> dict:
        """The fewest devices of `budget` bytes that hold the model in this setup with micro-batches of
        `micro_batch` sequences, varying only dp (tp, pp, ep and the ZeRO stage fixed). Per stage,
        states(dp) + activations = budget is solved for dp
        with sympy (the ZeRO ceilings dropped: states = U + S / dp), dp is the next integer above the root, and the
        exact states with their ceilings are checked (raising dp while they do not fit). Returns {"dp", "devices",
        "reason"}: dp and devices None, with the reason, when no dp fits."""
        p = self.parallel
        need = 1
        for m in self.stage_memory:
            st = m.stage
            acts = int(m.activations_expr.xreplace({sy.B: sympy.Integer(micro_batch)}))
            room = budget - acts
            if room <= 0:
                return {"dp": None, "devices": None, "reason": f"{st.name}: its activations alone ({acts:,} bytes) "
                                                                "exceed the budget"}
            if p.zero == 0:
                if self._states_at(st, 1) > room:
                    return {"dp": None, "devices": None, "reason": f"{st.name}: ZeRO stage 0 shards nothing over "
                                                                    "dp (give --zero 1, 2 or 3)"}
                continue
            x = sympy.Symbol("x", positive=True)  # dp as a real number: the root lies between integers
            nominal = self._states_expr(st).replace(sympy.ceiling, lambda e: e).xreplace({DP: x})
            roots = [r for r in sympy.solve(sympy.Eq(nominal, room), x) if r.is_real and r > 0]
            if not roots:
                return {"dp": None, "devices": None, "reason": f"{st.name}: the states ZeRO-{p.zero} does not shard "
                                                                "exceed the budget at any dp"}
            n = max(1, int(sympy.ceiling(roots[0])))
            while self._states_at(st, n) > room:
                n += 1
            need = max(need, n)
        return {"dp": need, "devices": need * p.tp * p.pp, "reason": ""}

    def _states_expr(self, st: Stage) -> sympy.Expr:
        """This stage's model states in bytes with dp left as a symbol (ZeRO sharding on)."""
        sharded = dataclasses.replace(self.parallel, dp=2)  # any dp > 1: the sharded form, dp stays symbolic
        params = stage_params(self.derivation, st, sharded)
        ada = adafactor_elements(params) if self.optimizer.factored else None
        values = {k: sympy.Integer(v) for k, v in self._values().items() if k != DP}
        return states_tree(params, self.precision, self.optimizer, sharded, ada).expr.xreplace(values)

    def _states_at(self, st: Stage, dp: int) -> int:
        p = dataclasses.replace(self.parallel, dp=dp)
        params = stage_params(self.derivation, st, p)
        ada = adafactor_elements(params) if self.optimizer.factored else None
        return evaluate(states_tree(params, self.precision, self.optimizer, p, ada), {**self._values(), DP: dp}).value


__all__ = ["ScaleAccounting", "StageMemory", "default_activations"]
