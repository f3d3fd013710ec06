"""Architecture options as data: the config keys beyond the six sizes, their allowed values, and their checks.

Every default is the assignment architecture, so a config that gives none of these keys is the homework's.
A key names a structural choice (`qk_norm: head`) or a size that only some architectures have
(`kv_lora_rank`); `ArchOptions` is the structural part alone, which is what derivations are built and cached by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ConfigError, shown
from .reading import size_too_large

CHOICE_KEYS: dict[str, tuple[str, ...]] = {
    "norm": ("rmsnorm", "layernorm"),
    "ffn": ("swiglu", "gelu", "moe", "geglu"),
    "positions": ("rope", "learned", "alibi"),
    # Keys below were added for the architectures of 2024-2026; the first value is the default.
    "attention": ("mha", "mla"),
    "block_norms": ("pre", "post", "sandwich", "shared"),
    "residual": ("sequential", "parallel"),
    "qk_norm": ("none", "head", "full"),
    "buffers": ("rope_tables", "model"),
    # With buffers: model, the rotary inv_freq tables the reference holds: one set, one per attention type
    # present (Gemma 3: local and global RoPE), or none.
    "rope_buffers": ("one", "per_layer_type", "none"),
    # How a mixture-of-experts router picks its experts (DeepSeek-V2's topk_method): group_limited_greedy masks
    # the experts outside the best topk_group groups first (masked_fill keeps its boolean mask for backward).
    "topk_method": ("greedy", "group_limited_greedy"),
}
# Options that existed before the 2024-2026 architectures: the model-accounting sheet always lists them.
LEGACY_CHOICES: tuple[str, ...] = ("norm", "ffn", "positions")
CHOICE_DEFAULTS: dict[str, str] = {"norm": "rmsnorm", "ffn": "swiglu", "positions": "rope",
                                   **{k: v[0] for k, v in CHOICE_KEYS.items() if k not in LEGACY_CHOICES}}

BOOL_KEYS: tuple[str, ...] = (
    "bias", "qkv_bias", "tie_embeddings",
    "attention_bias", "mlp_bias", "lm_head_bias", "router_bias", "norm_bias", "fused_qkv", "fused_gate_up",
    "attention_sinks", "shared_expert_gate", "embed_scale", "router_score_bias", "expert_bias",
    "norm_topk_prob",  # the router divides its top-k weights by their sum (Qwen-MoE, DeepSeek-V3's switch)
)
LEGACY_BOOLS: tuple[str, ...] = ("bias", "qkv_bias", "tie_embeddings")
BOOL_DEFAULTS: dict[str, bool] = {k: k == "norm_bias" for k in BOOL_KEYS}

# Optional positive integers. None means "not applicable" or "the usual value" (num_kv_heads = num_heads,
# head_dim = d_model / num_heads, rotary_dim = the whole head, d_ff_expert = d_ff).
OPTIONAL_INT_KEYS: tuple[str, ...] = (
    "num_kv_heads", "n_experts", "experts_per_token",
    "head_dim", "rotary_dim", "d_ff_expert", "d_ff_shared", "num_dense_layers",
    "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
    "sliding_window", "num_sliding_layers",
)
LEGACY_INTS: tuple[str, ...] = ("num_kv_heads", "n_experts", "experts_per_token")
MOE_INTS: tuple[str, ...] = ("n_experts", "experts_per_token", "d_ff_expert", "d_ff_shared", "num_dense_layers")
MLA_INTS: tuple[str, ...] = ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
MLA_REQUIRED: tuple[str, ...] = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
# Sizes that may be 0: no dense layers, no sliding layers, no rotated dimension (a partial rotary factor that
# rounds down to nothing: the model still registers empty inv_freq tables), a shared-expert module of width 0
# (DeepSeek-V2 with n_shared_experts 0 builds one; with mlp_bias it holds d_model bias entries).
ZERO_ALLOWED: tuple[str, ...] = ("num_dense_layers", "num_sliding_layers", "rotary_dim", "d_ff_shared")
# Another spelling a YAML config may use (`d_head` is the CS336 handout's name for head_dim).
KEY_ALIASES: dict[str, str] = {"d_head": "head_dim"}

ARCH_KEYS: tuple[str, ...] = (*CHOICE_KEYS, *BOOL_KEYS, *OPTIONAL_INT_KEYS)


@dataclass(frozen=True)
class ArchOptions:
    """The structural choices of an architecture (no sizes): what derivations are built and cached by.

    The first seven fields are the original options; the rest default to the assignment architecture."""

    norm: str = "rmsnorm"
    ffn: str = "swiglu"
    positions: str = "rope"
    bias: bool = False
    qkv_bias: bool = False
    tie_embeddings: bool = False
    gqa: bool = False  # k, v projections narrower than q (num_kv_heads < num_heads)
    attention: str = "mha"  # mha | mla (multi-head latent attention, DeepSeek-V2/V3)
    explicit_head_dim: bool = False  # head_dim is a size of its own, not d_model / num_heads
    q_lora: bool = False  # MLA: the query is compressed to q_lora_rank first
    attention_bias: bool = False
    mlp_bias: bool = False
    lm_head_bias: bool = False
    router_bias: bool = False
    expert_bias: bool = False  # routed experts' linears have biases (gpt-oss)
    norm_bias: bool = True  # LayerNorm with a bias vector
    block_norms: str = "pre"
    residual: str = "sequential"
    qk_norm: str = "none"
    fused_qkv: bool = False
    fused_gate_up: bool = False
    attention_sinks: bool = False
    expert_width: bool = False  # routed experts have their own width d_ff_expert
    shared_expert: bool = False
    shared_expert_gate: bool = False
    dense_layers: bool = False  # some layers keep a dense FFN (num_dense_layers > 0)
    partial_rotary: bool = False
    odd_rotary: bool = False  # an odd rotated width: its inv_freq holds (rotary_dim + 1) / 2 frequencies
    buffers: str = "rope_tables"
    embed_scale: bool = False
    router_score_bias: bool = False
    rope_sets: int = 1  # distinct rotary embeddings the model holds (Gemma 3: one per layer type present)
    sliding: str = "none"  # which layers use sliding-window attention: none, some or all
    norm_topk_prob: bool = False  # the router renormalises its top-k weights (fp32 weights and sum kept)
    topk_method: str = "greedy"  # greedy | group_limited_greedy (DeepSeek-V2: a boolean expert mask kept)

    @property
    def is_assignment(self) -> bool:
        return self == ArchOptions()

    @property
    def gated_ffn(self) -> bool:
        return self.ffn in ("swiglu", "geglu", "moe")


def _positive_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value > 0


def _need(data: Mapping[str, Any], key: str, source: str, when: str) -> None:
    if data.get(key) is None:
        raise ConfigError(source, key, f"missing (required with {when})")


def _forbid(data: Mapping[str, Any], keys: tuple[str, ...], source: str, unless: str) -> None:
    for key in keys:
        if data.get(key) not in (None, False):
            raise ConfigError(source, key, f"only allowed with {unless}")


def validate_arch(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check the architecture options of a config mapping; returns those given, normalised.

    Raises ConfigError naming the first offending key. Normalising: a head_dim equal to
    d_model / num_heads, a rotary_dim equal to the whole head, num_dense_layers 0 and num_sliding_layers 0
    are dropped (they describe the default), so the same model always gets the same derivation."""
    for key, allowed in CHOICE_KEYS.items():
        if key in data and data[key] not in allowed:
            raise ConfigError(source, key, f"must be one of {', '.join(allowed)}, got {shown(data[key])}")
    for key in BOOL_KEYS:
        if key in data and not isinstance(data[key], bool):
            raise ConfigError(source, key, f"must be true or false, got {shown(data[key])}")
    for key in OPTIONAL_INT_KEYS:
        value = data.get(key)
        if key in data and value is not None and not _positive_int(value):
            if key in ZERO_ALLOWED and value == 0 and not isinstance(value, bool):
                continue
            raise ConfigError(source, key, f"must be a positive integer, got {shown(value)}")
        if key in data and value is not None and (why := size_too_large(value)) is not None:
            raise ConfigError(source, key, why)
    out = {k: data[k] for k in ARCH_KEYS if k in data}
    _validate_attention(data, source, out)
    _validate_ffn(data, source, out)
    _validate_layout(data, source, out)
    return out


def _validate_attention(data: Mapping[str, Any], source: str, out: dict[str, Any]) -> None:
    h, d = data["num_heads"], data["d_model"]
    kv = data.get("num_kv_heads")
    if data.get("attention") == "mla":
        for key in MLA_REQUIRED:
            _need(data, key, source, "attention: mla")
        if kv is not None and kv != h:
            raise ConfigError(source, "num_kv_heads", "multi-head latent attention has one key/value per query "
                                                      "head (leave num_kv_heads out)")
        _forbid(data, ("head_dim", "fused_qkv", "qkv_bias"), source, "attention: mha")
        if data.get("qk_norm", "none") != "none":
            raise ConfigError(source, "qk_norm", "only allowed with attention: mha")
        out.pop("num_kv_heads", None)
        head_width = data["qk_rope_head_dim"]
    else:
        _forbid(data, MLA_INTS, source, "attention: mla")
        if kv is not None and h % kv:
            raise ConfigError(source, "num_kv_heads", f"num_heads ({h}) is not divisible by num_kv_heads ({kv})")
        head_dim = data.get("head_dim")
        if head_dim is not None and d % h == 0 and head_dim == d // h:
            out.pop("head_dim", None)  # d_model / num_heads: the classic form, not a size of its own
            head_dim = None
        if head_dim is None and d % h:
            raise ConfigError(source, "num_heads", f"d_model ({d}) is not divisible by num_heads ({h})"
                                                   " (give head_dim if the heads are not d_model / num_heads wide)")
        head_width = head_dim if head_dim is not None else d // h
    rotary = data.get("rotary_dim")
    if rotary is not None:
        if data.get("positions", "rope") != "rope":
            raise ConfigError(source, "rotary_dim", "only allowed with positions: rope")
        if rotary > head_width:
            raise ConfigError(source, "rotary_dim", f"{rotary} exceeds the head width ({head_width})")
        if rotary == head_width:
            out.pop("rotary_dim", None)
    if data.get("attention_sinks") and data.get("attention") == "mla":
        raise ConfigError(source, "attention_sinks", "only allowed with attention: mha")


def _validate_ffn(data: Mapping[str, Any], source: str, out: dict[str, Any]) -> None:
    if data.get("ffn") == "moe":
        for key in ("n_experts", "experts_per_token"):
            _need(data, key, source, "ffn: moe")
        if data["experts_per_token"] > data["n_experts"]:
            raise ConfigError(source, "experts_per_token",
                              f"{data['experts_per_token']} exceeds n_experts ({data['n_experts']})")
        dense = data.get("num_dense_layers")
        if dense is not None and dense > data["num_layers"]:
            raise ConfigError(source, "num_dense_layers", f"{dense} exceeds num_layers ({data['num_layers']}) "
                                                          "(set it too, or the config.json field num_hidden_layers)")
        if not dense:
            out.pop("num_dense_layers", None)
        if data.get("shared_expert_gate") and data.get("d_ff_shared") is None:
            raise ConfigError(source, "shared_expert_gate", "needs a shared expert (d_ff_shared)")
    else:
        _forbid(data, (*MOE_INTS, "router_bias", "shared_expert_gate", "router_score_bias", "expert_bias",
                       "norm_topk_prob"), source, "ffn: moe")
        if data.get("topk_method", "greedy") != "greedy":
            raise ConfigError(source, "topk_method", "only allowed with ffn: moe")
    if data.get("fused_gate_up") and data.get("ffn") not in ("swiglu", "geglu", None):
        raise ConfigError(source, "fused_gate_up", "only allowed with a gated feed-forward (ffn: swiglu or geglu)")


def _validate_layout(data: Mapping[str, Any], source: str, out: dict[str, Any]) -> None:
    if data.get("norm_bias") is False and data.get("norm", "rmsnorm") != "layernorm":
        raise ConfigError(source, "norm_bias", "only allowed with norm: layernorm (RMSNorm has no bias)")
    if data.get("block_norms") == "shared" and data.get("residual") != "parallel":
        raise ConfigError(source, "block_norms", "shared (one norm feeding attention and FFN) needs "
                                                 "residual: parallel")
    if data.get("fused_qkv") and data.get("attention") == "mla":
        raise ConfigError(source, "fused_qkv", "only allowed with attention: mha")
    if data.get("buffers", "rope_tables") != "model":
        _forbid(data, ("embed_scale", "router_score_bias"), source, "buffers: model")
        if data.get("rope_buffers", "one") != "one":
            raise ConfigError(source, "rope_buffers", "only allowed with buffers: model")
    layers = data["num_layers"]
    window, sliding = data.get("sliding_window"), data.get("num_sliding_layers")
    if sliding is not None and window is None and sliding:
        raise ConfigError(source, "num_sliding_layers", "needs sliding_window")
    if sliding is not None and sliding > layers:
        raise ConfigError(source, "num_sliding_layers", f"{sliding} exceeds num_layers ({layers}) (set it too; "
                                                        "for a config.json, --set num_hidden_layers recomputes the "
                                                        "layer pattern)")
    if window is not None and sliding == 0:
        out.pop("sliding_window", None)
        out.pop("num_sliding_layers", None)
    elif sliding == 0:
        out.pop("num_sliding_layers", None)
