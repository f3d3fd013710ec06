"""AdamW as an explicit list of element-wise operations per parameter, and its FLOPs and state.

Counting convention: every element-wise add, subtract, multiply, divide or square root on a parameter-sized
tensor is 1 FLOP per element. Per-step scalars (1 - beta1, 1 - beta2, the bias-corrected step size
alpha_t = alpha * sqrt(1 - beta2^t) / (1 - beta1^t), alpha * lambda) are computed once per step, not per
parameter, and are not counted. The gradient g is given (it is the backward pass's output).
Algorithm as in CS336 assignment 1 (Loshchilov & Hutter): moments, bias-corrected update, then decoupled
weight decay.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy

from ...model.steps import Dim, Step


@dataclass(frozen=True)
class ElementwiseOp:
    key: str
    stage: str
    formula: str
    flops: int  # per parameter element
    counting: str


ADAMW_OPS: tuple[ElementwiseOp, ...] = (
    ElementwiseOp("m_scale", "first moment", "beta1 * m", 1, "1 multiply"),
    ElementwiseOp("m_grad", "first moment", "(1 - beta1) * g", 1, "1 multiply ((1 - beta1) is a per-step scalar)"),
    ElementwiseOp("m_add", "first moment", "m <- beta1 * m + (1 - beta1) * g", 1, "1 add"),
    ElementwiseOp("g_square", "second moment", "g^2", 1, "1 multiply"),
    ElementwiseOp("v_scale", "second moment", "beta2 * v", 1, "1 multiply"),
    ElementwiseOp("v_grad", "second moment", "(1 - beta2) * g^2", 1, "1 multiply"),
    ElementwiseOp("v_add", "second moment", "v <- beta2 * v + (1 - beta2) * g^2", 1, "1 add"),
    ElementwiseOp("bias_correction", "bias correction",
                  "alpha_t = alpha * sqrt(1 - beta2^t) / (1 - beta1^t)", 0, "per-step scalar: 0 per parameter"),
    ElementwiseOp("v_sqrt", "update", "sqrt(v)", 1, "1 square root"),
    ElementwiseOp("eps_add", "update", "sqrt(v) + eps", 1, "1 add"),
    ElementwiseOp("ratio", "update", "m / (sqrt(v) + eps)", 1, "1 divide"),
    ElementwiseOp("step_scale", "update", "alpha_t * m / (sqrt(v) + eps)", 1, "1 multiply"),
    ElementwiseOp("step_sub", "update", "theta <- theta - alpha_t * m / (sqrt(v) + eps)", 1, "1 subtract"),
    ElementwiseOp("decay_scale", "weight decay", "(alpha * lambda) * theta", 1,
                  "1 multiply (alpha * lambda is a per-step scalar)"),
    ElementwiseOp("decay_sub", "weight decay", "theta <- theta - alpha * lambda * theta", 1, "1 subtract"),
)

# Tensors AdamW keeps per parameter between steps: the first and second moments.
ADAMW_STATE: tuple[str, ...] = ("m", "v")


def flops_per_parameter() -> int:
    return sum(op.flops for op in ADAMW_OPS)


def stages() -> dict[str, int]:
    """FLOPs per parameter per stage, in order (moments, bias correction, update, weight decay)."""
    out: dict[str, int] = {}
    for op in ADAMW_OPS:
        out[op.stage] = out.get(op.stage, 0) + op.flops
    return out


@lru_cache(maxsize=None)
def optimizer_tree(params: Step) -> Step:
    """FLOPs of one AdamW step: per stage, (FLOPs per parameter) * P."""
    p = Dim("total_parameters", params.expr, "P")
    children = tuple(
        Step(f"optimizer.{stage.replace(' ', '_')}", stage.replace(" ", "_"), factors=(Dim.const(n), p),
             kind="optimizer", description=f"{n} element-wise FLOPs per parameter")
        for stage, n in stages().items())
    return Step("optimizer", "adamw_step", children=children, kind="total", total_title="total_optimizer_flops")


def optimizer_flops_expr(params: Step) -> sympy.Expr:
    return optimizer_tree(params).expr
