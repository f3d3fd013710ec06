"""Read a Hugging Face config.json offline, the way transformers 5.24's config class reads it.

Only the fields that change a parameter, buffer or FLOP count are read; the rest (dropout, rope_theta, ...) are
ignored. A field missing from the file is read with the config class's own default (the class's dataclass
default, or the default its __post_init__ applies), and the defaults that supply a size or switch something on
are recorded so the output can say which were used. A field given as null means None, as it does to
transformers (`"q_lora_rank": null` is DeepSeek-V2-Lite's uncompressed query). The per-model-type readers
live in derive/model/hf_types.py; each says which modeling file it follows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, shown
from .reading import load_json, read_text


def read_json(path: Path, source: str) -> Any:
    """A config.json's data (derive.model.reading: regular file, size cap, BOM, no duplicate keys, bounded
    nesting, integers Python can read)."""
    return load_json(read_text(path, source), source)


class Fields:
    """The fields of one config.json as a transformers config class sees them.

    `aliases` is the class's attribute_map (`num_experts` -> `num_local_experts`); `defaults` holds the
    class's default of every field a reader may ask for (asking for an undeclared field is a bug here)."""

    def __init__(self, data: Mapping[str, Any], source: str, config_class: str, defaults: Mapping[str, Any],
                 aliases: Mapping[str, str]):
        self.data = {aliases.get(k, k): v for k, v in data.items()}
        for name in aliases.values():  # the field's own name wins over its alias when both are given
            if name in data:
                self.data[name] = data[name]
        self.source, self.config_class, self.defaults = source, config_class, defaults
        self.defaults_used: list[str] = []

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        """The field's value; the class default when missing (recorded when it is a size or a `true`)."""
        if key in self.data:
            return self.data[key]
        default = self.defaults[key]
        if default is not None and default is not False and default != []:
            self.defaults_used.append(f"{key} = {json.dumps(default)}")
        return default

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.source, key, message)

    def int(self, key: str) -> int:
        value = self.get(key)
        if value is None and key not in self.data:
            raise self.error(key, f"missing required field ({self.config_class} has no default for it)")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.error(key, f"must be a positive integer, got {shown(value)}")
        return value

    def opt_int(self, key: str, zero: bool = False) -> int | None:
        """A positive integer or None (null, or a class default of None); `zero`: 0 allowed too."""
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
            raise self.error(key, f"must be a {'non-negative' if zero else 'positive'} integer, got {shown(value)}")
        return value

    def bool(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {shown(value)}")
        return value

    def number(self, key: str) -> float:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.error(key, f"must be a non-negative number, got {shown(value)}")
        return value

    def int_list(self, key: str) -> list[int]:
        value = self.get(key)
        value = [] if value is None else value
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise self.error(key, f"must be a list of layer indices, got {shown(value)}")
        return value

    def layer_types(self, key: str, layers: int) -> list[str] | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != layers or any(not isinstance(v, str) for v in value):
            got = f"{len(value)} entries" if isinstance(value, list) else shown(value)
            raise self.error(key, f"must list one attention type per layer ({layers}), got {got}")
        # The attention kinds derive accounts for; transformers refuses names it does not know, and derive will
        # not count a chunked, linear or indexed attention layer as full attention.
        for i, kind in enumerate(value):
            if kind not in ("full_attention", "sliding_attention"):
                raise self.error(f"{key}[{i}]", f"{shown(kind)} is not an attention kind derive accounts for "
                                 "(full_attention, sliding_attention)")
        return value


def from_hf_config(data: Any, source: str, overrides: Mapping[str, Any] | None = None
                   ) -> tuple[dict[str, Any], str, tuple[str, ...], dict[str, Any]]:
    """derive's config keys for a config.json: (keys, model_type, defaults used, overrides left for derive).

    `overrides` (from --set) whose key is a field this model type reads (or one of its aliases) replace that
    field in the file before it is read; the others are returned, to be applied as derive keys."""
    from .hf_types import HF_TYPES, SUPPORTED_MODEL_TYPES

    if not isinstance(data, Mapping):
        raise ConfigError(source, None, "expected a JSON object at the top level")
    supported = ", ".join(SUPPORTED_MODEL_TYPES)
    overrides = dict(overrides or {})
    model_type = overrides.pop("model_type", data.get("model_type"))
    if model_type is None:
        raise ConfigError(source, "model_type", f"missing (supported model types: {supported})")
    if not isinstance(model_type, str) or model_type not in HF_TYPES:  # a list or object is not hashable
        raise ConfigError(source, "model_type", f"unsupported model type {shown(model_type)}"
                          f"{_text_config_hint(data)} (supported: {supported})")
    spec = HF_TYPES[model_type]
    hf_keys = {k: v for k, v in overrides.items() if k in spec.defaults or k in spec.aliases}
    rest = {k: v for k, v in overrides.items() if k not in hf_keys}
    if hf_keys:
        data = {**data, **hf_keys}
        source = f"{source} (with --set)"
    fields = Fields(data, source, spec.config_class, spec.defaults, spec.aliases)
    out = spec.read(fields)
    out["description"] = f"Hugging Face {model_type} config.json"
    out["buffers"] = "model"
    return out, model_type, tuple(fields.defaults_used), rest


def _text_config_hint(data: Mapping[str, Any]) -> str:
    """For a multimodal config (Gemma 3 4B+, Llama 4, Mistral 3 ...) whose `text_config` is a supported language
    model: how to account for that model alone (derive does not count vision towers, so it does not guess)."""
    from .hf_types import HF_TYPES

    text = data.get("text_config")
    inner = text.get("model_type") if isinstance(text, Mapping) else None
    if not isinstance(inner, str) or inner not in HF_TYPES:
        return ""
    return (f"; its text_config is a supported {inner} language model: save that object as a config.json of its "
            f"own (jq .text_config config.json > text.json) to account for it; the vision tower is not counted")
