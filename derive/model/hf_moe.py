"""The mixture-of-experts model types (Mixtral, Qwen-MoE, DeepSeek-V2/V3, gpt-oss): defaults and readers.

Companion of derive/model/hf_types.py (same conventions). A model whose every layer turns out dense (no
experts, or all layers listed as dense) is read as the dense model it is.
"""

from __future__ import annotations

from typing import Any

from ..errors import shown
from .hf import Fields
from .hf_types import HFType, _attention, _base, _d, _divisible, _moe_layers, _qwen_types, _sliding_all, _sliding_types


def _moe(out: dict[str, Any], experts: int, k: int, moe_layers: int, **extra: Any) -> dict[str, Any]:
    """ffn: moe with `moe_layers` sparse layers; the rest keep the dense FFN of width d_ff."""
    if moe_layers == 0:
        return out  # every layer dense: the model is dense
    return {**out, "ffn": "moe", "n_experts": experts, "experts_per_token": k,
            "num_dense_layers": out["num_layers"] - moe_layers, **extra}


def _mixtral(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    return _moe({**out, **_sliding_all(f)}, f.int("num_local_experts"), f.int("num_experts_per_tok"),
                out["num_layers"])


def _qwen2_moe(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    out.update(qkv_bias=f.bool("qkv_bias"), **_qwen_types(f, out["num_layers"], moe=True))
    experts = f.opt_int("num_experts", zero=True) or 0
    layers = _moe_layers(f, out["num_layers"]) if experts else 0
    # Qwen2MoeSparseMoeBlock: a shared expert (its own width) behind a sigmoid gate, Linear(d, 1)
    return _moe(out, experts, f.int("num_experts_per_tok"), layers, d_ff_expert=f.int("moe_intermediate_size"),
                d_ff_shared=f.int("shared_expert_intermediate_size"), shared_expert_gate=True,
                norm_topk_prob=f.bool("norm_topk_prob"))


def _qwen3_moe(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    out.update(attention_bias=f.bool("attention_bias"), qk_norm="head",
               **_sliding_all(f, f.bool("use_sliding_window")))
    experts = f.opt_int("num_local_experts", zero=True) or 0
    layers = _moe_layers(f, out["num_layers"]) if experts else 0
    return _moe(out, experts, f.int("num_experts_per_tok"), layers, d_ff_expert=f.int("moe_intermediate_size"),
                norm_topk_prob=f.bool("norm_topk_prob"))


def _deepseek(f: Fields, version: int) -> dict[str, Any]:
    out = _base(f)
    if version == 2:
        _divisible(f, out)
    out.update(attention="mla", q_lora_rank=f.opt_int("q_lora_rank"), kv_lora_rank=f.int("kv_lora_rank"),
               qk_nope_head_dim=f.int("qk_nope_head_dim"), qk_rope_head_dim=f.int("qk_rope_head_dim"),
               v_head_dim=f.int("v_head_dim"), attention_bias=f.bool("attention_bias"))
    if version == 2:
        out["mlp_bias"] = f.bool("mlp_bias")  # DeepseekV2MLP (dense layers and shared experts)
    # the rotary embedding rotates qk_rope_head_dim (DeepseekV*Config.__post_init__: head_dim = qk_rope_head_dim)
    dense = min(f.opt_int("first_k_dense_replace", zero=True) or 0, out["num_layers"])
    experts = f.int("n_routed_experts")
    shared = f.opt_int("n_shared_experts", zero=True)
    if shared is None:
        raise f.error("n_shared_experts", "must be an integer (DeepseekMoE builds shared experts of "
                                          "moe_intermediate_size * n_shared_experts)")
    width = f.int("moe_intermediate_size")
    extra: dict[str, Any] = {"d_ff_expert": width}
    if shared or out.get("mlp_bias"):  # n_shared_experts 0 still builds a width-0 MLP: with biases, d_model of them
        extra["d_ff_shared"] = width * shared
    if version == 3:
        extra["router_score_bias"] = True  # DeepseekV3TopkRouter.e_score_correction_bias: a buffer
        extra["norm_topk_prob"] = f.bool("norm_topk_prob")  # DeepseekV3TopkRouter divides by the k weights' sum
    else:  # DeepseekV2TopkRouter: greedy, or group_limited_greedy (masked_fill outside the best topk_group groups)
        method = f.get("topk_method")
        if method not in ("greedy", "group_limited_greedy"):
            raise f.error("topk_method", f"must be greedy or group_limited_greedy, got {shown(method)}")
        extra["topk_method"] = method
    return _moe(out, experts, f.int("num_experts_per_tok"), out["num_layers"] - dense, **extra)


def _gpt_oss(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    out.update(attention_bias=f.bool("attention_bias"), attention_sinks=True)  # GptOssAttention.sinks: (h,)
    types = f.layer_types("layer_types", out["num_layers"])
    types = types or ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(out["num_layers"])]
    out.update(_sliding_types(f, f.opt_int("sliding_window"), types))
    # GptOssTopKRouter has a bias; GptOssExperts: gate_up_proj (E, d, 2f) + bias (E, 2f), down (E, f, d) + bias
    return _moe(out, f.int("num_local_experts"), f.int("num_experts_per_tok"), out["num_layers"],
                router_bias=True, expert_bias=True)


_DEEPSEEK = dict(attention_bias=False, q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128,
                 qk_rope_head_dim=64, v_head_dim=128)

MOE_TYPES: tuple[HFType, ...] = (
    HFType("mixtral", "MixtralConfig", "MixtralForCausalLM",
           _d((32000, 4096, 14336, 32, 32, 8, 131072, False), head_dim=None, sliding_window=None,
              num_local_experts=8, num_experts_per_tok=2, partial_rotary_factor=None), _mixtral,
           {"num_experts": "num_local_experts"}, "mistralai/Mixtral-8x7B-v0.1"),
    HFType("qwen2_moe", "Qwen2MoeConfig", "Qwen2MoeForCausalLM",
           _d((151936, 2048, 5632, 24, 16, 16, 32768, False), sliding_window=4096, use_sliding_window=False,
              max_window_layers=28, layer_types=None, qkv_bias=True, decoder_sparse_step=1, norm_topk_prob=False,
              moe_intermediate_size=1408, shared_expert_intermediate_size=5632, num_experts_per_tok=4,
              num_experts=60, mlp_only_layers=None, partial_rotary_factor=None), _qwen2_moe,
           example="Qwen/Qwen1.5-MoE-A2.7B"),
    HFType("qwen3_moe", "Qwen3MoeConfig", "Qwen3MoeForCausalLM",
           _d((151936, 2048, 6144, 24, 32, 4, 32768, False), attention_bias=False, sliding_window=4096,
              use_sliding_window=False, decoder_sparse_step=1, moe_intermediate_size=768, num_experts_per_tok=8,
              norm_topk_prob=False,
              num_local_experts=128, mlp_only_layers=None, partial_rotary_factor=None), _qwen3_moe,
           {"num_experts": "num_local_experts"}, "Qwen/Qwen3-30B-A3B"),
    HFType("deepseek_v2", "DeepseekV2Config", "DeepseekV2ForCausalLM",
           _d((102400, 4096, 11008, 32, 32, None, 2048, False), mlp_bias=False, first_k_dense_replace=0,
              n_routed_experts=64, n_shared_experts=2, moe_intermediate_size=1407, num_experts_per_tok=None,
              topk_method="greedy",
              **_DEEPSEEK), lambda f: _deepseek(f, 2), {"num_experts": "n_routed_experts"},
           "deepseek-ai/DeepSeek-V2-Lite"),
    HFType("deepseek_v3", "DeepseekV3Config", "DeepseekV3ForCausalLM",
           _d((129280, 7168, 18432, 61, 128, 128, 4096, False), first_k_dense_replace=3, n_routed_experts=256,
              n_shared_experts=1, moe_intermediate_size=2048, num_experts_per_tok=8, norm_topk_prob=True,
              **_DEEPSEEK),
           lambda f: _deepseek(f, 3), {"num_local_experts": "n_routed_experts"}, "deepseek-ai/DeepSeek-V3"),
    HFType("gpt_oss", "GptOssConfig", "GptOssForCausalLM",
           _d((201088, 2880, 2880, 36, 64, 8, 131072, False), head_dim=64, attention_bias=True, sliding_window=128,
              layer_types=None, num_local_experts=128, num_experts_per_tok=4, partial_rotary_factor=None),
           _gpt_oss, {"num_experts": "num_local_experts"}, "openai/gpt-oss-20b"),
)
