"""Tests of the independent oracles (tests/oracles/) against closed forms written here by hand.

These check the oracles themselves, not derive: if one fails, the oracle (or our understanding of what
FlopCounterMode counts) is wrong. Everything runs on the meta device.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    from tests.oracles import assignment as A
    from tests.oracles import hf as H
except ModuleNotFoundError:  # tests/ is not a package: pytest puts tests/ itself on sys.path
    from oracles import assignment as A
    from oracles import hf as H

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HF_SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- assignment architecture

XL = dict(vocab_size=50257, context_length=1024, num_layers=48, d_model=1600, num_heads=25, d_ff=6400)


def assignment_params(V, L, d, d_ff):
    # embedding + lm_head (untied), per layer q,k,v,o + W1,W2,W3 + 2 RMSNorm, final RMSNorm
    return 2 * V * d + L * (4 * d * d + 3 * d * d_ff + 2 * d) + d


def assignment_forward(V, L, d, d_ff, B, S):
    return L * (8 * B * S * d * d + 4 * B * S * S * d + 6 * B * S * d * d_ff) + 2 * B * S * d * V


@pytest.fixture(scope="module")
def xl():
    return A.build_assignment_model(**XL)


def test_assignment_xl_params(xl):
    assert A.trainable_params(xl) == 2_127_057_600
    assert A.trainable_params(xl) == assignment_params(50257, 48, 1600, 6400)
    # RoPE cos+sin tables, (T, d_k) each, shared by all layers: buffers, not parameters
    assert A.buffer_numel(xl) == 2 * 1024 * (1600 // 25)


def test_assignment_xl_forward(xl):
    f = A.forward_flops(xl, 1, 1024)
    assert f == 4_513_336_524_800 == assignment_forward(50257, 48, 1600, 6400, 1, 1024)
    counts = A.forward_flop_counts(xl, 1, 1024)
    assert counts == {
        "aten.mm": 48 * (8 * 1024 * 1600**2 + 6 * 1024 * 1600 * 6400) + 2 * 1024 * 1600 * 50257,
        "aten.bmm": 48 * 4 * 1024 * 1024 * 1600,
    }


def test_assignment_xl_long_context():
    m = A.build_assignment_model(**{**XL, "context_length": 16384})
    assert A.forward_flops(m, 1, 16384) == 149_522_795_724_800 == assignment_forward(50257, 48, 1600, 6400, 1, 16384)


def test_assignment_xl_train_step_is_exactly_3x(xl):
    # Exactly 3x: each counted matmul gets two equal-size backward matmuls (dX, dW); dX is computed even for
    # layer 0 since the embedding output requires grad. Cross-entropy / softmax (backward) and the embedding
    # backward (index_put) are not matmuls, so FlopCounterMode counts them as 0.
    assert A.train_step_flops(xl, 1, 1024) == 3 * 4_513_336_524_800


def test_assignment_xl_sdpa_equals_explicit(xl):
    s = A.build_assignment_model(**XL, use_sdpa=True)
    assert A.trainable_params(s) == A.trainable_params(xl)
    assert A.forward_flop_counts(s, 1, 1024) == A.forward_flop_counts(xl, 1, 1024)
    assert A.forward_flops(s, 2, 256) == A.forward_flops(xl, 2, 256)
    assert A.train_step_flops(s, 1, 512) == A.train_step_flops(xl, 1, 512)


def test_assignment_cpu_sdpa_matches_explicit_numerically():
    # sanity of the oracle's math (not a FLOP test): both attention paths compute the same function
    import torch

    torch.manual_seed(0)
    cfg = dict(vocab_size=97, context_length=16, num_layers=2, d_model=32, num_heads=4, d_ff=48)
    m = A.build_assignment_model(**cfg, device="cpu")
    s = A.build_assignment_model(**cfg, use_sdpa=True, device="cpu")
    s.load_state_dict(m.state_dict())
    ids = torch.randint(0, 97, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(m(ids), s(ids), rtol=1e-4, atol=1e-4)
        # causality: changing a later token does not change earlier logits
        ids2 = ids.clone()
        ids2[:, -1] = (ids2[:, -1] + 1) % 97
        torch.testing.assert_close(m(ids)[:, :-1], m(ids2)[:, :-1])


@SETTINGS
@given(
    V=st.integers(2, 300),
    L=st.integers(1, 3),
    h=st.integers(1, 4),
    half_dk=st.integers(1, 8),
    d_ff=st.integers(1, 96),
    B=st.integers(1, 3),
    S=st.integers(1, 24),
    extra_ctx=st.integers(0, 8),
    sdpa=st.booleans(),
)
def test_assignment_small_configs(V, L, h, half_dk, d_ff, B, S, extra_ctx, sdpa):
    d = h * 2 * half_dk
    m = A.build_assignment_model(V, S + extra_ctx, L, d, h, d_ff, use_sdpa=sdpa)
    assert A.trainable_params(m) == assignment_params(V, L, d, d_ff)
    assert A.forward_flops(m, B, S) == assignment_forward(V, L, d, d_ff, B, S)


# ---------------------------------------------------------------- Hugging Face models

def gpt2_params(V, T, L, d):
    per_layer = (
        2 * 2 * d  # ln_1, ln_2 (weight + bias)
        + d * 3 * d + 3 * d  # c_attn
        + d * d + d  # attn c_proj
        + d * 4 * d + 4 * d  # c_fc
        + 4 * d * d + d  # mlp c_proj
    )
    return V * d + T * d + L * per_layer + 2 * d  # wte, wpe, blocks, ln_f; lm_head tied to wte


def gpt2_forward(V, L, d, B, S):
    N = B * S
    conv1d = 2 * N * (d * 3 * d + d * d + d * 4 * d + 4 * d * d)  # addmm, biases count 0
    attn = 4 * N * S * d  # Q@K^T + P@V, full square
    return L * (conv1d + attn) + 2 * N * d * V  # tied lm_head still multiplies


def llama_params(V, L, d, h, h_kv, hd, f, tied=False, qkv_bias=False):
    attn = d * h * hd + 2 * d * h_kv * hd + h * hd * d
    if qkv_bias:
        attn += h * hd + 2 * h_kv * hd
    return V * d * (1 if tied else 2) + L * (attn + 3 * d * f + 2 * d) + d


def llama_forward(V, L, d, h, h_kv, hd, f, B, S):
    # rotary embedding: element-wise in transformers 5.24 -> 0 FLOPs
    N = B * S
    proj = 2 * N * (2 * d * h * hd + 2 * d * h_kv * hd)
    ffn = 6 * N * d * f
    attn = 4 * N * S * h * hd
    return L * (proj + ffn + attn) + 2 * N * d * V


def mixtral_params(V, L, d, h, h_kv, hd, f, E):
    attn = 2 * d * h * hd + 2 * d * h_kv * hd
    return 2 * V * d + L * (attn + E * d + 3 * E * d * f + 2 * d) + d


def mixtral_forward(V, L, d, h, h_kv, hd, f, E, k, B, S):
    N = B * S
    proj = 2 * N * (2 * d * h * hd + 2 * d * h_kv * hd)
    router = 2 * N * d * E
    experts = 6 * N * k * d * f  # only the N*k routed (token, expert) pairs, data independent
    attn = 4 * N * S * h * hd
    return L * (proj + router + experts + attn) + 2 * N * d * V


@HF_SETTINGS
@given(
    V=st.integers(2, 300),
    L=st.integers(1, 3),
    h=st.integers(1, 4),
    hd=st.integers(1, 12),
    B=st.integers(1, 3),
    S=st.integers(1, 24),
)
def test_hf_gpt2(V, L, h, hd, B, S):
    d, T = h * hd, 32
    m = H.build_hf_model("gpt2", vocab_size=V, n_positions=T, n_embd=d, n_layer=L, n_head=h,
                         bos_token_id=None, eos_token_id=None)
    assert m.lm_head.weight is m.transformer.wte.weight
    assert H.hf_params(m) == gpt2_params(V, T, L, d)
    N = B * S
    assert H.hf_forward_flop_counts(m, B, S) == {
        "aten.addmm": L * 2 * N * 12 * d * d,
        "aten.bmm": L * 4 * N * S * d,
        "aten.mm": 2 * N * d * V,
    }
    assert H.hf_forward_flops(m, B, S) == gpt2_forward(V, L, d, B, S)


def _gqa_kwargs(V, L, h_kv, group, half_hd, f):
    h, hd = h_kv * group, 2 * half_hd
    return dict(vocab_size=V, hidden_size=h * hd, intermediate_size=f, num_hidden_layers=L,
                num_attention_heads=h, num_key_value_heads=h_kv, max_position_embeddings=64,
                bos_token_id=None, eos_token_id=None, pad_token_id=None), h, hd


GQA = dict(
    V=st.integers(2, 300),
    L=st.integers(1, 3),
    h_kv=st.integers(1, 2),
    group=st.integers(1, 3),
    half_hd=st.integers(1, 6),
    f=st.integers(1, 64),
    B=st.integers(1, 3),
    S=st.integers(1, 24),
)


@HF_SETTINGS
@given(model_type=st.sampled_from(["llama", "mistral", "qwen2"]), tied=st.booleans(), **GQA)
def test_hf_llama_family(model_type, tied, V, L, h_kv, group, half_hd, f, B, S):
    kw, h, hd = _gqa_kwargs(V, L, h_kv, group, half_hd, f)
    d = h * hd
    m = H.build_hf_model(model_type, tie_word_embeddings=tied, **kw)
    qwen = model_type == "qwen2"
    assert H.hf_params(m) == llama_params(V, L, d, h, h_kv, hd, f, tied=tied, qkv_bias=qwen)
    assert H.hf_forward_flops(m, B, S) == llama_forward(V, L, d, h, h_kv, hd, f, B, S)
    counts = H.hf_forward_flop_counts(m, B, S)
    N = B * S
    qkv = 2 * N * (d * h * hd + 2 * d * h_kv * hd)
    assert counts["aten.bmm"] == L * 4 * N * S * h * hd
    if qwen:  # q/k/v have biases -> addmm
        assert counts["aten.addmm"] == L * qkv


@HF_SETTINGS
@given(head_dim=st.integers(1, 8).map(lambda x: 2 * x), d_per_head=st.integers(1, 10), h=st.integers(1, 4),
       B=st.integers(1, 2), S=st.integers(1, 16))
def test_hf_llama_explicit_head_dim(head_dim, d_per_head, h, B, S):
    # head_dim decoupled from hidden_size / num_heads (LlamaConfig still requires h | hidden_size)
    V, L, f, h_kv, d = 50, 2, 24, 1, h * d_per_head
    m = H.build_hf_model("llama", vocab_size=V, hidden_size=d, intermediate_size=f, num_hidden_layers=L,
                         num_attention_heads=h, num_key_value_heads=h_kv, head_dim=head_dim,
                         max_position_embeddings=64, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    assert H.hf_params(m) == llama_params(V, L, d, h, h_kv, head_dim, f)
    assert H.hf_forward_flops(m, B, S) == llama_forward(V, L, d, h, h_kv, head_dim, f, B, S)


@HF_SETTINGS
@given(E=st.integers(1, 6), k_frac=st.floats(0, 1), **GQA)
def test_hf_mixtral(E, k_frac, V, L, h_kv, group, half_hd, f, B, S):
    k = 1 + int(k_frac * (E - 1))
    kw, h, hd = _gqa_kwargs(V, L, h_kv, group, half_hd, f)
    d = h * hd
    m = H.build_hf_model("mixtral", num_local_experts=E, num_experts_per_tok=k, **kw)
    assert H.hf_params(m) == mixtral_params(V, L, d, h, h_kv, hd, f, E)
    N = B * S
    counts = H.hf_forward_flop_counts(m, B, S)
    assert counts == {
        "aten.mm": L * (2 * N * (2 * d * h * hd + 2 * d * h_kv * hd) + 2 * N * d * E) + 2 * N * d * V,
        "aten.bmm": L * (6 * N * k * d * f + 4 * N * S * h * hd),
    }
    assert sum(counts.values()) == mixtral_forward(V, L, d, h, h_kv, hd, f, E, k, B, S)


SMALL = {
    "gpt2": dict(vocab_size=300, n_positions=64, n_embd=48, n_layer=2, n_head=4),
    "llama": dict(vocab_size=300, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64),
}
SMALL["mistral"] = {**SMALL["llama"], "sliding_window": 8}  # window < seq_len: still the full square
SMALL["qwen2"] = dict(SMALL["llama"])
SMALL["mixtral"] = {**SMALL["llama"], "num_local_experts": 4, "num_experts_per_tok": 2}


@pytest.mark.parametrize("model_type", H.MODEL_TYPES)
def test_hf_sdpa_counts_like_eager_on_meta(model_type):
    eager = H.build_hf_model(model_type, **SMALL[model_type])
    sdpa = H.build_hf_model(model_type, attn_implementation="sdpa", **SMALL[model_type])
    assert H.hf_forward_flop_counts(sdpa, 2, 20) == H.hf_forward_flop_counts(eager, 2, 20)


@pytest.mark.parametrize("model_type", H.MODEL_TYPES)
def test_hf_train_step_is_exactly_3x(model_type):
    m = H.build_hf_model(model_type, **SMALL[model_type])
    assert H.hf_train_step_flops(m, 2, 20) == 3 * H.hf_forward_flops(m, 2, 20)


def test_hf_gpt2_xl_shape():
    m = H.build_hf_model("gpt2", n_embd=1600, n_layer=48, n_head=25)  # V 50257, T 1024
    assert H.hf_params(m) == gpt2_params(50257, 1024, 48, 1600) == 1_557_611_200
    assert H.hf_forward_flops(m, 1, 1024) == gpt2_forward(50257, 48, 1600, 1, 1024)
