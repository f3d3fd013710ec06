"""ModelConfig: a validated, frozen model description, loaded from a preset, a YAML file or --set."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, shown
from ..resources import configs_dir
from . import reading

# Keys whose values are positive integers and that every config must give.
INT_KEYS: tuple[str, ...] = ("vocab_size", "context_length", "num_layers", "d_model", "num_heads", "d_ff")
# Free-text keys: allowed, never required.
TEXT_KEYS: tuple[str, ...] = ("name", "description", "d_ff_source")
# YAML files in configs/ that are data tables, not model presets.
NOT_PRESETS: tuple[str, ...] = ("hardware",)
# Architecture options; every default is the assignment architecture, so a config without them is the homework's.
CHOICE_KEYS: dict[str, tuple[str, ...]] = {
    "norm": ("rmsnorm", "layernorm"),
    "ffn": ("swiglu", "gelu", "moe"),
    "positions": ("rope", "learned"),
}
BOOL_KEYS: tuple[str, ...] = ("bias", "qkv_bias", "tie_embeddings")
# Optional positive integers: num_kv_heads defaults to num_heads; the MoE sizes exist only with ffn: moe.
OPTIONAL_INT_KEYS: tuple[str, ...] = ("num_kv_heads", "n_experts", "experts_per_token")
ARCH_KEYS: tuple[str, ...] = (*CHOICE_KEYS, *BOOL_KEYS, *OPTIONAL_INT_KEYS)
ALL_KEYS: tuple[str, ...] = INT_KEYS + TEXT_KEYS + ARCH_KEYS


@dataclass(frozen=True)
class ArchOptions:
    """The structural choices of an architecture (no sizes): what derivations are built and cached by."""

    norm: str = "rmsnorm"
    ffn: str = "swiglu"
    positions: str = "rope"
    bias: bool = False
    qkv_bias: bool = False
    tie_embeddings: bool = False
    gqa: bool = False  # k, v projections narrower than q (num_kv_heads < num_heads)

    @property
    def is_assignment(self) -> bool:
        return self == ArchOptions()


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

    @property
    def d_k(self) -> int:
        return self.d_model // self.num_heads

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
        return ArchOptions(self.norm, self.ffn, self.positions, self.bias, self.qkv_bias, self.tie_embeddings,
                           self.kv_heads != self.num_heads)

    def symbol_values(self) -> dict[str, int]:
        """Every integer the derivation may use, keyed by symbol name (values() plus the architecture sizes)."""
        out = {**self.values(), "num_kv_heads": self.kv_heads}
        if self.ffn == "moe":
            out["n_experts"] = self.n_experts
            out["experts_per_token"] = self.experts_per_token
        return out

    def arch_values(self) -> dict[str, Any]:
        """The architecture options as given (None = not applicable), for sheets and --set merging."""
        return {k: getattr(self, k) for k in ARCH_KEYS}


def _validate_arch(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check the architecture options; returns those given (defaults stay the dataclass defaults)."""
    for key, allowed in CHOICE_KEYS.items():
        if key in data and data[key] not in allowed:
            raise ConfigError(source, key, f"must be one of {', '.join(allowed)}, got {shown(data[key])}")
    for key in BOOL_KEYS:
        if key in data and not isinstance(data[key], bool):
            raise ConfigError(source, key, f"must be true or false, got {shown(data[key])}")
    for key in OPTIONAL_INT_KEYS:
        value = data.get(key)
        if key in data and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ConfigError(source, key, f"must be a positive integer, got {shown(value)}")
    kv = data.get("num_kv_heads")
    if kv is not None and data["num_heads"] % kv:
        raise ConfigError(source, "num_kv_heads",
                          f"num_heads ({data['num_heads']}) is not divisible by num_kv_heads ({kv})")
    if data.get("ffn") == "moe":
        for key in ("n_experts", "experts_per_token"):
            if key not in data:
                raise ConfigError(source, key, "missing (required with ffn: moe)")
        if data["experts_per_token"] > data["n_experts"]:
            raise ConfigError(source, "experts_per_token",
                              f"{data['experts_per_token']} exceeds n_experts ({data['n_experts']})")
    else:
        for key in ("n_experts", "experts_per_token"):
            if data.get(key) is not None:
                raise ConfigError(source, key, "only allowed with ffn: moe")
    return {k: data[k] for k in ARCH_KEYS if k in data}


def _validate(data: Mapping[str, Any], source: str, default_name: str, hf_model_type: str = "") -> ModelConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(source, None, "expected a mapping of keys to values at the top level")
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
    for key in TEXT_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ConfigError(source, key, f"must be a string, got {shown(data[key])}")
        if key in data:
            reading.check_text(data[key], source, key)
    if data["d_model"] % data["num_heads"]:
        raise ConfigError(
            source,
            "num_heads",
            f"d_model ({data['d_model']}) is not divisible by num_heads ({data['num_heads']})",
        )
    arch = _validate_arch(data, source)
    return ModelConfig(
        name=data.get("name", reading.safe_name(default_name)),
        description=data.get("description", ""),
        d_ff_source=data.get("d_ff_source", "given"),
        source=source,
        hf_model_type=hf_model_type,
        **{k: data[k] for k in INT_KEYS},
        **arch,
    )


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
    """A preset name (`gpt2-xl`) or a path to a YAML file, plus optional --set overrides."""
    spec_str = str(spec)
    path = Path(spec_str)
    hf_model_type = ""
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
    if path.suffix == ".json":
        from .hf import from_hf_config, read_json

        data, hf_model_type = from_hf_config(read_json(path, source), source)
    else:
        data = _read_yaml(path)
    if data is None:
        raise ConfigError(source, None, "file is empty")
    config = _validate(data, source, default_name, hf_model_type)
    if overrides:
        for key in overrides:
            if key not in ALL_KEYS:
                raise ConfigError("--set", key, f"unknown key (known keys: {', '.join(ALL_KEYS)})")
        merged = {**_as_mapping(config), **overrides}
        if "d_ff" in overrides and "d_ff_source" not in overrides:
            merged["d_ff_source"] = "set on the command line"
        config = _validate(merged, f"{source} (with --set)", default_name, hf_model_type)
    return config


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
