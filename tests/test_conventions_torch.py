"""The exact counts the conventions are compared with, against transformers models on the meta device.

forward + backward: FlopCounterMode around forward, cross-entropy and backward (tests/oracles/hf.py).
forward + backward + full recomputation (Megatron's 96 counts this): the same with transformers' activation
checkpointing on every decoder layer and torch.utils.checkpoint's early stop off. With early stop on (torch's
default) recomputation stops once the saved tensors backward needs are rebuilt, so each layer's last matmul (the
MLP down projection, whose output no backward reads) is not recomputed: checked here too, by hand.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.checkpoint import set_checkpoint_early_stop
from torch.utils.flop_counter import FlopCounterMode

from derive.accounting.conventions.reconcile import exact_total
from derive.accounting.conventions.run import conventions_account
from derive.model.config import config_from_mapping
from derive.model.hf import from_hf_config

try:
    from tests.oracles import hf as H
except ModuleNotFoundError:  # pytest puts tests/ itself on sys.path
    from oracles import hf as H

SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _derive(model_type: str, kwargs: dict):
    data = from_hf_config({"model_type": model_type, **kwargs}, "test")[0]
    return config_from_mapping(data, "test", model_type)


def _recompute_step(model, B: int, S: int, early_stop: bool) -> int:
    model.activation_checkpointing_enable()
    model.train()  # checkpointing is active in training mode only; dropout ops are not counted
    ids = torch.randint(0, model.config.vocab_size, (B, S), device="meta")
    mask = torch.ones(B, S, dtype=torch.long, device="meta")  # use_cache=False without a mask fails on meta
    with set_checkpoint_early_stop(early_stop), FlopCounterMode(display=False) as fc:
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1)).backward()
    return int(fc.get_total_flops())


def _llama(L, h_kv, group, half_hd, f, V, tied):
    h = h_kv * group
    return dict(vocab_size=V, hidden_size=h * 2 * half_hd, intermediate_size=f, num_hidden_layers=L,
                num_attention_heads=h, num_key_value_heads=h_kv, max_position_embeddings=64,
                tie_word_embeddings=tied)


@SETTINGS
@given(L=st.integers(1, 3), h_kv=st.integers(1, 3), group=st.integers(1, 3), half_hd=st.integers(1, 4),
       f=st.integers(1, 48), V=st.integers(2, 300), tied=st.booleans(), B=st.integers(1, 2), S=st.integers(1, 12))
def test_llama_gqa_training_and_recompute(L, h_kv, group, half_hd, f, V, tied, B, S):
    kwargs = _llama(L, h_kv, group, half_hd, f, V, tied)
    acc = conventions_account(_derive("llama", kwargs), B, S)
    model = H.build_hf_model("llama", **kwargs)
    assert acc.exact["training"] == H.hf_train_step_flops(model, B, S)
    assert acc.exact["training+recompute"] == _recompute_step(model, B, S, early_stop=False)


@SETTINGS
@given(L=st.integers(1, 3), h=st.integers(1, 4), hd=st.integers(1, 8), V=st.integers(2, 300),
       B=st.integers(1, 2), S=st.integers(1, 12))
def test_gpt2_training_and_recompute(L, h, hd, V, B, S):
    kwargs = dict(vocab_size=V, n_embd=h * hd, n_head=h, n_layer=L, n_positions=32)
    acc = conventions_account(_derive("gpt2", kwargs), B, S)
    model = H.build_hf_model("gpt2", **kwargs)
    assert acc.exact["training"] == H.hf_train_step_flops(model, B, S)
    assert acc.exact["training+recompute"] == _recompute_step(model, B, S, early_stop=False)


def test_mixtral_training():
    kwargs = dict(vocab_size=97, hidden_size=32, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=64)
    acc = conventions_account(_derive("mixtral", kwargs), 2, 8)
    assert acc.exact["training"] == H.hf_train_step_flops(H.build_hf_model("mixtral", **kwargs), 2, 8)


@pytest.mark.parametrize("tied", [False, True])
def test_early_stop_skips_each_layers_last_matmul(tied):
    B, S, d, f, L = 2, 16, 64, 96, 2
    kwargs = _llama(L, 2, 4, 4, f, 101, tied)
    acc = conventions_account(_derive("llama", kwargs), B, S)
    model = H.build_hf_model("llama", **kwargs)
    down_proj = 2 * B * S * f * d  # per layer, the one matmul whose output backward never reads
    assert _recompute_step(model, B, S, early_stop=True) == acc.exact["training+recompute"] - L * down_proj
    assert exact_total(acc.derivation, "training+recompute") != exact_total(acc.derivation, "training")
