"""The sub-layers an architecture's options ask for: attention (multi-head, grouped-query, latent), the
feed-forward block (SwiGLU, GeGLU, GELU MLP, mixture of experts) and the norms of a block.

Each function reads ArchOptions only and returns components (derive/model/components.py); none knows which
model it is building. Where a rule follows one reference implementation, the comment names it.
"""

from __future__ import annotations

from .components import Attention, Fused, Linear, MixtureOfExperts, Norm, Sublayer, Vector, linear
from .dims import (
    D, D_QK, D_V, DFF, DFF_E, DFF_S, H, KE, MLA_KV_A, MLA_KV_B, MLA_O, MLA_Q, NE, ONE, R_KV, R_Q, B, S, head_width,
    kv_width, q_width,
)
from .options import ArchOptions
from .steps import Dim

PROJ = "attention_projections"
ATTENTION_ALIASES = ("attention", "attn", "multi_head_attention")
FFN_ALIASES = (("ffn", "feed_forward", "mlp"), ("ffn", "mlp"))


def _norm(opts: ArchOptions, key: str, where: str, title_where: str, aliases: tuple[str, ...],
          dim: Dim = D) -> Norm:
    if opts.norm == "layernorm":
        desc = f"LayerNorm {where}" if opts.norm_bias else f"LayerNorm weight {where} (no bias)"
        return Norm(key, f"{title_where}layer_norm", dim, desc, True, aliases, opts.norm_bias)
    desc = "final RMSNorm weight" if where == "final" else f"RMSNorm weight {where}"
    return Norm(key, f"{title_where}rms_norm", dim, desc, False, aliases)


def block_norms(opts: ArchOptions) -> list[Norm]:
    """pre: before attention and before the FFN; sandwich (Gemma 2/3): also after each; post (OLMo 2): only
    after each; shared (Phi-2, Falcon-7B): one norm feeding the parallel attention and FFN."""
    pre_attn = _norm(opts, "attn_norm", "before attention", "attn_",
                     ("ln1", "norm1", "rms_norm_1", "rms_norm", "rmsnorm", "norms"))
    pre_ffn = _norm(opts, "ffn_norm", "before the FFN", "ffn_",
                    ("ln2", "norm2", "rms_norm_2", "rms_norm", "rmsnorm", "norms"))
    post_attn = _norm(opts, "post_attn_norm", "after attention (on its output)", "post_attn_", ("norms",))
    post_ffn = _norm(opts, "post_ffn_norm", "after the FFN (on its output)", "post_ffn_", ("norms",))
    shared = _norm(opts, "block_norm", "before the parallel attention and FFN", "block_",
                   ("ln1", "norm1", "input_layernorm", "norms"))
    return {"pre": [pre_attn, pre_ffn], "sandwich": [pre_attn, post_attn, pre_ffn, post_ffn],
            "post": [post_attn, post_ffn], "shared": [shared]}[opts.block_norms]


def final_norm(opts: ArchOptions) -> Norm:
    return _norm(opts, "final_norm", "final", "final_", ("ln_final", "final_norm", "norm"))


def attention(opts: ArchOptions, band: Dim | None = None) -> Attention:
    """The attention sub-layer; `band`: count only the (query, key) pairs inside a sliding window."""
    if opts.attention == "mla":
        return _latent_attention(opts, band)
    q, kv, head = q_width(opts), kv_width(opts), head_width(opts)
    qkv_bias = opts.bias or opts.qkv_bias or opts.attention_bias
    kv_note = " (num_kv_heads heads)" if opts.gqa else ""
    parts: list[Linear | Fused] = [
        linear("q_proj", D, q, "query projection", PROJ, qkv_bias, ("wq", "q", "query")),
        linear("k_proj", D, kv, f"key projection{kv_note}", PROJ, qkv_bias, ("wk", "k", "key")),
        linear("v_proj", D, kv, f"value projection{kv_note}", PROJ, qkv_bias, ("wv", "v", "value")),
    ]
    if opts.fused_qkv:  # Phi-3 qkv_proj, GPT-NeoX / Falcon query_key_value: one matrix, the same numbers
        parts = [Fused("qkv_proj", tuple(parts), "q, k and v projections stored as one matrix",
                       ("query_key_value", "c_attn", "wqkv", "qkv"))]
    parts.append(linear("o_proj", q, D, "output projection", PROJ, opts.bias or opts.attention_bias,
                        ("wo", "output_proj", "out_proj", "w_o", "o", "dense")))
    extras: list[Norm | Vector] = []
    if opts.qk_norm != "none":  # head: one vector of head width shared by all heads (Qwen3, Gemma 3, Phi);
        per_head = opts.qk_norm == "head"  # full: over all heads at once (OLMo 2)
        extras += [
            _norm(opts, "q_norm", "on queries" + (" (each head)" if per_head else ""), "q_", ("q_layernorm",),
                  head if per_head else q),
            _norm(opts, "k_norm", "on keys" + (" (each head)" if per_head else ""), "k_", ("k_layernorm",),
                  head if per_head else kv),
        ]
    if opts.attention_sinks:  # gpt-oss: a learned logit per head joins the softmax, then is dropped
        extras.append(Vector("sinks", "sinks", H, "attention sink logit per head (no matmul)", ("attention_sinks",)))
    title = "grouped_query_attention" if opts.gqa else "causal_multi_head_attention"
    return Attention(Sublayer("attention", title, "total_attention", tuple(parts), ATTENTION_ALIASES,
                              ("attention", "attn"), tuple(extras)), (B, H, S), head, band=band)


def _latent_attention(opts: ArchOptions, band: Dim | None) -> Attention:
    """DeepSeek-V2/V3 (modeling_deepseek_v3.DeepseekV3Attention): the query optionally compressed to
    q_lora_rank; keys and values from a kv_lora_rank latent plus one RoPE key shared by all heads. With
    attention_bias only q_a_proj, kv_a_proj_with_mqa and o_proj have biases."""
    bias = opts.bias or opts.attention_bias
    parts: list[Linear] = []
    extras: list[Norm | Vector] = []
    if opts.q_lora:
        parts += [linear("q_a_proj", D, R_Q, "query compression to q_lora_rank", PROJ, bias, ("wq_a",)),
                  linear("q_b_proj", R_Q, MLA_Q, "query up-projection to every head (nope and rope parts)", PROJ,
                         False, ("wq_b",))]
        extras.append(Norm("q_a_layernorm", "q_a_layernorm", R_Q, "RMSNorm weight on the compressed query"))
    else:
        parts.append(linear("q_proj", D, MLA_Q, "query projection (nope and rope parts of every head)", PROJ, False,
                            ("wq", "q", "query")))
    parts += [
        linear("kv_a_proj_with_mqa", D, MLA_KV_A, "key-value latent plus the shared RoPE key", PROJ, bias,
               ("wkv_a", "kv_a_proj")),
        linear("kv_b_proj", R_KV, MLA_KV_B, "latent up-projection to each head's key (nope part) and value", PROJ,
               False, ("wkv_b",)),
        linear("o_proj", MLA_O, D, "output projection", PROJ, bias, ("wo", "output_proj", "out_proj", "o")),
    ]
    extras.append(Norm("kv_a_layernorm", "kv_a_layernorm", R_KV, "RMSNorm weight on the key-value latent"))
    return Attention(Sublayer("attention", "multi_head_latent_attention", "total_attention", tuple(parts),
                              ATTENTION_ALIASES, ("attention", "attn"), tuple(extras)), (B, H, S), D_QK, D_V, band)


def _gated(opts: ArchOptions, width: Dim, bias: bool, fused: bool) -> tuple[Linear | Fused, ...]:
    act = "GeGLU" if opts.ffn == "geglu" else "SwiGLU"
    unit = "GELU" if opts.ffn == "geglu" else "SiLU"
    gate = linear("w1", D, width, f"{act} gate projection W1 (input to {unit})", "ffn", bias,
                  ("gate_proj", "w1_proj", "gate"))
    up = linear("w3", D, width, f"{act} linear projection W3 (multiplies the gate)", "ffn", bias,
                ("up_proj", "signal_proj", "signal_projection", "w3_proj"))
    down = linear("w2", width, D, f"{act} down projection W2", "ffn", bias, ("down_proj", "w2_proj", "down"))
    if fused:  # Phi-3 gate_up_proj: gate and up stored as one (d_model x 2 d_ff) matrix
        return (Fused("gate_up_proj", (gate, up), "gate and up projections stored as one matrix",
                      ("gate_up",)), down)
    return gate, up, down


def dense_ffn(opts: ArchOptions) -> Sublayer:
    """SwiGLU / GeGLU (3 matrices) or the GELU MLP (2), of width d_ff."""
    bias = opts.bias or opts.mlp_bias
    if opts.ffn == "gelu":
        return Sublayer("ffn", "gelu_mlp", "total_ffn", (
            linear("c_fc", D, DFF, "MLP up projection (then GELU)", "ffn", bias, ("fc", "up_proj", "w1")),
            linear("c_proj", DFF, D, "MLP down projection", "ffn", bias, ("down_proj", "w2")),
        ), *FFN_ALIASES)
    title = "geglu_ffn" if opts.ffn == "geglu" else "swiglu_ffn"
    return Sublayer("ffn", title, "total_ffn", _gated(opts, DFF, bias, opts.fused_gate_up), *FFN_ALIASES)


def moe_ffn(opts: ArchOptions) -> MixtureOfExperts:
    """Router (d_model x n_experts, biased in gpt-oss), the shared expert and its gate where the model has them
    (Qwen-MoE, DeepSeek), and n_experts gated experts of width d_ff_expert (d_ff for Mixtral)."""
    width = DFF_E if opts.expert_width else DFF
    expert = Sublayer("expert", "swiglu_expert", "total_per_expert",
                      _gated(opts, width, opts.bias or opts.expert_bias, False))
    router = linear("router", D, NE, "router: one logit per expert", "router", opts.router_bias, ("gate",))
    shared = Sublayer("shared_expert", "shared_expert", "total_shared_expert",
                      _gated(opts, DFF_S, opts.bias or opts.mlp_bias, False), ("shared_experts",)) \
        if opts.shared_expert else None
    gate = linear("shared_expert_gate", D, ONE, "sigmoid gate of the shared expert", "router", False) \
        if opts.shared_expert_gate else None
    return MixtureOfExperts("ffn", "mixture_of_experts", router, expert, NE, KE, shared, gate)
