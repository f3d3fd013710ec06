"""The hot path reuses one symbolic tree per architecture and still gives the hand formulas' values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from derive.accounting.account import account, memory_step
from derive.model.architectures import derivation
from derive.model.config import load_config
from derive.render.formatting import expr_latex, expr_text


@settings(max_examples=30, deadline=None)
@given(V=st.integers(1, 300_000), T=st.integers(1, 65_536), L=st.integers(1, 200), h=st.integers(1, 128),
       d_k=st.integers(1, 512), f=st.integers(1, 100_000), B=st.integers(1, 64), data=st.data())
def test_evaluate_matches_hand_formulas(V, T, L, h, d_k, f, B, data) -> None:
    d = h * d_k
    S = data.draw(st.integers(1, T))
    cfg = load_config("gpt2-small").replace(vocab_size=V, context_length=T, num_layers=L, d_model=d,
                                            num_heads=h, d_ff=f)
    acc = account(cfg, batch_size=B, seq_len=S)
    P = 2 * V * d + L * (4 * d * d + 3 * d * f + 2 * d) + d
    F = L * (8 * B * S * d * d + 4 * B * S * S * d + 6 * B * S * d * f) + 2 * B * S * d * V
    assert acc.total_params == P
    assert acc.forward_flops == F
    assert acc.buffers.value == L * 2 * T * d_k
    assert acc.memory("bf16").value == 2 * P
    assert sum(acc.groups.values()) == F
    assert acc.forward.find("forward.block.attention.scores").value == 2 * B * h * S * d_k * S
    assert acc.params.find("params.block.ffn.w2").factor_values == (f, d)


def test_symbolic_work_is_shared_across_configs() -> None:
    a, b = account(load_config("gpt2-small")), account(load_config("gpt2-xl"))
    assert a.derivation is b.derivation is derivation("assignment")
    assert a.derivation.forward_groups is b.derivation.forward_groups
    assert memory_step(a.derivation.params, "fp32") is memory_step(b.derivation.params, "fp32")
    e = a.derivation.params.expr
    assert expr_text(e) is expr_text(e) and expr_latex(e) is expr_latex(e)
