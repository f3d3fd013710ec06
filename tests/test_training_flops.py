"""Backward and training-step FLOPs against FlopCounterMode (meta device) and hand formulas.

The oracle (tests/oracles/assignment.py) is an independent PyTorch model of the assignment architecture; it
counts forward + cross-entropy + loss.backward() matmul FLOPs.
"""

from __future__ import annotations

import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.model import symbols as sy
from derive.model.config import load_config
from derive.accounting.training.run import train_account
from derive.accounting.training.derivation import Conventions, training

try:
    from tests.oracles import assignment as A
except ModuleNotFoundError:  # tests/ is not a package: pytest puts tests/ itself on sys.path
    from oracles import assignment as A

XL = dict(vocab_size=50257, context_length=1024, num_layers=48, d_model=1600, num_heads=25, d_ff=6400)


def hand_forward(V, L, d, d_ff, B, S):
    return L * (8 * B * S * d * d + 4 * B * S * S * d + 6 * B * S * d * d_ff) + 2 * B * S * d * V


def subs_for(cfg: dict, B: int, S: int) -> dict:
    values = {sy.SYMBOLS[k]: v for k, v in cfg.items()}
    values[sy.B], values[sy.S] = B, S
    return values


def derive_step(cfg: dict, B: int, S: int, conv: Conventions = Conventions()) -> int:
    t = training(conv)
    return int(t.step_flops.xreplace({k: sympy.Integer(v) for k, v in subs_for(cfg, B, S).items()}))


def test_backward_is_exactly_twice_forward_symbolically():
    t = training()
    assert sympy.expand(t.backward.expr - 2 * t.forward.expr) == 0


def test_two_x_forward_convention_agrees_with_exact():
    exact, approx = training(), training(Conventions(backward="2x-forward"))
    assert sympy.expand(exact.step_flops - approx.step_flops) == 0


def test_causal_halves_only_the_attention_square():
    full, causal = training(), training(Conventions(causal=True))
    B, S, L, d = sy.B, sy.S, sy.L, sy.d
    # forward: 2 matmuls of 2*B*S*S*d each; halved: saves 2*B*S^2*d per block; backward saves twice that.
    assert sympy.expand(full.step_flops - causal.step_flops - L * 6 * B * S**2 * d) == 0


def test_full_recompute_adds_one_forward_of_the_blocks():
    base, rec = training(), training(Conventions(recompute="full"))
    B, S, L, d, dff = sy.B, sy.S, sy.L, sy.d, sy.d_ff
    blocks = L * (8 * B * S * d**2 + 4 * B * S**2 * d + 6 * B * S * d * dff)
    assert sympy.expand(rec.step_flops - base.step_flops - blocks) == 0


def test_gpt2_xl_train_step_matches_flop_counter():
    model = A.build_assignment_model(**XL)
    oracle = A.train_step_flops(model, 1, XL["context_length"])
    assert derive_step(XL, 1, XL["context_length"]) == oracle
    assert oracle == 3 * hand_forward(50257, 48, 1600, 6400, 1, 1024)


def test_gpt2_xl_step_flops_for_the_problem_batch():
    t = train_account(load_config("gpt2-xl"), batch_size=1024)
    assert t.forward.value == hand_forward(50257, 48, 1600, 6400, 1024, 1024)
    assert t.step_flops == 3 * hand_forward(50257, 48, 1600, 6400, 1024, 1024)


def test_backward_per_matmul_matches_flop_counter_breakdown():
    """The oracle's mm/bmm totals: forward + backward both counted; derive splits the same way (bmm = scores)."""
    cfg = dict(vocab_size=97, context_length=16, num_layers=2, d_model=24, num_heads=3, d_ff=40)
    counts = A.train_step_flop_counts(A.build_assignment_model(**cfg), 2, 16)
    t = train_account(load_config("gpt2-xl").replace(**cfg), batch_size=2)
    fwd = [n for n in t.forward.walk() if n.step.kind == "matmul"]
    bwd = [n for n in t.backward.walk() if n.step.kind == "matmul"]
    L = cfg["num_layers"]

    def total(nodes, bmm: bool) -> int:
        return sum(n.value * (L if ".block." in n.key else 1) for n in nodes
                   if (n.step.group == "attention_scores") == bmm)

    assert total(fwd, True) + total(bwd, True) == counts["aten.bmm"]
    assert total(fwd, False) + total(bwd, False) == counts["aten.mm"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    L=st.integers(1, 3), h=st.integers(1, 4), dk=st.sampled_from([2, 4, 8]), dff=st.integers(1, 48),
    V=st.integers(2, 200), S=st.integers(1, 24), B=st.integers(1, 3),
)
def test_train_step_matches_flop_counter_on_random_configs(L, h, dk, dff, V, S, B):
    cfg = dict(vocab_size=V, context_length=S, num_layers=L, d_model=h * dk, num_heads=h, d_ff=dff)
    oracle = A.train_step_flops(A.build_assignment_model(**cfg), B, S)
    assert derive_step(cfg, B, S) == oracle


def test_approximation_differences_are_the_hand_terms():
    t = training()
    B, S, L, d, V = sy.B, sy.S, sy.L, sy.d, sy.V
    approx = t.approximations(B * S)
    # PaLM / nanoGPT: 6N + 12 L d S per token overcounts exactly the embedding table and the norm weights
    # (parameters without matmul FLOPs): 6 * B*S * (V d + 2 L d + d).
    assert sympy.expand(t.step_flops - approx["palm"] + 6 * B * S * (V * d + 2 * L * d + d)) == 0
    # Kaplan 6N additionally misses the attention square: 12 L B S^2 d.
    assert sympy.expand(t.step_flops - approx["kaplan"] - 12 * L * B * S**2 * d
                        + 6 * B * S * (V * d + 2 * L * d + d)) == 0
