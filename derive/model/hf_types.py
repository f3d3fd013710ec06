"""Each supported Hugging Face model type: its config class's defaults, aliases, and how its fields map to derive.

A reader follows transformers 5.24's configuration_<type>.py (defaults, __post_init__) and modeling_<type>.py
(which field builds which module); comments name what the modeling file does where it is not obvious. The
defaults are the config classes' own (tests/test_hf_types.py compares them with transformers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import shown
from .hf import Fields

COMMON = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
          "num_key_value_heads", "max_position_embeddings", "tie_word_embeddings")


@dataclass(frozen=True)
class HFType:
    """One model type: `defaults` of every field `read` asks for, the attribute_map `aliases`, the reader."""

    model_type: str
    config_class: str
    model_class: str
    defaults: Mapping[str, Any]
    read: Callable[[Fields], dict[str, Any]]
    aliases: Mapping[str, str] = field(default_factory=dict)
    example: str = ""  # one released model of this type (README)


def _d(values: tuple, **extra: Any) -> dict[str, Any]:
    return {**dict(zip(COMMON, values)), "rope_scaling": None, "rope_parameters": None, **extra}


# ---------------------------------------------------------------- shared pieces


def _base(f: Fields, inter: str = "intermediate_size") -> dict[str, Any]:
    return {"vocab_size": f.int("vocab_size"), "context_length": f.int("max_position_embeddings"),
            "num_layers": f.int("num_hidden_layers"), "d_model": f.int("hidden_size"),
            "num_heads": f.int("num_attention_heads"), "d_ff": f.int(inter), "d_ff_source": inter,
            "tie_embeddings": f.bool("tie_word_embeddings")}


def _kv(f: Fields, h: int, key: str = "num_key_value_heads") -> int:
    value = f.opt_int(key)  # None: __post_init__ sets num_attention_heads
    return h if value is None else value


def _head(f: Fields, d: int, h: int) -> int:
    """`getattr(config, "head_dim", hidden_size // num_attention_heads)`: the file's head_dim (also where the
    class has no such field: transformers keeps unknown fields as attributes), the class default, or d // h."""
    value = f.opt_int("head_dim") if f.has("head_dim") or "head_dim" in f.defaults else None
    return d // h if value is None else value


def _rotary(f: Fields, head: int, kwarg: str = "partial_rotary_factor", default_reads: bool = False) -> dict[str, Any]:
    """rotary_dim = int(head * partial_rotary_factor), the width of inv_freq's source (modeling_rope_utils).

    The factor comes from rope_scaling or rope_parameters first, then the top-level field (`rotary_pct` for
    GPT-NeoX), then the class default. Only the scaled RoPE types (linear, dynamic, yarn, longrope, llama3) and
    the models whose own default RoPE reads it (`default_reads`: Phi, Phi-3, GPT-NeoX) use it; Llama's default
    rotary embedding ignores it and rotates the whole head."""
    rope = f.data.get("rope_scaling") or f.data.get("rope_parameters")
    fraction, rope_type = None, "default"
    if isinstance(rope, Mapping):
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type == "proportional":  # always head_dim / 2 frequencies
            return {}
        fraction = rope.get("partial_rotary_factor")
    if fraction is None and (kwarg in f.defaults or f.has(kwarg)):
        fraction = f.get(kwarg)
    fraction = 1.0 if fraction is None else fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise f.error("partial_rotary_factor", f"must be a number in (0, 1], got {shown(fraction)}")
    if rope_type == "default" and not default_reads:
        return {}
    rotary = int(head * fraction)
    if rotary % 2 and rotary != head:  # cos/sin come in pairs: the rotated part would grow by one dimension
        raise f.error("partial_rotary_factor", f"rotates {rotary} of the head's {head} dimensions, an odd number: "
                                               "transformers' partial rotary embedding rotates pairs")
    return {"rotary_dim": rotary}


def _sliding_all(f: Fields, enabled: bool = True) -> dict[str, Any]:
    """Every layer slides when sliding_window is set (Mistral, Mixtral, Starcoder2, Phi-3, Qwen3-MoE)."""
    window = f.opt_int("sliding_window", zero=True) if enabled else None
    return {"sliding_window": window} if window else {}


def _sliding_types(f: Fields, window: int | None, types: list[str] | None) -> dict[str, Any]:
    """Layers whose layer_types entry is sliding_attention slide, when a window is set."""
    count = sum(t == "sliding_attention" for t in types or ())
    return {"sliding_window": window, "num_sliding_layers": count} if window and count else {}


def _qwen_types(f: Fields, layers: int, moe: bool = False) -> dict[str, Any]:
    """Qwen2/Qwen3 (and Qwen2-MoE's alternating pattern): sliding only with use_sliding_window."""
    use = f.bool("use_sliding_window")
    window = f.opt_int("sliding_window", zero=True) if use else None
    types = f.layer_types("layer_types", layers)
    if types is None:
        mwl = f.opt_int("max_window_layers", zero=True) or 0
        types = [("sliding_attention" if ((i + 1) % 2 and i < mwl and use) else "full_attention") if moe else
                 ("sliding_attention" if window is not None and i >= mwl else "full_attention")
                 for i in range(layers)]
    return _sliding_types(f, window, types)


def _moe_layers(f: Fields, layers: int) -> int:
    """Qwen-MoE: layer i is sparse unless listed in mlp_only_layers or (i + 1) % decoder_sparse_step != 0."""
    only, step = f.int_list("mlp_only_layers"), f.int("decoder_sparse_step")
    return sum(1 for i in range(layers) if i not in only and (i + 1) % step == 0)


def _divisible(f: Fields, out: dict[str, Any]) -> None:
    """LlamaConfig, Gemma2/3, GPT-NeoX and DeepSeek-V2 refuse hidden_size % num_attention_heads != 0 (their
    validate_architecture), even with a head_dim of its own: so does derive."""
    d, h = out["d_model"], out["num_heads"]
    if d % h:
        raise f.error("num_attention_heads", f"hidden_size ({d}) is not a multiple of num_attention_heads ({h}), "
                                             f"which {f.config_class} requires")


def _attention(f: Fields, out: dict[str, Any], default_reads: bool = False) -> int:
    """num_kv_heads, head_dim and the rotary width of a Llama-style attention; returns the head width."""
    d, h = out["d_model"], out["num_heads"]
    head = _head(f, d, h)
    out.update(num_kv_heads=_kv(f, h), head_dim=head, **_rotary(f, head, default_reads=default_reads))
    return head


# ---------------------------------------------------------------- dense families


def _llama(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _divisible(f, out)
    _attention(f, out)
    return {**out, "attention_bias": f.bool("attention_bias"), "mlp_bias": f.bool("mlp_bias")}


def _mistral(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    return {**out, **_sliding_all(f)}


def _qwen2(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    return {**out, "qkv_bias": True, **_qwen_types(f, out["num_layers"])}  # Qwen2Attention: q, k, v biased


def _qwen3(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    return {**out, "attention_bias": f.bool("attention_bias"), "qk_norm": "head", **_qwen_types(f, out["num_layers"])}


def _gemma(f: Fields, version: int = 1) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    out.update(ffn="geglu", embed_scale=True, attention_bias=f.bool("attention_bias"))
    if version == 1:
        return out
    _divisible(f, out)
    out["block_norms"] = "sandwich"  # input, post_attention, pre_feedforward, post_feedforward
    types = f.layer_types("layer_types", out["num_layers"])
    window = f.opt_int("sliding_window")
    if version == 2:
        types = types or ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(out["num_layers"])]
        return {**out, **_sliding_types(f, window, types)}
    pattern = f.int("sliding_window_pattern")
    types = types or ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(out["num_layers"])]
    if window and f.bool("use_bidirectional_attention"):
        window = window // 2 + 1  # Gemma3TextConfig.__post_init__
    out.update(qk_norm="head", rope_buffers="per_layer_type")  # one rotary embedding per layer type present
    return {**out, **_sliding_types(f, window, types)}


def _phi(f: Fields) -> dict[str, Any]:
    out = _base(f)
    head = _attention(f, out, default_reads=True)
    out.update(norm="layernorm", ffn="gelu", bias=True, lm_head_bias=True, block_norms="shared",
               residual="parallel")
    if f.bool("qk_layernorm"):
        if head != out["d_model"] // out["num_heads"]:  # PhiAttention sizes them hidden_size // heads
            raise f.error("qk_layernorm", "q/k LayerNorms of hidden_size // num_attention_heads do not fit a "
                                          "head_dim of their own")
        out["qk_norm"] = "head"
    return out


def _phi3(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out, default_reads=True)
    return {**out, "fused_qkv": True, "fused_gate_up": True, **_sliding_all(f)}


def _gpt_neox(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _divisible(f, out)
    d, h = out["d_model"], out["num_heads"]
    out.update(norm="layernorm", ffn="gelu", fused_qkv=True, attention_bias=f.bool("attention_bias"),
               mlp_bias=True, residual="parallel" if f.bool("use_parallel_residual") else "sequential",
               **_rotary(f, d // h, "rotary_pct", default_reads=True))
    # query_key_value: d -> 3d (no GQA); GPTNeoXMLP: Linears with their default biases
    return out


def _olmo2(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    return {**out, "attention_bias": f.bool("attention_bias"), "qk_norm": "full", "block_norms": "post"}


def _starcoder2(f: Fields) -> dict[str, Any]:
    out = _base(f)
    _attention(f, out)
    return {**out, "norm": "layernorm", "ffn": "gelu", "bias": f.bool("use_bias"), **_sliding_all(f)}


def _falcon(f: Fields) -> dict[str, Any]:
    d = f.int("n_embed") if f.has("n_embed") else f.int("hidden_size")
    h = f.int("num_attention_heads")
    if d % h:
        raise f.error("num_attention_heads", f"hidden_size ({d}) is not divisible by it ({h}), which "
                                             "FalconAttention requires")
    if f.has("head_dim"):
        raise f.error("head_dim", "FalconConfig computes head_dim as hidden_size // num_attention_heads")
    ffn = f.opt_int("ffn_hidden_size")
    new, mq = f.bool("new_decoder_architecture"), f.bool("multi_query")
    kv = _kv(f, h, "num_kv_heads") if new else 1 if mq else h  # FalconAttention.num_kv_heads
    out = {"vocab_size": f.int("vocab_size"), "context_length": f.int("max_position_embeddings"),
           "num_layers": f.int("num_hidden_layers"), "d_model": d, "num_heads": h, "num_kv_heads": kv,
           "d_ff": ffn if ffn is not None else 4 * d,
           "d_ff_source": "ffn_hidden_size" if ffn is not None else "ffn_hidden_size is null, so 4 * hidden_size "
                                                                    "(FalconConfig)",
           "tie_embeddings": f.bool("tie_word_embeddings"), "norm": "layernorm", "ffn": "gelu",
           "fused_qkv": True, "bias": f.bool("bias"), "positions": "alibi" if f.bool("alibi") else "rope"}
    if f.bool("parallel_attn"):  # FalconDecoderLayer: ln_attn + ln_mlp, or one input_layernorm for both
        n_ln = f.opt_int("num_ln_in_parallel_attn")
        n_ln = 2 if n_ln is None and new else n_ln
        out.update(residual="parallel", block_norms="pre" if n_ln == 2 else "shared")
    return out


def _gpt2(f: Fields) -> dict[str, Any]:
    d = f.int("n_embd")
    n_inner = f.opt_int("n_inner")
    return {
        "vocab_size": f.int("vocab_size"), "context_length": f.int("n_positions"), "num_layers": f.int("n_layer"),
        "d_model": d, "num_heads": f.int("n_head"),
        # GPT2MLP: inner_dim = n_inner if not None else 4 * hidden_size (a convention of the released code)
        "d_ff": n_inner if n_inner is not None else 4 * d,
        "d_ff_source": "n_inner" if n_inner is not None else "n_inner is null, so 4 * n_embd (GPT2MLP default)",
        "norm": "layernorm", "ffn": "gelu", "positions": "learned", "bias": True,
        "tie_embeddings": f.bool("tie_word_embeddings"),
    }


from .hf_moe import MOE_TYPES  # noqa: E402  (the MoE readers use the shared pieces above)

DENSE_TYPES: tuple[HFType, ...] = (
    HFType("gpt2", "GPT2Config", "GPT2LMHeadModel",
           {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
            "tie_word_embeddings": True}, _gpt2,
           {"hidden_size": "n_embd", "max_position_embeddings": "n_positions", "num_attention_heads": "n_head",
            "num_hidden_layers": "n_layer"}, "openai-community/gpt2"),
    HFType("llama", "LlamaConfig", "LlamaForCausalLM",
           _d((32000, 4096, 11008, 32, 32, None, 2048, False), head_dim=None, attention_bias=False, mlp_bias=False,
              partial_rotary_factor=None), _llama, example="meta-llama/Llama-3.2-1B"),
    HFType("mistral", "MistralConfig", "MistralForCausalLM",
           _d((32000, 4096, 14336, 32, 32, 8, 131072, False), head_dim=None, sliding_window=4096,
              partial_rotary_factor=None), _mistral, example="mistralai/Mistral-Nemo-Base-2407"),
    HFType("qwen2", "Qwen2Config", "Qwen2ForCausalLM",
           _d((151936, 4096, 22016, 32, 32, 32, 32768, False), sliding_window=4096, use_sliding_window=False,
              max_window_layers=28, layer_types=None, partial_rotary_factor=None), _qwen2,
           example="Qwen/Qwen2.5-3B"),
    HFType("qwen3", "Qwen3Config", "Qwen3ForCausalLM",
           _d((151936, 4096, 22016, 32, 32, 32, 32768, False), head_dim=128, attention_bias=False,
              sliding_window=4096, use_sliding_window=False, max_window_layers=28, layer_types=None,
              partial_rotary_factor=None), _qwen3, example="Qwen/Qwen3-0.6B"),
    HFType("gemma", "GemmaConfig", "GemmaForCausalLM",
           _d((256000, 3072, 24576, 28, 16, 16, 8192, True), head_dim=256, attention_bias=False,
              partial_rotary_factor=None), _gemma, example="google/gemma-7b"),
    HFType("gemma2", "Gemma2Config", "Gemma2ForCausalLM",
           _d((256000, 2304, 9216, 26, 8, 4, 8192, True), head_dim=256, attention_bias=False, sliding_window=4096,
              layer_types=None, partial_rotary_factor=None), lambda f: _gemma(f, 2), example="google/gemma-2-2b"),
    HFType("gemma3_text", "Gemma3TextConfig", "Gemma3ForCausalLM",
           _d((262208, 2304, 9216, 26, 8, 4, 131072, True), head_dim=256, attention_bias=False,
              sliding_window=4096, layer_types=None, sliding_window_pattern=6, use_bidirectional_attention=False,
              partial_rotary_factor=None), lambda f: _gemma(f, 3), example="google/gemma-3-1b-it"),
    HFType("phi", "PhiConfig", "PhiForCausalLM",
           _d((51200, 2048, 8192, 24, 32, None, 2048, False), qk_layernorm=False, partial_rotary_factor=0.5),
           _phi, example="microsoft/phi-2"),
    HFType("phi3", "Phi3Config", "Phi3ForCausalLM",
           _d((32064, 3072, 8192, 32, 32, None, 4096, False), sliding_window=None, partial_rotary_factor=1.0),
           _phi3, example="microsoft/Phi-3.5-mini-instruct"),
    HFType("gpt_neox", "GPTNeoXConfig", "GPTNeoXForCausalLM",
           _d((50432, 6144, 24576, 44, 64, None, 2048, False), attention_bias=True, use_parallel_residual=True,
              rotary_pct=0.25), _gpt_neox, example="EleutherAI/pythia-160m"),
    HFType("olmo2", "Olmo2Config", "Olmo2ForCausalLM",
           _d((50304, 4096, 11008, 32, 32, None, 2048, False), attention_bias=False, partial_rotary_factor=None),
           _olmo2, example="allenai/OLMo-2-1124-7B"),
    HFType("starcoder2", "Starcoder2Config", "Starcoder2ForCausalLM",
           _d((49152, 3072, 12288, 30, 24, 2, 4096, True), sliding_window=None, use_bias=True,
              partial_rotary_factor=None), _starcoder2, example="bigcode/starcoder2-3b"),
    HFType("falcon", "FalconConfig", "FalconForCausalLM",
           {"vocab_size": 65024, "hidden_size": 4544, "num_hidden_layers": 32, "num_attention_heads": 71,
            "num_kv_heads": None, "max_position_embeddings": 2048, "tie_word_embeddings": True,
            "ffn_hidden_size": None, "alibi": False, "new_decoder_architecture": False, "multi_query": True,
            "parallel_attn": True, "bias": False, "num_ln_in_parallel_attn": None, "n_embed": None},
           _falcon, example="tiiuae/falcon-7b"),
)

HF_TYPES: dict[str, HFType] = {t.model_type: t for t in (*DENSE_TYPES, *MOE_TYPES)}
# The original five first (messages list them in this order), then the others alphabetically.
SUPPORTED_MODEL_TYPES: tuple[str, ...] = (
    "gpt2", "llama", "mistral", "mixtral", "qwen2",
    *sorted(set(HF_TYPES) - {"gpt2", "llama", "mistral", "mixtral", "qwen2"}))
