"""Read a Hugging Face config.json offline and map its fields to derive's config keys.

Only the fields that change a parameter or FLOP count are read; the rest (dropout, rope_theta, ...) are
ignored. A field whose value derive cannot represent exactly (e.g. a head_dim that is not
hidden_size / num_attention_heads) is an error rather than a silently wrong count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ConfigError, shown
from .reading import load_json, read_text

SUPPORTED_MODEL_TYPES: tuple[str, ...] = ("gpt2", "llama", "mistral", "mixtral", "qwen2")


def read_json(path: Path, source: str) -> Any:
    """A config.json's data (derive.model.reading: regular file, size cap, BOM, no duplicate keys, bounded
    nesting, integers Python can read)."""
    return load_json(read_text(path, source), source)


def _int(data: Mapping[str, Any], key: str, source: str, default: int | None = None) -> int:
    if key not in data or data[key] is None:
        if default is not None:
            return default
        raise ConfigError(source, key, "missing required field")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(source, key, f"must be a positive integer, got {shown(value)}")
    return value


def _bool(data: Mapping[str, Any], key: str, source: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(source, key, f"must be true or false, got {shown(value)}")
    return value


def _gpt2(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    d = _int(data, "n_embd", source)
    n_inner = data.get("n_inner")
    out = {
        "vocab_size": _int(data, "vocab_size", source),
        "context_length": _int(data, "n_positions", source),
        "num_layers": _int(data, "n_layer", source),
        "d_model": d,
        "num_heads": _int(data, "n_head", source),
        # GPT2MLP: inner_dim = n_inner if not None else 4 * hidden_size (a convention of the released code)
        "d_ff": _int(data, "n_inner", source) if n_inner is not None else 4 * d,
        "d_ff_source": "n_inner" if n_inner is not None else "n_inner is null, so 4 * n_embd (GPT2MLP default)",
        "norm": "layernorm", "ffn": "gelu", "positions": "learned", "bias": True,
        "tie_embeddings": _bool(data, "tie_word_embeddings", source, True),
    }
    return out


def _llama_like(data: Mapping[str, Any], source: str, model_type: str) -> dict[str, Any]:
    d = _int(data, "hidden_size", source)
    h = _int(data, "num_attention_heads", source)
    head_dim = data.get("head_dim")
    if head_dim is not None and (d % h or head_dim != d // h):
        raise ConfigError(source, "head_dim",
                          f"{head_dim} differs from hidden_size / num_attention_heads; derive assumes d_k = d / h")
    for key in ("attention_bias", "mlp_bias"):
        if data.get(key):
            raise ConfigError(source, key, "true is not supported (supported: false, or model_type qwen2)")
    out = {
        "vocab_size": _int(data, "vocab_size", source),
        "context_length": _int(data, "max_position_embeddings", source),
        "num_layers": _int(data, "num_hidden_layers", source),
        "d_model": d,
        "num_heads": h,
        "d_ff": _int(data, "intermediate_size", source),
        "d_ff_source": "intermediate_size",
        "num_kv_heads": _int(data, "num_key_value_heads", source, default=h),
        "tie_embeddings": _bool(data, "tie_word_embeddings", source, False),
    }
    if model_type == "qwen2":
        out["qkv_bias"] = True  # Qwen2Attention: q, k, v projections with bias, o without
    if model_type == "mixtral":
        out["ffn"] = "moe"
        out["n_experts"] = _int(data, "num_local_experts", source)
        out["experts_per_token"] = _int(data, "num_experts_per_tok", source)
    return out


MAPPERS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "gpt2": _gpt2,
    "llama": lambda data, source: _llama_like(data, source, "llama"),
    "mistral": lambda data, source: _llama_like(data, source, "mistral"),
    "mixtral": lambda data, source: _llama_like(data, source, "mixtral"),
    "qwen2": lambda data, source: _llama_like(data, source, "qwen2"),
}


def from_hf_config(data: Any, source: str) -> tuple[dict[str, Any], str]:
    """derive's config keys for a config.json, and its model_type."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, None, "expected a JSON object at the top level")
    supported = ", ".join(SUPPORTED_MODEL_TYPES)
    if "model_type" not in data:
        raise ConfigError(source, "model_type", f"missing (supported model types: {supported})")
    model_type = data["model_type"]
    if not isinstance(model_type, str) or model_type not in MAPPERS:  # a list or object is not hashable
        raise ConfigError(source, "model_type",
                          f"unsupported model type {shown(model_type)} (supported: {supported})")
    out = MAPPERS[model_type](data, source)
    out["description"] = f"Hugging Face {model_type} config.json"
    return out, model_type
