"""derive's derivations against implementations nobody here wrote the derivation for.

Expected values come from PyTorch modules on the meta device (tests/oracles/: an independent assignment
model and transformers' GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
MixtralForCausalLM) counted with FlopCounterMode, and from published parameter counts. What
FlopCounterMode counts and what it does not (checked in tests/test_oracles.py, torch 2.13 / transformers
5.24, meta device):
- bias adds: 0 (a biased Linear runs as addmm, counted 2*m*k*n like mm) -- same as derive's convention;
- rotary embedding: 0 -- transformers 5.24 computes freqs as an element-wise broadcast
  (position_ids[..., None] * inv_freq), not the inv_freq @ position_ids matmul of transformers 4.x; so there
  is no extra term to account for and the totals are asserted equal;
- Mixtral routing with experts implementation "batched_mm": the router mm over all tokens plus two bmm over
  the N*k routed (token, expert) pairs -- shapes depend only on k, so the count is data independent and
  equals derive's router + k experts per token exactly.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from derive.accounting.account import account
from derive.model.config import _validate, load_config
from derive.resources import configs_dir

try:
    from tests.oracles import assignment as A
    from tests.oracles import hf as H
except ModuleNotFoundError:
    from oracles import assignment as A
    from oracles import hf as H

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cfg(**data):
    return _validate({"name": "t", **data}, "test", "t")


@SETTINGS
@given(V=st.integers(2, 300), L=st.integers(1, 3), h=st.integers(1, 4), half_dk=st.integers(1, 6),
       d_ff=st.integers(1, 64), B=st.integers(1, 3), S=st.integers(1, 20), extra=st.integers(0, 6))
def test_assignment_matches_independent_torch_model(V, L, h, half_dk, d_ff, B, S, extra):
    d, T = h * 2 * half_dk, S + extra
    acc = account(cfg(vocab_size=V, context_length=T, num_layers=L, d_model=d, num_heads=h, d_ff=d_ff), B, S)
    model = A.build_assignment_model(V, T, L, d, h, d_ff)
    assert acc.total_params == A.trainable_params(model)
    assert acc.forward_flops == A.forward_flops(model, B, S)


@SETTINGS
@given(V=st.integers(2, 300), L=st.integers(1, 3), h=st.integers(1, 4), hd=st.integers(1, 8),
       f=st.integers(1, 64), tied=st.booleans(), B=st.integers(1, 3), S=st.integers(1, 20))
def test_gpt2_matches_transformers(V, L, h, hd, f, tied, B, S):
    d, T = h * hd, 32
    acc = account(cfg(vocab_size=V, context_length=T, num_layers=L, d_model=d, num_heads=h, d_ff=f,
                      norm="layernorm", ffn="gelu", positions="learned", bias=True, tie_embeddings=tied), B, S)
    m = H.build_hf_model("gpt2", vocab_size=V, n_positions=T, n_embd=d, n_layer=L, n_head=h, n_inner=f,
                         tie_word_embeddings=tied, bos_token_id=None, eos_token_id=None)
    assert acc.total_params == H.hf_params(m)
    assert acc.forward_flops == H.hf_forward_flops(m, B, S)


GQA = dict(V=st.integers(2, 300), L=st.integers(1, 3), h_kv=st.integers(1, 3), group=st.integers(1, 3),
           half_hd=st.integers(1, 5), f=st.integers(1, 64), B=st.integers(1, 2), S=st.integers(1, 16))


def _gqa(V, L, h_kv, group, half_hd, f):
    h, hd = h_kv * group, 2 * half_hd
    derive_keys = dict(vocab_size=V, context_length=64, num_layers=L, d_model=h * hd, num_heads=h, d_ff=f,
                       num_kv_heads=h_kv)
    hf_keys = dict(vocab_size=V, hidden_size=h * hd, intermediate_size=f, num_hidden_layers=L,
                   num_attention_heads=h, num_key_value_heads=h_kv, max_position_embeddings=64,
                   bos_token_id=None, eos_token_id=None, pad_token_id=None)
    return derive_keys, hf_keys


@SETTINGS
@given(model_type=st.sampled_from(["llama", "mistral", "qwen2"]), tied=st.booleans(), **GQA)
def test_llama_family_matches_transformers(model_type, tied, V, L, h_kv, group, half_hd, f, B, S):
    dk, hk = _gqa(V, L, h_kv, group, half_hd, f)
    acc = account(cfg(**dk, tie_embeddings=tied, qkv_bias=model_type == "qwen2"), B, S)
    m = H.build_hf_model(model_type, tie_word_embeddings=tied, **hk)
    assert acc.total_params == H.hf_params(m)
    assert acc.forward_flops == H.hf_forward_flops(m, B, S)


@SETTINGS
@given(E=st.integers(1, 6), k_frac=st.floats(0, 1), **GQA)
def test_mixtral_matches_transformers(E, k_frac, V, L, h_kv, group, half_hd, f, B, S):
    k = 1 + int(k_frac * (E - 1))
    dk, hk = _gqa(V, L, h_kv, group, half_hd, f)
    acc = account(cfg(**dk, ffn="moe", n_experts=E, experts_per_token=k), B, S)
    m = H.build_hf_model("mixtral", num_local_experts=E, num_experts_per_tok=k, **hk)
    assert acc.total_params == H.hf_params(m)
    assert acc.forward_flops == H.hf_forward_flops(m, B, S)
    # active per token = total minus the E - k experts a token skips, in every layer (hand formula)
    assert acc.active_params.value == H.hf_params(m) - L * (E - k) * 3 * dk["d_model"] * f
    # router: a (B*S, d) @ (d, E) mm per layer, the only mm of that shape class
    assert acc.groups["router"] == L * 2 * B * S * dk["d_model"] * E


# Published parameter counts of the released models (model cards / papers), and the presets' config.json.
RELEASED = {
    "gpt2-small-hf": 124_439_808,
    "gpt2-medium-hf": 354_823_168,
    "gpt2-large-hf": 774_030_080,
    "gpt2-xl-hf": 1_557_611_200,
    "llama-2-7b": 6_738_415_616,
    "mistral-7b": 7_241_732_096,
    "mixtral-8x7b": 46_702_792_704,
}


def _hf_from_preset(name):
    import transformers as tf

    data = json.loads((configs_dir() / f"{name}.json").read_text())
    model_type = data.pop("model_type")
    cls = {"gpt2": tf.GPT2Config, "llama": tf.LlamaConfig, "mistral": tf.MistralConfig,
           "mixtral": tf.MixtralConfig}[model_type]
    model_cls = {"gpt2": tf.GPT2LMHeadModel, "llama": tf.LlamaForCausalLM, "mistral": tf.MistralForCausalLM,
                 "mixtral": tf.MixtralForCausalLM}[model_type]
    config = cls(**data)
    config._attn_implementation = "eager"
    if model_type == "mixtral":
        config._experts_implementation = "batched_mm"
    with torch.device("meta"):
        return model_cls(config).eval()


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_models_match_transformers(name):
    acc = account(load_config(name), batch_size=2, seq_len=64)
    m = _hf_from_preset(name)
    assert acc.total_params == H.hf_params(m) == RELEASED[name]
    assert acc.forward_flops == H.hf_forward_flops(m, 2, 64)


def test_mixtral_8x7b_active_params_published():
    # Mixtral paper: "13B active parameters"; exactly: total - 32 layers * 6 unused experts * 3 * 4096 * 14336
    acc = account(load_config("mixtral-8x7b"))
    assert acc.active_params.value == 46_702_792_704 - 32 * 6 * 3 * 4096 * 14336 == 12_879_925_248


def test_biased_linear_counts_matmul_only():
    # FlopCounterMode counts addmm(bias, x, W) as 2*m*k*n: the bias add costs 0, as derive assumes
    with torch.device("meta"):
        lin = torch.nn.Linear(7, 5, bias=True)
        x = torch.empty(3, 7)
    with FlopCounterMode(display=False) as fc:
        lin(x)
    assert fc.get_flop_counts()["Global"] == {torch.ops.aten.addmm: 2 * 3 * 7 * 5}
    acc = account(cfg(vocab_size=2, context_length=4, num_layers=1, d_model=6, num_heads=2, d_ff=3, bias=True,
                      norm="layernorm"))
    # every linear gets d_out bias entries; layernorm doubles each norm: hand count for this shape
    no_bias = 2 * 2 * 6 + (4 * 36 + 3 * 6 * 3 + 2 * 6) + 6
    assert acc.total_params == no_bias + (6 * 4 + 3 + 3 + 6) + (2 * 6 + 6)


def test_tied_embeddings_counted_once_but_matmul_counted():
    base = dict(vocab_size=11, context_length=8, num_layers=1, d_model=4, num_heads=2, d_ff=5)
    untied, tied = account(cfg(**base)), account(cfg(**base, tie_embeddings=True))
    assert untied.total_params - tied.total_params == 11 * 4
    assert untied.forward_flops == tied.forward_flops


def test_derivation_built_once_per_architecture():
    # the cache is keyed by the architecture options, not by the sizes
    a = account(cfg(vocab_size=10, context_length=8, num_layers=1, d_model=8, num_heads=2, d_ff=4, num_kv_heads=1))
    b = account(cfg(vocab_size=99, context_length=16, num_layers=3, d_model=12, num_heads=6, d_ff=7, num_kv_heads=2))
    c = account(cfg(vocab_size=99, context_length=16, num_layers=3, d_model=12, num_heads=6, d_ff=7))
    assert a.derivation is b.derivation and b.derivation is not c.derivation
    assert c.derivation is account(load_config("gpt2-xl")).derivation
