"""Training accounting: backward FLOPs per matmul, AdamW memory, the largest batch that fits, training time.

Backward (default, "exact"): each forward matmul Y = X W needs dX = dY W^T and dW = X^T dY, two matmuls
through the same `components.matmul` rule, so backward = 2 x forward exactly. For the attention score and
weighted-sum matmuls both operands are activations and both gradients are needed (still 2 x). The embedding
lookup has no matmul forward or backward (its gradient is a scatter-add: 0 FLOPs). The first block's
projections still need their input gradient, because the embedding table under them is trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import sympy

from ...errors import UsageError
from ...model import symbols as sy
from ...model.architectures import Derivation, build, derivation
from ...model.config import ArchOptions
from ...model.components import TWO, matmul
from ...model.saved import SETS
from ...model.steps import Dim, Step, group_totals
from ..conventions.facts import facts_of
from ..conventions.registry import CONVENTIONS
from .activations import (
    ACTIVATION_SETS, DEFAULT_ACTIVATIONS, RECOMPUTE, activation_tree, get_activation_set,
)
from .optimizer import ADAMW_STATE, optimizer_tree

BACKWARD = ("exact", "2x-forward")
SECONDS_PER_DAY = 24 * 60 * 60
FP32_BYTES = 4  # the problem: every tensor in float32


RECOMPUTE_LINES: dict[str, str] = {
    "none": "activation recomputation: none (every listed activation kept)",
    "selective": "activation recomputation: selective (the attention core, scores and softmax, recomputed in "
                 "backward: Korthikanti et al. 2022, Section 5)",
    "full": "activation recomputation: full (keep each block's input; recompute the block forward in backward)",
}


@dataclass(frozen=True)
class Conventions:
    """Every switch that changes a training figure; each is printed wherever it is used."""

    backward: str = "exact"
    causal: bool = False
    recompute: str = "none"
    activations: str = DEFAULT_ACTIVATIONS

    def __post_init__(self) -> None:
        if self.backward not in BACKWARD:
            raise UsageError(f"--backward: unknown convention {self.backward!r} (known: {', '.join(BACKWARD)})")
        if self.recompute not in RECOMPUTE:
            raise UsageError(f"--recompute: unknown mode {self.recompute!r} (known: {', '.join(RECOMPUTE)})")
        if self.activations and self.activations not in SETS:  # "": the default set, chosen per config
            get_activation_set(self.activations)

    @property
    def set_description(self) -> str:
        return SETS[self.activations] if self.activations in SETS else ACTIVATION_SETS[self.activations].description

    def lines(self) -> list[str]:
        out = [
            "backward: exact per matmul (dX = dY W^T and dW = X^T dY, each 2mkn FLOPs) = 2 x forward"
            if self.backward == "exact" else
            "backward: 2 x forward (the problem's assumption), not derived per matmul",
            "attention scores and weighted sum: half the square (causal mask exploited)" if self.causal else
            "attention scores and weighted sum: the full square, as FlopCounterMode counts (causal not exploited)",
            RECOMPUTE_LINES[self.recompute],
            f"activation set: {self.activations} ({self.set_description})",
            "embedding lookup: 0 FLOPs forward and backward (indexing and scatter-add, not matmuls)",
        ]
        return out


def _flat(dims: tuple[Dim, ...]) -> Dim:
    """Several dimensions read as one (B*S rows of a weight gradient)."""
    return Dim("*".join(d.name for d in dims), sympy.Mul(*(d.expr for d in dims)),
               r" ".join(d.latex for d in dims))


def matmul_grads(leaf: Step, prefix: str) -> Step:
    """dX = dY @ W^T and dW = X^T @ dY for a forward matmul X @ W, both by the one matmul rule. A band matmul
    (the sliding-window convention: only the (query, key) pairs inside the window) has both gradients over the
    same pairs, each costing what the forward costs."""
    key = prefix + leaf.key.partition(".")[2]
    if len(leaf.shapes) == 1:
        grads = tuple(dataclasses.replace(leaf, key=f"{key}.{name}", title=name, aliases=(),
                                          description=f"{what} of {leaf.title}, over the same pairs")
                      for name, what in (("grad_input", "dL/d(left operand)"),
                                         ("grad_right_operand", "dL/d(right operand)")))
        return Step(key, leaf.title, children=grads, kind="total", group=leaf.group,
                    total_title=f"total_{leaf.title}", description=f"backward of {leaf.title}")
    left, right = leaf.shapes
    *batch, m, k = left
    n, rbatch = right[-1], right[:-2]
    d_in = matmul(f"{key}.grad_input", "grad_input", (*batch, m, n), (*rbatch, n, k), group=leaf.group,
                  description=f"dL/d(input) of {leaf.title}: dY @ (right operand)^T")
    if rbatch:
        w_left, w_right = (*batch, k, m), (*batch, m, n)
    else:
        rows = _flat((*batch, m))
        w_left, w_right = (k, rows), (rows, n)
    d_w = matmul(f"{key}.grad_weight", "grad_weight" if not rbatch else "grad_right_operand", w_left, w_right,
                 group=leaf.group, description=f"dL/d(right operand) of {leaf.title}: (left operand)^T @ dY")
    return Step(key, leaf.title, children=(d_in, d_w), kind="total", group=leaf.group,
                total_title=f"total_{leaf.title}", description=f"backward of {leaf.title}")


def backward_tree(forward: Step) -> Step:
    """The forward tree mirrored: every matmul replaced by its two gradient matmuls."""
    def go(s: Step) -> Step:
        key = "backward." + s.key.partition(".")[2] if "." in s.key else "backward"
        if s.kind == "matmul":
            return matmul_grads(s, "backward.")
        if s.kind == "lookup":
            return dataclasses.replace(s, key=key, note="scatter-add into the table, not a matmul")
        return dataclasses.replace(s, key=key, children=tuple(go(c) for c in s.children),
                                   total_title=s.total_title.replace("forward", "backward"))
    root = go(forward)
    return dataclasses.replace(root, title="backward_pass", total_title="total_backward_flops", aliases=())


def halve_causal(root: Step, group: str = "attention_scores") -> Step:
    """Causal convention: a matmul over the masked square counts half: 2mkn / 2 = mkn (drop the factor 2)."""
    def go(s: Step) -> Step:
        if s.kind == "matmul" and s.group == group:
            assert s.factors[0] is TWO
            return dataclasses.replace(s, factors=s.factors[1:], note="causal: half the square")
        if s.children:
            return dataclasses.replace(s, children=tuple(go(c) for c in s.children))
        return s
    return go(root)


def _ref(key: str, title: str, expr: sympy.Expr, name: str, latex: str, times: int = 1) -> Step:
    factors = (Dim.const(times), Dim(name, expr, latex)) if times != 1 else (Dim(name, expr, latex),)
    return Step(key, title, factors=factors, kind="flops")


@dataclass(frozen=True, eq=False)
class TrainingDerivation:
    """Symbolic training accounting for one set of conventions, in the model's symbols plus B and S."""

    model: Derivation
    conventions: Conventions
    forward: Step
    backward: Step
    recompute: Step | None
    optimizer: Step
    activations: Step | None  # the handout's sets only (problem, problem-swiglu); see saved_memory otherwise

    @property
    def params(self) -> Step:
        return self.model.params

    @property
    def step_flops(self) -> sympy.Expr:
        """Forward + backward (+ recomputed forward) for one batch: the issue's `step_flops`."""
        extra = self.recompute.expr if self.recompute is not None else 0
        return self.forward.expr + self.backward.expr + extra

    @property
    def train_step_flops(self) -> sympy.Expr:
        return self.step_flops + self.optimizer.expr

    def memory_tree(self, bytes_per_element: int = FP32_BYTES) -> Step:
        """Peak training memory: parameters, gradients, AdamW moments (one P-sized tensor each), activations."""
        p = Dim("total_parameters", self.params.expr, "P")
        a = Dim("activation_elements", self.activations.expr, "A")
        size = Dim.const(bytes_per_element)
        leaves = [Step("memory.parameters", "parameters", factors=(p, size), kind="memory"),
                  Step("memory.gradients", "gradients", factors=(p, size), kind="memory")]
        leaves += [Step(f"memory.adamw_{s}", f"adamw_{s}", factors=(p, size), kind="memory",
                        description="AdamW moment, one per parameter") for s in ADAMW_STATE]
        leaves.append(Step("memory.activations", "activations", factors=(a, size), kind="memory"))
        return Step("memory", "peak_memory", children=tuple(leaves), kind="total",
                    total_title="total_peak_memory_bytes")

    def memory_linear(self, bytes_per_element: int = FP32_BYTES) -> tuple[sympy.Expr, sympy.Expr]:
        """memory = a * batch_size + b: (a, b) as expressions free of batch_size."""
        total_bytes = sympy.expand(self.memory_tree(bytes_per_element).expr.subs(sy.S, sy.T))
        poly = sympy.Poly(total_bytes, sy.B)
        if poly.degree() > 1:
            raise ValueError("memory is not linear in batch_size")
        return poly.coeff_monomial(sy.B), poly.coeff_monomial(1)

    def approximations(self, tokens: sympy.Expr) -> dict[str, sympy.Expr]:
        """Reference estimates of forward + backward FLOPs for `tokens` = B * S tokens: the per-token formulas
        of derive.accounting.conventions.registry ('6n', shown here as "kaplan", and 'palm'), defined there once."""
        facts = facts_of(self.model)
        return {
            "kaplan": CONVENTIONS["6n"].expr(facts) * tokens,
            "palm": CONVENTIONS["palm"].expr(facts) * tokens,
        }


def blocks_of(forward: Step) -> list[Step]:
    """The repeated blocks of a forward tree (all, dense, sliding, MoE): what recomputation runs again."""
    return [c for c in forward.children if c.key.endswith("blocks")]


def recompute_step(forward: Step, mode: str) -> Step | None:
    """FLOPs recomputed in backward: none; selective, the attention-core matmuls (scores and weighted sum) of
    every block; full, every block's forward (not the lm_head)."""
    if mode == "none":
        return None
    blocks = blocks_of(forward)
    if mode == "full":
        expr = sympy.Add(*(b.expr for b in blocks))
        return _ref("recompute", "recomputed_block_forward", expr, "block_forward_flops", r"F_{\mathrm{blocks}}")
    expr = sympy.Add(*(group_totals(b).get("attention_scores", sympy.Integer(0)) for b in blocks))
    return _ref("recompute", "recomputed_attention_core", expr, "attention_core_flops", r"F_{\mathrm{core}}")


@lru_cache(maxsize=None)
def training(conventions: Conventions = Conventions(), architecture: "str | ArchOptions" = "assignment"
             ) -> TrainingDerivation:
    """Training accounting of a named architecture or of any set of architecture options (a handout edition's
    model: the 2024 one has a GELU feed-forward, learned positions and a tied lm_head)."""
    model = build(architecture) if isinstance(architecture, ArchOptions) else derivation(architecture)
    return training_for(model, conventions)


@lru_cache(maxsize=None)
def training_for(model: Derivation, conventions: Conventions = Conventions()) -> TrainingDerivation:
    """The training accounting of any architecture's Derivation (derive.model.architectures.build)."""
    full_forward = model.forward
    forward = halve_causal(full_forward) if conventions.causal else full_forward
    if conventions.backward == "exact":
        backward = backward_tree(full_forward)
        backward = halve_causal(backward) if conventions.causal else backward
    else:
        backward = _ref("backward", "backward_pass", forward.expr, "forward_flops", "F", times=2)
    recompute = recompute_step(forward, conventions.recompute)
    problem = conventions.activations in ACTIVATION_SETS
    return TrainingDerivation(model, conventions, forward, backward, recompute, optimizer_tree(model.params),
                              activation_tree(conventions.activations, conventions.recompute) if problem else None)


def max_batch_expr(a: sympy.Expr, b: sympy.Expr, budget: int) -> sympy.Expr:
    """floor of the solution of a * x + b = budget (x real): the largest batch that fits."""
    x = sympy.Symbol("x", real=True)
    (root,) = sympy.solve(sympy.Eq(a * x + b, budget), x)
    return sympy.floor(root)
