"""ModelConfig: a validated, frozen model description, loaded from a preset, a YAML file or --set."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, shown
from ..resources import configs_dir
from .options import (  # noqa: F401  (re-exported: derive.check reads the key tables from here)
    ARCH_KEYS, BOOL_DEFAULTS, BOOL_KEYS, CHOICE_DEFAULTS, CHOICE_KEYS, KEY_ALIASES, OPTIONAL_INT_KEYS, ArchOptions,
    validate_arch,
)
from . import reading

# Sizes that become symbols of the derivation when a config gives them (derive/model/symbols.py).
SIZE_SYMBOLS: tuple[str, ...] = (
    "head_dim", "rotary_dim", "d_ff_expert", "d_ff_shared", "num_dense_layers", "q_lora_rank", "kv_lora_rank",
    "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "sliding_window",
)
# Keys whose values are positive integers and that every config must give.
INT_KEYS: tuple[str, ...] = ("vocab_size", "context_length", "num_layers", "d_model", "num_heads", "d_ff")
# Free-text keys: allowed, never required.
TEXT_KEYS: tuple[str, ...] = ("name", "description", "d_ff_source")
# YAML files in configs/ that are data tables, not model presets.
NOT_PRESETS: tuple[str, ...] = ("hardware",)
# Architecture options (derive/model/options.py); every default is the assignment architecture, so a config
# without them is the homework's.
ALL_KEYS: tuple[str, ...] = INT_KEYS + TEXT_KEYS + ARCH_KEYS


@dataclass(frozen=True)
class ModelConfig:
    """Every convention explicit: nothing here is inferred later."""

    name: str
    vocab_size: int
    context_length: int
    num_layers: int
    d_model: int
    num_heads: int
    d_ff: int
    description: str = ""
    d_ff_source: str = "given"
    source: str = field(default="", compare=False)
    norm: str = "rmsnorm"
    ffn: str = "swiglu"
    positions: str = "rope"
    bias: bool = False
    qkv_bias: bool = False
    tie_embeddings: bool = False
    num_kv_heads: int | None = None
    n_experts: int | None = None
    experts_per_token: int | None = None
    hf_model_type: str = field(default="", compare=False)  # set when read from a Hugging Face config.json
    # The options of the 2024-2026 architectures (derive/model/options.py); defaults: the assignment's.
    attention: str = "mha"
    block_norms: str = "pre"
    residual: str = "sequential"
    qk_norm: str = "none"
    buffers: str = "rope_tables"
    attention_bias: bool = False
    mlp_bias: bool = False
    lm_head_bias: bool = False
    router_bias: bool = False
    norm_bias: bool = True
    fused_qkv: bool = False
    fused_gate_up: bool = False
    attention_sinks: bool = False
    shared_expert_gate: bool = False
    embed_scale: bool = False
    router_score_bias: bool = False
    expert_bias: bool = False
    norm_topk_prob: bool = False
    topk_method: str = "greedy"
    rope_buffers: str = "one"
    head_dim: int | None = None
    rotary_dim: int | None = None
    d_ff_expert: int | None = None
    d_ff_shared: int | None = None
    num_dense_layers: int | None = None
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    sliding_window: int | None = None
    num_sliding_layers: int | None = None
    # Hugging Face fields that were missing and read with transformers' defaults ("name = value"), in order.
    hf_defaults: tuple[str, ...] = field(default=(), compare=False)

    @property
    def d_k(self) -> int:
        """Width of one attention head: head_dim when given, else d_model / num_heads (query/key width
        qk_nope_head_dim + qk_rope_head_dim for multi-head latent attention)."""
        if self.attention == "mla":
            return self.qk_nope_head_dim + self.qk_rope_head_dim
        return self.head_dim if self.head_dim is not None else self.d_model // self.num_heads

    @property
    def rotary_width(self) -> int:
        """Dimensions of each head RoPE rotates (rotary_dim when partial; the RoPE key width in MLA)."""
        if self.rotary_dim is not None:
            return self.rotary_dim
        return self.qk_rope_head_dim if self.attention == "mla" else self.d_k

    @property
    def sliding_layers(self) -> int:
        """How many layers use sliding-window attention (all of them when only sliding_window is given)."""
        if self.sliding_window is None:
            return 0
        return self.num_layers if self.num_sliding_layers is None else self.num_sliding_layers

    @property
    def layer_attention(self) -> dict[str, int]:
        """Layers per attention type, for per-layer accounting (KV cache): {"full_attention": n,
        "sliding_attention": m} (only types with at least one layer)."""
        out = {"full_attention": self.num_layers - self.sliding_layers, "sliding_attention": self.sliding_layers}
        return {k: v for k, v in out.items() if v}

    @property
    def dense_layers(self) -> int:
        """Layers with a dense FFN in a mixture-of-experts model (DeepSeek's first_k_dense_replace)."""
        return self.num_dense_layers or 0

    def values(self) -> dict[str, int]:
        """The integer hyperparameters, keyed by symbol name."""
        return {k: getattr(self, k) for k in INT_KEYS}

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    @property
    def kv_heads(self) -> int:
        return self.num_heads if self.num_kv_heads is None else self.num_kv_heads

    @property
    def arch(self) -> ArchOptions:
        sliding = self.sliding_layers
        both_types = 0 < sliding < self.num_layers
        return ArchOptions(
            self.norm, self.ffn, self.positions, self.bias, self.qkv_bias, self.tie_embeddings,
            self.kv_heads != self.num_heads and self.attention == "mha",
            attention=self.attention, explicit_head_dim=self.head_dim is not None,
            q_lora=self.q_lora_rank is not None, attention_bias=self.attention_bias, mlp_bias=self.mlp_bias,
            lm_head_bias=self.lm_head_bias, router_bias=self.router_bias, expert_bias=self.expert_bias,
            norm_bias=self.norm_bias or self.norm != "layernorm", block_norms=self.block_norms,
            residual=self.residual, qk_norm=self.qk_norm, fused_qkv=self.fused_qkv,
            fused_gate_up=self.fused_gate_up, attention_sinks=self.attention_sinks,
            expert_width=self.d_ff_expert is not None, shared_expert=self.d_ff_shared is not None,
            shared_expert_gate=self.shared_expert_gate, dense_layers=self.dense_layers > 0,
            partial_rotary=self.rotary_dim is not None,
            odd_rotary=self.buffers == "model" and self.rotary_width % 2 == 1,
            buffers=self.buffers, embed_scale=self.embed_scale,
            router_score_bias=self.router_score_bias, norm_topk_prob=self.norm_topk_prob,
            topk_method=self.topk_method,
            rope_sets=self._rope_sets(both_types),
            sliding="none" if sliding == 0 else "all" if sliding == self.num_layers else "some")

    def _rope_sets(self, both_types: bool) -> int:
        """Rotary inv_freq sets the reference holds (buffers: model): 0 with learned positions."""
        if self.buffers != "model":
            return 1  # not used: the homework's tables follow positions
        if self.positions == "learned" or self.rope_buffers == "none":
            return 0
        return 2 if self.rope_buffers == "per_layer_type" and both_types else 1

    def symbol_values(self) -> dict[str, int]:
        """Every integer the derivation may use, keyed by symbol name (values() plus the architecture sizes)."""
        out = {**self.values(), "num_kv_heads": self.kv_heads}
        if self.ffn == "moe":
            out["n_experts"] = self.n_experts
            out["experts_per_token"] = self.experts_per_token
        for key in SIZE_SYMBOLS:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.sliding_window is not None:
            out["num_sliding_layers"] = self.sliding_layers
        return out

    def arch_values(self) -> dict[str, Any]:
        """The architecture options as given (None = not applicable), for sheets and --set merging."""
        return {k: getattr(self, k) for k in ARCH_KEYS}

    def listed_options(self) -> dict[str, Any]:
        """The options a sheet lists: the original ones always (num_kv_heads as its value), any other only
        where it differs from the assignment's default (so a Llama sheet does not list twenty `false`s)."""
        out: dict[str, Any] = {}
        for key, value in self.arch_values().items():
            if key in ("norm", "ffn", "positions", "bias", "qkv_bias", "tie_embeddings"):
                out[key] = value
            elif key == "num_kv_heads":
                out[key] = self.kv_heads if self.attention == "mha" else None
            elif key in ("n_experts", "experts_per_token"):
                if value is not None:
                    out[key] = value
            elif value is not None and value != {**CHOICE_DEFAULTS, **BOOL_DEFAULTS}.get(key):
                out[key] = value
        return {k: v for k, v in out.items() if v is not None or (k == "num_kv_heads" and self.attention == "mha")}


def _validate(data: Mapping[str, Any], source: str, default_name: str, hf_model_type: str = "",
              hf_defaults: tuple[str, ...] = ()) -> ModelConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(source, None, "expected a mapping of keys to values at the top level")
    data = _resolve_aliases(data, source)
    for key in data:
        if key not in ALL_KEYS:
            known = ", ".join(ALL_KEYS)
            raise ConfigError(source, str(key), f"unknown key (known keys: {known})")
    for key in INT_KEYS:
        if key not in data:
            raise ConfigError(source, key, "missing required key")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(source, key, f"must be a positive integer, got {shown(value)}")
        if (why := reading.size_too_large(value)) is not None:
            raise ConfigError(source, key, why)
    for key in TEXT_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ConfigError(source, key, f"must be a string, got {shown(data[key])}")
        if key in data:
            reading.check_text(data[key], source, key)
    arch = validate_arch(data, source)
    return ModelConfig(
        name=data.get("name", reading.safe_name(default_name)),
        description=data.get("description", ""),
        d_ff_source=data.get("d_ff_source", "given"),
        source=source,
        hf_model_type=hf_model_type,
        hf_defaults=hf_defaults,
        **{k: data[k] for k in INT_KEYS},
        **arch,
    )


def _resolve_aliases(data: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """`d_head: 128` is `head_dim: 128` (giving both is an error)."""
    if not any(alias in data for alias in KEY_ALIASES):
        return data
    out = dict(data)
    for alias, key in KEY_ALIASES.items():
        if alias in out:
            if key in out:
                raise ConfigError(source, alias, f"given together with {key} (they are the same key)")
            out[key] = out.pop(alias)
    return out


def preset_names() -> list[str]:
    return sorted(p.stem for ext in ("*.yaml", "*.json") for p in configs_dir().glob(ext)
                  if not p.stem.startswith("_") and p.stem not in NOT_PRESETS)


def _read_yaml(path: Path) -> Any:
    """A YAML config file's data (derive.model.reading: safe, bounded, decimal integers, no duplicate keys)."""
    return reading.load_yaml(reading.read_text(path, str(path)), str(path))


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Turn ['d_ff=4096', ...] into {'d_ff': 4096}; values are YAML scalars (ints stay ints, and must be
    written in decimal: `012`, `0x10`, `1_000` are refused rather than read as 10, 16, 1000)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError("--set", pair, "expected KEY=VALUE")
        out[key] = reading.load_yaml_value(raw, "--set", key)
    return out


def load_config(spec: str | Path, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
    """A preset name (`gpt2-xl`), a YAML file or a Hugging Face config.json, plus optional --set overrides.

    --set on a config.json: a key that the model type's config class reads (`max_position_embeddings`,
    `num_key_value_heads`, ...) replaces that field before the file is read, as if the file had said so;
    any other key is a derive key (`context_length`, `d_ff`, ...) applied to the result. Keys that are both
    (vocab_size, head_dim, sliding_window) mean the same either way."""
    spec_str = str(spec)
    path = Path(spec_str)
    hf_model_type, hf_defaults = "", ()
    if path.suffix in (".yaml", ".yml", ".json") or reading.path_exists(path):
        reading.require_regular_file(path, spec_str)
        source, default_name = str(path), path.stem
        if path.stem == "config" and path.suffix == ".json":  # path/to/Model-Name/config.json
            default_name = path.resolve().parent.name or path.stem
    else:
        # Only a listed preset: a name such as `../x` must not leave the presets folder.
        if spec_str not in preset_names():
            raise ConfigError(
                spec_str, None, f"unknown preset (known presets: {', '.join(preset_names())})"
            )
        path = configs_dir() / f"{spec_str}.yaml"
        if not path.is_file():
            path = configs_dir() / f"{spec_str}.json"
        source, default_name = spec_str, spec_str
    overrides = dict(overrides or {})
    if path.suffix == ".json":
        from .hf import from_hf_config, read_json

        data, hf_model_type, hf_defaults, overrides = from_hf_config(read_json(path, source), source, overrides)
    else:
        data = _read_yaml(path)
        if isinstance(data, Mapping) and "model_type" in data and "model_type" not in ALL_KEYS:
            # A Hugging Face config.json saved under another name (JSON is YAML): read it as one.
            from .hf import from_hf_config

            data, hf_model_type, hf_defaults, overrides = from_hf_config(data, source, overrides)
    if data is None:
        raise ConfigError(source, None, "file is empty")
    config = _validate(data, source, default_name, hf_model_type, hf_defaults)
    return apply_overrides(config, overrides, source, default_name)


def apply_overrides(config: ModelConfig, overrides: Mapping[str, Any] | None, source: str | None = None,
                    default_name: str | None = None) -> ModelConfig:
    """`config` with --set values merged in and validated again (a changed d_ff says it was set by hand)."""
    if not overrides:
        return config
    for key in overrides:
        if key not in ALL_KEYS and key not in KEY_ALIASES:
            hint = " or a field of this model type's config.json" if config.hf_model_type else ""
            raise ConfigError("--set", key, f"unknown key (known keys: {', '.join(ALL_KEYS)}{hint})")
    mapping = _as_mapping(config)
    for alias, key in KEY_ALIASES.items():
        if alias in overrides:
            mapping.pop(key, None)
    merged = {**mapping, **overrides}
    if "d_ff" in overrides and "d_ff_source" not in overrides:
        merged["d_ff_source"] = "set on the command line"
    return _validate(merged, f"{source or config.source or config.name} (with --set)", default_name or config.name,
                     config.hf_model_type, config.hf_defaults)


def _as_mapping(config: ModelConfig) -> dict[str, Any]:
    return {
        **config.values(),
        "name": config.name,
        "description": config.description,
        "d_ff_source": config.d_ff_source,
        **{k: v for k, v in config.arch_values().items() if v is not None},
    }


def config_from_mapping(data: Mapping[str, Any], source: str, default_name: str) -> ModelConfig:
    """Validate a mapping of config keys (e.g. read from a document's listing) exactly as a YAML config is."""
    return _validate(data, source, default_name)
