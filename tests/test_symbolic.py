"""Closed forms equal expressions written independently here, in symbols."""

from __future__ import annotations

import sympy

from derive.model.architectures import assignment
from derive.model.symbols import SYMBOLS

V, T, L, d, h, dff, B, S = (SYMBOLS[n] for n in (
    "vocab_size", "context_length", "num_layers", "d_model", "num_heads", "d_ff", "batch_size", "seq_len"))


def test_parameter_closed_form():
    expected = 2 * V * d + L * (4 * d**2 + 3 * d * dff + 2 * d) + d
    assert sympy.expand(assignment().params.expr - expected) == 0


def test_forward_flops_closed_form():
    expected = L * (8 * B * S * d**2 + 4 * B * S**2 * d + 6 * B * S * d * dff) + 2 * B * S * d * V
    assert sympy.expand(assignment().forward.expr - expected) == 0


def test_rope_buffers_are_not_parameters():
    buffers = assignment().buffers.expr
    assert sympy.simplify(buffers - 2 * T * (d / h) * L) == 0
    assert not assignment().params.expr.has(T), "context_length must not enter the trainable count"


def test_groups_partition_the_forward_pass():
    groups = assignment().forward_groups
    assert set(groups) == {"attention_projections", "attention_scores", "ffn", "lm_head"}
    assert sympy.expand(sum(groups.values()) - assignment().forward.expr) == 0
    assert sympy.expand(groups["attention_scores"] - 4 * L * B * S**2 * d) == 0
    assert sympy.expand(groups["ffn"] - 6 * L * B * S * d * dff) == 0


def test_parent_is_sum_of_children():
    for root in (assignment().params, assignment().forward):
        for step in root.walk():
            if step.children and step.repeat is None:
                assert sympy.expand(step.expr - sum(c.expr for c in step.children)) == 0


def test_attention_scores_over_ffn_crossover_is_solvable():
    groups = assignment().forward_groups
    (root,) = sympy.solve(sympy.Eq(groups["attention_scores"], groups["ffn"]), S)
    assert sympy.simplify(root - sympy.Rational(3, 2) * dff) == 0
