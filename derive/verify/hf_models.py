"""Which transformers model implements a derive config, and the config class arguments that build it.

The inverse of derive/model/hf_types.py: from derive's options back to one model type's fields. A config read
from a config.json is built as its own model type; any other config as the first type whose architecture is
exactly its own (options that only change buffers, or how the sliding window is counted, are not compared:
`derive verify` compares parameters and forward FLOPs). None when no type fits.
"""

from __future__ import annotations

from typing import Any, Callable

from ..model.config import ModelConfig

DEFAULTS: dict[str, Any] = dict(
    norm="rmsnorm", ffn="swiglu", positions="rope", attention="mha", block_norms="pre", residual="sequential",
    qk_norm="none", fused_qkv=False, fused_gate_up=False, sinks=False, qkv_bias=False, o_bias=False,
    mlp_bias=False, expert_bias=False, router_bias=False, lm_head_bias=False, norm_bias=True, shared=False,
    shared_gate=False, expert_width=False, dense=False, explicit_head=False,
)


def features(c: ModelConfig) -> dict[str, Any]:
    """The architecture choices that change parameters or forward FLOPs, as comparable values."""
    return dict(
        norm=c.norm, ffn=c.ffn, positions="rope" if c.positions == "alibi" else c.positions, attention=c.attention,
        block_norms=c.block_norms, residual=c.residual, qk_norm=c.qk_norm, fused_qkv=c.fused_qkv,
        fused_gate_up=c.fused_gate_up, sinks=c.attention_sinks, qkv_bias=c.bias or c.qkv_bias or c.attention_bias,
        o_bias=c.bias or c.attention_bias, mlp_bias=c.bias or c.mlp_bias,
        expert_bias=c.ffn == "moe" and (c.bias or c.expert_bias),
        router_bias=c.router_bias, lm_head_bias=c.lm_head_bias, norm_bias=c.norm_bias or c.norm != "layernorm",
        shared=c.d_ff_shared is not None, shared_gate=c.shared_expert_gate, expert_width=c.d_ff_expert is not None,
        dense=c.dense_layers > 0, explicit_head=c.head_dim is not None)


def _common(c: ModelConfig) -> dict[str, Any]:
    return dict(vocab_size=c.vocab_size, hidden_size=c.d_model, intermediate_size=c.d_ff,
                num_hidden_layers=c.num_layers, num_attention_heads=c.num_heads, num_key_value_heads=c.kv_heads,
                max_position_embeddings=c.context_length, tie_word_embeddings=c.tie_embeddings,
                head_dim=c.d_k, bos_token_id=None, eos_token_id=None, pad_token_id=None)


def _rotary(c: ModelConfig, key: str = "partial_rotary_factor") -> dict[str, Any]:
    """A factor f with int(head * f) == rotary_dim exactly: (rotary_dim + 1/2) / head, away from float edges."""
    return {key: (c.rotary_dim + 0.5) / c.d_k if c.rotary_dim is not None else 1.0}


def _moe(c: ModelConfig, **extra: Any) -> dict[str, Any]:
    return dict(num_experts_per_tok=c.experts_per_token, moe_intermediate_size=c.d_ff_expert or c.d_ff,
                mlp_only_layers=list(range(c.dense_layers)), decoder_sparse_step=1, **extra)


def _llama(c: ModelConfig) -> dict[str, Any] | None:
    f = features(c)
    if f["qkv_bias"] != f["o_bias"]:
        return None
    return dict(_common(c), attention_bias=f["qkv_bias"], mlp_bias=f["mlp_bias"], **_rotary(c))


def _deepseek(c: ModelConfig, version: int) -> dict[str, Any] | None:
    f = features(c)
    shared = (c.d_ff_shared or 0) // (c.d_ff_expert or c.d_ff)
    if f["qkv_bias"] != f["o_bias"] or shared * (c.d_ff_expert or c.d_ff) != (c.d_ff_shared or 0):
        return None
    kw = dict(_common(c), num_key_value_heads=c.num_heads, q_lora_rank=c.q_lora_rank,
              kv_lora_rank=c.kv_lora_rank, qk_nope_head_dim=c.qk_nope_head_dim, qk_rope_head_dim=c.qk_rope_head_dim,
              v_head_dim=c.v_head_dim, attention_bias=f["o_bias"], n_routed_experts=c.n_experts or 1,
              num_experts_per_tok=c.experts_per_token or 1, moe_intermediate_size=c.d_ff_expert or c.d_ff,
              n_shared_experts=shared, first_k_dense_replace=c.dense_layers if c.ffn == "moe" else c.num_layers,
              n_group=1, topk_group=1)
    del kw["head_dim"]  # not a field: given, it would replace the qk_rope_head_dim __post_init__ sets
    if version == 2:
        kw["mlp_bias"] = f["mlp_bias"]
    return kw


def _falcon(c: ModelConfig) -> dict[str, Any] | None:
    f = features(c)
    if not f["qkv_bias"] == f["o_bias"] == f["mlp_bias"] or c.head_dim is not None:
        return None
    kw = dict(vocab_size=c.vocab_size, hidden_size=c.d_model, num_hidden_layers=c.num_layers,
              num_attention_heads=c.num_heads, max_position_embeddings=c.context_length, ffn_hidden_size=c.d_ff,
              tie_word_embeddings=c.tie_embeddings, bias=f["o_bias"], alibi=c.positions == "alibi",
              bos_token_id=None, eos_token_id=None, pad_token_id=None)
    layout = (c.residual, c.block_norms)
    if layout == ("parallel", "pre"):  # ln_attn and ln_mlp: new_decoder_architecture, any num_kv_heads
        return dict(kw, new_decoder_architecture=True, num_kv_heads=c.kv_heads, num_ln_in_parallel_attn=2)
    if layout == ("parallel", "shared") and c.kv_heads not in (1, c.num_heads):  # Falcon2-11B: one norm, GQA
        return dict(kw, new_decoder_architecture=True, num_kv_heads=c.kv_heads, num_ln_in_parallel_attn=1)
    if c.kv_heads not in (1, c.num_heads) or layout not in (("parallel", "shared"), ("sequential", "pre")):
        return None
    return dict(kw, new_decoder_architecture=False, multi_query=c.kv_heads == 1, num_kv_heads=c.num_heads,
                parallel_attn=layout[0] == "parallel")


# model type -> (features it fixes, features it can express either way, kwargs builder)
TYPES: dict[str, tuple[dict[str, Any], tuple[str, ...], Callable[[ModelConfig], dict[str, Any] | None]]] = {
    "gpt2": (dict(norm="layernorm", ffn="gelu", positions="learned", qkv_bias=True, o_bias=True, mlp_bias=True),
             (), lambda c: None if c.kv_heads != c.num_heads or c.head_dim is not None else dict(
                 vocab_size=c.vocab_size, n_positions=c.context_length, n_embd=c.d_model, n_layer=c.num_layers,
                 n_head=c.num_heads, n_inner=c.d_ff, tie_word_embeddings=c.tie_embeddings, bos_token_id=None,
                 eos_token_id=None)),
    "llama": ({}, ("qkv_bias", "o_bias", "mlp_bias", "explicit_head"), _llama),
    "mistral": ({}, ("explicit_head",), lambda c: dict(_common(c), sliding_window=None)),
    "qwen2": (dict(qkv_bias=True), ("explicit_head",), lambda c: dict(_common(c), **_rotary(c))),
    "mixtral": (dict(ffn="moe"), ("explicit_head",), lambda c: dict(
        _common(c), num_local_experts=c.n_experts, num_experts_per_tok=c.experts_per_token)),
    "qwen3": (dict(qk_norm="head"), ("qkv_bias", "o_bias", "explicit_head"), lambda c: _llama(c) and dict(
        _common(c), attention_bias=features(c)["o_bias"], **_rotary(c))),
    "qwen2_moe": (dict(ffn="moe", expert_width=True, shared=True, shared_gate=True),
                  ("qkv_bias", "dense", "explicit_head"), lambda c: dict(
                      _common(c), qkv_bias=features(c)["qkv_bias"], num_experts=c.n_experts,
                      shared_expert_intermediate_size=c.d_ff_shared, **_moe(c))),
    "qwen3_moe": (dict(ffn="moe", expert_width=True, qk_norm="head"), ("qkv_bias", "o_bias", "dense", "explicit_head"),
                  lambda c: _llama(c) and dict(_common(c), attention_bias=features(c)["o_bias"],
                                               num_local_experts=c.n_experts, **_moe(c))),
    "gemma": (dict(ffn="geglu"), ("qkv_bias", "o_bias", "explicit_head"),
              lambda c: _llama(c) and dict(_common(c), attention_bias=features(c)["o_bias"])),
    "gemma2": (dict(ffn="geglu", block_norms="sandwich"), ("qkv_bias", "o_bias", "explicit_head"),
               lambda c: _llama(c) and dict(_common(c), attention_bias=features(c)["o_bias"])),
    "gemma3_text": (dict(ffn="geglu", block_norms="sandwich", qk_norm="head"), ("qkv_bias", "o_bias", "explicit_head"),
                    lambda c: _llama(c) and dict(_common(c), attention_bias=features(c)["o_bias"])),
    "phi": (dict(norm="layernorm", ffn="gelu", qkv_bias=True, o_bias=True, mlp_bias=True, lm_head_bias=True,
                 block_norms="shared", residual="parallel"), ("qk_norm", "explicit_head"),
            lambda c: None if c.qk_norm == "full" or (c.qk_norm == "head" and c.head_dim is not None) else dict(
                _common(c), qk_layernorm=c.qk_norm == "head", **_rotary(c))),
    "phi3": (dict(fused_qkv=True, fused_gate_up=True), ("explicit_head",), lambda c: dict(_common(c), **_rotary(c))),
    "gpt_neox": (dict(norm="layernorm", ffn="gelu", fused_qkv=True, mlp_bias=True), ("qkv_bias", "o_bias", "residual"),
                 lambda c: None if c.kv_heads != c.num_heads or _llama(c) is None else dict(
                     _common(c), head_dim=None, attention_bias=features(c)["o_bias"],
                     use_parallel_residual=c.residual == "parallel", **_rotary(c, "rotary_pct"))),
    "olmo2": (dict(qk_norm="full", block_norms="post"), ("qkv_bias", "o_bias", "explicit_head"),
              lambda c: _llama(c) and dict(_common(c), attention_bias=features(c)["o_bias"], **_rotary(c))),
    "starcoder2": (dict(norm="layernorm", ffn="gelu"), ("qkv_bias", "o_bias", "mlp_bias", "explicit_head"),
                   lambda c: None if not features(c)["qkv_bias"] == features(c)["o_bias"] == features(c)["mlp_bias"]
                   else dict(_common(c), use_bias=features(c)["o_bias"], **_rotary(c))),
    "falcon": (dict(norm="layernorm", ffn="gelu", fused_qkv=True), ("qkv_bias", "o_bias", "mlp_bias", "residual",
                                                                    "block_norms"), _falcon),
    "deepseek_v2": (dict(attention="mla", ffn="moe", expert_width=True), ("qkv_bias", "o_bias", "mlp_bias", "shared",
                                                                          "dense"), lambda c: _deepseek(c, 2)),
    "deepseek_v3": (dict(attention="mla", ffn="moe", expert_width=True), ("qkv_bias", "o_bias", "shared", "dense"),
                    lambda c: _deepseek(c, 3)),
    "gpt_oss": (dict(ffn="moe", sinks=True, router_bias=True, expert_bias=True),
                ("qkv_bias", "o_bias", "explicit_head"),
                lambda c: _llama(c) and dict(_common(c), attention_bias=features(c)["o_bias"],
                                             num_local_experts=c.n_experts, num_experts_per_tok=c.experts_per_token)),
}
# Architectures built by the experts implementation transformers can count on meta ("batched_mm").
MOE_TYPES = ("mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt_oss")
# Types whose sdpa path is unsupported in transformers 5.24 (built with eager attention).
EAGER_TYPES = ("gemma2", "gpt_oss")


def spec_for(c: ModelConfig, model_type: str) -> dict[str, Any] | None:
    """Config class arguments of `model_type` that build `c`, or None when the type cannot express it."""
    fixed, free, build = TYPES[model_type]
    f = features(c)
    for key, value in f.items():
        if key not in free and value != fixed.get(key, DEFAULTS[key]):
            return None
    return build(c)


def hf_model_spec(c: ModelConfig) -> tuple[str, dict[str, Any]] | None:
    """The transformers model type and config arguments that implement `c` (its own type first), or None."""
    if c.hf_model_type in TYPES:
        kwargs = spec_for(c, c.hf_model_type)
        if kwargs is not None:
            return c.hf_model_type, kwargs
    for model_type in TYPES:
        kwargs = spec_for(c, model_type)
        if kwargs is not None:
            return model_type, kwargs
    return None
