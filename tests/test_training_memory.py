"""AdamW peak memory: symbolic form, GPT-2 XL figures and the largest batch, from hand formulas written here."""

from __future__ import annotations

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.model import symbols as sy
from derive.model.config import load_config
from derive.accounting.hardware import parse_budget
from derive.accounting.training.run import train_account
from derive.render.sheets.adamw import problem_form
from derive.accounting.training.derivation import Conventions, training

V, T, L, d, h, B = sy.V, sy.T, sy.L, sy.d, sy.h, sy.B


def hand_params(V, L, d, d_ff):
    return 2 * V * d + L * (4 * d * d + 3 * d * d_ff + 2 * d) + d


def hand_activations(V, T, L, d, h, d_ff, B):
    """The problem's list: per block 2 norms, QKV (3), QK^T and softmax (h T^2 each), weighted sum, out proj,
    W1 and SiLU (d_ff each), W2; then final norm, logits and cross-entropy (V each)."""
    per_block = B * T * (2 * d + 3 * d + d + d + 2 * d_ff + d) + 2 * B * h * T * T
    return L * per_block + B * T * d + 2 * B * T * V


def test_memory_expression_symbolic_with_dff_4d():
    P = hand_params(V, L, d, 4 * d)
    A = hand_activations(V, T, L, d, h, 4 * d, B)
    expected = 4 * (P + P + 2 * P + A)
    got = problem_form(training().memory_tree().expr)
    assert sympy.expand(got - expected) == 0
    assert sympy.expand(got - (B * (8 * T**2 * h * L + 64 * T * d * L + 4 * T * d + 8 * T * V)
                               + 256 * d**2 * L + 32 * d * L + 32 * d * V + 16 * d)) == 0


def test_memory_is_linear_in_batch():
    a, b = training().memory_linear()
    assert B not in a.free_symbols and B not in b.free_symbols
    total = sympy.expand(training().memory_tree().expr.subs(sy.S, T))
    assert sympy.expand(a * B + b - total) == 0


def test_full_activation_set_adds_w3_output_and_gated_product():
    diff = training(Conventions(activations="problem-swiglu")).activations.expr - training().activations.expr
    assert sympy.expand(diff - 2 * L * B * T * sy.d_ff) == 0


def test_gpt2_xl_memory_figures():
    t = train_account(load_config("gpt2-xl"))
    P = hand_params(50257, 48, 1600, 6400)
    a = 4 * hand_activations(50257, 1024, 48, 1600, 25, 6400, 1)
    assert P == 2_127_057_600
    assert t.linear == (a, 16 * P)
    assert t.memory.value == a * 1024 + 16 * P


def brute_max_batch(a: int, b: int, budget: int) -> int:
    n = 0
    while a * (n + 1) + b <= budget:
        n += 1
    return n


def test_gpt2_xl_largest_batch_both_readings():
    t = train_account(load_config("gpt2-xl"))
    a, b = t.linear
    assert t.max_batch(parse_budget("80GB")) == brute_max_batch(a, b, 80 * 10**9) == 2
    assert t.max_batch(parse_budget("80GiB")) == brute_max_batch(a, b, 80 * 2**30) == 3


@settings(max_examples=25, deadline=None)
@given(a=st.integers(1, 10**12), b=st.integers(0, 10**12), budget=st.integers(1, 10**13))
def test_max_batch_is_the_floor(a, b, budget):
    from derive.accounting.training.derivation import max_batch_expr
    value = max(int(max_batch_expr(sympy.Integer(a), sympy.Integer(b), budget)), 0)
    assert value == (max(budget - b, 0) // a if budget >= b else 0)


def test_budgets_are_exact_bytes():
    assert parse_budget("80GB").bytes == 80_000_000_000
    assert parse_budget("80GiB").bytes == 85_899_345_920
    assert parse_budget("80GiB").formula == "80 * 2^30"


def test_full_recompute_keeps_block_inputs_and_one_block():
    rec = training(Conventions(recompute="full")).activations.expr
    d_ff = sy.d_ff
    one_block = B * T * (8 * d + 2 * d_ff) + 2 * B * h * T * T
    assert sympy.expand(rec - (L * B * T * d + one_block + B * T * d + 2 * B * T * V)) == 0
