"""Random small config.json files of every supported model type against transformers 5.24 (meta device).

For each model type hypothesis draws the fields that model's config class reads (sizes, head_dim that is not
hidden_size / num_heads, biases, rotary fractions, layer patterns, experts, latent ranks ...), writes a
config.json, and compares derive's parameters, buffers, active parameters and forward FLOPs at a random
(batch, seq_len) with the model transformers builds from the same file (tests/oracles/hf_any.py).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive import api
from derive.errors import ConfigError

try:
    from tests.oracles import hf_any as O
except ModuleNotFoundError:
    from oracles import hf_any as O

SETTINGS = settings(max_examples=8, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# Config classes whose validate_architecture refuses hidden_size % num_attention_heads != 0 (even with head_dim).
DIVISIBLE = ("llama", "gemma2", "gemma3_text", "gpt_neox", "deepseek_v2")


def _attention(draw, explicit_head: bool = True, gqa: bool = True, divisible: bool = False) -> dict:
    kv = draw(st.integers(1, 3)) if gqa else None
    group = draw(st.integers(1, 3))
    h = (kv or 1) * group if gqa else draw(st.integers(1, 4))
    head = 2 * draw(st.integers(1, 4))
    out = {"num_attention_heads": h, "hidden_size": h * head}
    if gqa:
        out["num_key_value_heads"] = kv
    if explicit_head and draw(st.booleans()):  # a head width of its own (Mistral-Nemo, Gemma, Qwen3)
        out["head_dim"] = 2 * draw(st.integers(1, 5))
        out["hidden_size"] = h * draw(st.integers(1, 10)) if divisible else draw(st.integers(2, 40))
    return out


def _common(draw) -> dict:
    return {"vocab_size": draw(st.integers(2, 200)), "num_hidden_layers": draw(st.integers(1, 3)),
            "intermediate_size": draw(st.integers(1, 40)), "max_position_embeddings": 64,
            "tie_word_embeddings": draw(st.booleans()), "pad_token_id": None, "bos_token_id": None,
            "eos_token_id": None}


def _moe(draw, experts_key: str = "num_experts", least: int = 1) -> dict:
    e = draw(st.integers(least, 5))
    return {experts_key: e, "num_experts_per_tok": draw(st.integers(1, e)),
            "moe_intermediate_size": draw(st.integers(1, 24))}


def _types(draw, layers: int, pattern: tuple[str, ...] = ("sliding_attention", "full_attention")) -> dict:
    return {"sliding_window": draw(st.integers(1, 8)),
            "layer_types": [draw(st.sampled_from(pattern)) for _ in range(layers)]}


def fields(model_type: str, draw) -> dict:
    """The fields of one random config.json of `model_type` (only what its config class reads)."""
    base = _common(draw)
    layers = base["num_hidden_layers"]
    b = st.booleans()
    if model_type == "llama":
        return {**base, **_attention(draw, divisible=True), "attention_bias": draw(b), "mlp_bias": draw(b)}
    if model_type in ("mistral", "mixtral", "phi3", "starcoder2"):
        extra = {"sliding_window": draw(st.sampled_from([None, 4]))}
        if model_type == "mixtral":
            extra.update(_moe(draw, "num_local_experts"))
            del extra["moe_intermediate_size"]
        if model_type == "phi3":
            extra["partial_rotary_factor"] = draw(st.sampled_from([0.5, 0.75, 1.0]))
        if model_type == "starcoder2":
            extra["use_bias"] = draw(b)
        return {**base, **_attention(draw), **extra}
    if model_type in ("qwen2", "qwen3"):
        extra = {"use_sliding_window": draw(b), "sliding_window": 4, "max_window_layers": draw(st.integers(0, 3))}
        if model_type == "qwen3":
            extra["attention_bias"] = draw(b)
        return {**base, **_attention(draw), **extra}
    if model_type in ("qwen2_moe", "qwen3_moe"):
        extra = {**_moe(draw), "decoder_sparse_step": draw(st.integers(1, 2)), "norm_topk_prob": draw(b),
                 "mlp_only_layers": draw(st.lists(st.integers(0, layers - 1), max_size=2, unique=True))}
        if model_type == "qwen2_moe":
            extra.update(shared_expert_intermediate_size=draw(st.integers(1, 24)), qkv_bias=draw(b))
        else:
            extra["attention_bias"] = draw(b)
        return {**base, **_attention(draw), **extra}
    if model_type in ("gemma", "gemma2", "gemma3_text"):
        extra = {"attention_bias": draw(b)}
        if model_type == "gemma2":
            extra.update(_types(draw, layers))
        if model_type == "gemma3_text":
            extra.update(_types(draw, layers) if draw(b) else
                         {"sliding_window": 4, "sliding_window_pattern": draw(st.integers(1, 3))})
        return {**base, **_attention(draw, divisible=model_type in DIVISIBLE), **extra}
    if model_type == "phi":
        att = _attention(draw, explicit_head=False)
        return {**base, **att, "partial_rotary_factor": draw(st.sampled_from([0.25, 0.5, 1.0])),
                "qk_layernorm": draw(b)}
    if model_type == "gpt_neox":
        return {**base, **_attention(draw, explicit_head=False, gqa=False), "use_parallel_residual": draw(b),
                "attention_bias": draw(b), "rotary_pct": draw(st.sampled_from([0.25, 0.5, 1.0]))}
    if model_type == "olmo2":
        return {**base, **_attention(draw), "attention_bias": draw(b)}
    if model_type == "falcon":
        att = _attention(draw, explicit_head=False)
        new = draw(b)
        extra = {"new_decoder_architecture": new, "num_kv_heads": att.pop("num_key_value_heads"),
                 "multi_query": draw(b), "parallel_attn": True if new else draw(b), "bias": draw(b),
                 "alibi": False if new else draw(b), "ffn_hidden_size": draw(st.sampled_from([None, 24])),
                 "num_ln_in_parallel_attn": draw(st.sampled_from([None, 1, 2])) if new else None}
        if not new and not extra["multi_query"]:
            extra["num_kv_heads"] = att["num_attention_heads"]
        return {**base, **att, **extra}
    if model_type in ("deepseek_v2", "deepseek_v3"):
        h = draw(st.integers(1, 4))
        hidden = h * draw(st.integers(1, 8)) if model_type == "deepseek_v2" else draw(st.integers(1, 24))
        extra = {"num_attention_heads": h, "num_key_value_heads": h, "hidden_size": hidden,
                 # even widths: DeepSeek-V2 rotates with view_as_complex, which needs even storage offsets
                 "q_lora_rank": draw(st.sampled_from([None, 6])), "kv_lora_rank": 2 * draw(st.integers(1, 6)),
                 "qk_nope_head_dim": 2 * draw(st.integers(1, 3)), "qk_rope_head_dim": 2 * draw(st.integers(1, 3)),
                 "v_head_dim": draw(st.integers(1, 6)),
                 # DeepSeek-V3's grouped routing takes the top 2 scores of each group: at least 2 experts
                 **_moe(draw, "n_routed_experts", 2 if model_type == "deepseek_v3" else 1),
                 "n_shared_experts": draw(st.integers(0, 2)), "first_k_dense_replace": draw(st.integers(0, layers)),
                 "n_group": 1, "topk_group": 1, "attention_bias": draw(b)}
        if model_type == "deepseek_v2":
            extra["mlp_bias"] = draw(b)
            extra["topk_method"] = draw(st.sampled_from(["greedy", "group_limited_greedy"]))  # the router's switch
        else:
            extra["norm_topk_prob"] = draw(b)
        return {**base, **extra}
    if model_type == "gpt_oss":
        moe = _moe(draw, "num_local_experts")
        del moe["moe_intermediate_size"]
        return {**base, **_attention(draw), **moe, **_types(draw, layers), "attention_bias": draw(b)}
    raise AssertionError(model_type)


TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "gemma", "gemma2",
         "gemma3_text", "phi", "phi3", "gpt_neox", "olmo2", "starcoder2", "falcon", "deepseek_v2", "deepseek_v3",
         "gpt_oss")


@pytest.mark.parametrize("model_type", TYPES)
@SETTINGS
@given(data=st.data())
def test_random_config_matches_transformers(model_type, data, tmp_path):
    config = {"model_type": model_type, **fields(model_type, data.draw)}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    batch, seq = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 12))
    model = O.build(config)
    rope = model.config.rope_parameters if isinstance(model.config.rope_parameters, dict) else {}
    head = getattr(model.config, "head_dim", None) or model.config.hidden_size // model.config.num_attention_heads
    rotated = int(head * rope.get("partial_rotary_factor", 1.0))
    if model_type in ("phi", "phi3", "gpt_neox") and rotated % 2 and rotated != head:
        # transformers concatenates cos/sin pairs onto an odd rotated part: the attention grows a dimension
        with pytest.raises(ConfigError, match="partial_rotary_factor"):
            api.load_config(str(path))
        return
    acc = api.account(api.load_config(str(path)), batch, seq)
    assert acc.total_params == O.params(model)
    assert acc.buffers.value == sum(O.buffers(model).values())
    assert acc.forward_flops == O.forward_flops(model, batch, seq)
    if O.moe_layers(model):
        (per_expert, n_experts), layers = O.expert_params(model), O.moe_layers(model)
        skipped = layers * (n_experts - acc.config.experts_per_token) * per_expert
        assert acc.active_params.value == O.params(model) - skipped
    else:
        assert acc.active_params is None
