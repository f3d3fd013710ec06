"""derive's assignment-architecture figures against an independent PyTorch model on the meta device."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.accounting.account import account
from derive.model.config import ModelConfig, load_config

try:
    from tests.oracles import assignment as A
except ModuleNotFoundError:  # pytest puts tests/ itself on sys.path
    from oracles import assignment as A


def _oracle(cfg: ModelConfig):
    return A.build_assignment_model(cfg.vocab_size, cfg.context_length, cfg.num_layers, cfg.d_model,
                                    cfg.num_heads, cfg.d_ff)


def test_gpt2_xl_matches_torch_at_1024_and_16384():
    for overrides in ({}, {"context_length": 16384}):
        cfg = load_config("gpt2-xl", overrides)
        model = _oracle(cfg)
        acc = account(cfg)
        assert acc.total_params == A.trainable_params(model)
        assert acc.forward_flops == A.forward_flops(model, 1, cfg.context_length)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(V=st.integers(2, 5000), L=st.integers(1, 4), h=st.integers(1, 8), dk=st.sampled_from([2, 4, 8, 16]),
       dff=st.integers(1, 300), T=st.integers(2, 64), B=st.integers(1, 3), data=st.data())
def test_random_configs_match_torch(V, L, h, dk, dff, T, B, data):
    cfg = ModelConfig("random", V, T, L, h * dk, h, dff)
    S = data.draw(st.integers(1, T))
    model = _oracle(cfg)
    acc = account(cfg, B, S)
    assert acc.total_params == A.trainable_params(model)
    assert acc.forward_flops == A.forward_flops(model, B, S)
