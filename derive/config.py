"""ModelConfig: a validated, frozen model description, loaded from a preset, a YAML file or --set."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ConfigError
from .resources import configs_dir

# Keys whose values are positive integers and that every config must give.
INT_KEYS: tuple[str, ...] = ("vocab_size", "context_length", "num_layers", "d_model", "num_heads", "d_ff")
# Free-text keys: allowed, never required.
TEXT_KEYS: tuple[str, ...] = ("name", "description", "d_ff_source")
# YAML files in configs/ that are data tables, not model presets.
NOT_PRESETS: tuple[str, ...] = ("hardware",)


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

    @property
    def d_k(self) -> int:
        return self.d_model // self.num_heads

    def values(self) -> dict[str, int]:
        """The integer hyperparameters, keyed by symbol name."""
        return {k: getattr(self, k) for k in INT_KEYS}

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


def _validate(data: Mapping[str, Any], source: str, default_name: str) -> ModelConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(source, None, "expected a mapping of keys to values at the top level")
    for key in data:
        if key not in INT_KEYS and key not in TEXT_KEYS:
            known = ", ".join(INT_KEYS + TEXT_KEYS)
            raise ConfigError(source, str(key), f"unknown key (known keys: {known})")
    for key in INT_KEYS:
        if key not in data:
            raise ConfigError(source, key, "missing required key")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(source, key, f"must be a positive integer, got {value!r}")
    for key in TEXT_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ConfigError(source, key, f"must be a string, got {data[key]!r}")
    if data["d_model"] % data["num_heads"]:
        raise ConfigError(
            source,
            "num_heads",
            f"d_model ({data['d_model']}) is not divisible by num_heads ({data['num_heads']})",
        )
    return ModelConfig(
        name=data.get("name", default_name),
        description=data.get("description", ""),
        d_ff_source=data.get("d_ff_source", "given"),
        source=source,
        **{k: data[k] for k in INT_KEYS},
    )


def preset_names() -> list[str]:
    return sorted(p.stem for p in configs_dir().glob("*.yaml")
                  if not p.stem.startswith("_") and p.stem not in NOT_PRESETS)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read file ({exc.strerror or exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(str(path), None, f"not valid YAML{where}") from None


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Turn ['d_ff=4096', ...] into {'d_ff': 4096}; values are YAML scalars (ints stay ints)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError("--set", pair, "expected KEY=VALUE")
        try:
            out[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            out[key] = raw
    return out


def load_config(spec: str | Path, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
    """A preset name (`gpt2-xl`) or a path to a YAML file, plus optional --set overrides."""
    spec_str = str(spec)
    path = Path(spec_str)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(spec_str, None, "no such file")
        data, source, default_name = _read_yaml(path), str(path), path.stem
    else:
        preset = configs_dir() / f"{spec_str}.yaml"
        if not preset.is_file() or spec_str in NOT_PRESETS:
            raise ConfigError(
                spec_str, None, f"unknown preset (known presets: {', '.join(preset_names())})"
            )
        data, source, default_name = _read_yaml(preset), spec_str, spec_str
    if data is None:
        raise ConfigError(source, None, "file is empty")
    config = _validate(data, source, default_name)
    if overrides:
        for key in overrides:
            if key not in INT_KEYS and key not in TEXT_KEYS:
                raise ConfigError("--set", key, f"unknown key (known keys: {', '.join(INT_KEYS + TEXT_KEYS)})")
        merged = {**_as_mapping(config), **overrides}
        if "d_ff" in overrides and "d_ff_source" not in overrides:
            merged["d_ff_source"] = "set on the command line"
        config = _validate(merged, f"{source} (with --set)", default_name)
    return config


def _as_mapping(config: ModelConfig) -> dict[str, Any]:
    return {
        **config.values(),
        "name": config.name,
        "description": config.description,
        "d_ff_source": config.d_ff_source,
    }
