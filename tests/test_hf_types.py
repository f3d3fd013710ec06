"""Every supported Hugging Face model type against transformers 5.24 on the meta device, from real config.json
files (tests/data/hf, sources in SOURCES.md) at their real sizes.

The oracle (tests/oracles/hf_any.py) builds the model from the config.json itself with transformers' own config
class, so defaults and __post_init__ rules are transformers', not derive's. Expected: parameters ==
sum(p.numel()), buffers == model.named_buffers() (names and sizes), forward FLOPs at batch 1, seq_len 1,024 ==
FlopCounterMode, and for mixtures of experts the active parameters per token == all parameters minus the
experts a token skips, counted from the named parameters of one expert module.
"""

from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from pathlib import Path

import pytest

from derive import api
from derive.model.hf_types import HF_TYPES, SUPPORTED_MODEL_TYPES

try:
    from tests.oracles import hf_any as O
except ModuleNotFoundError:
    from oracles import hf_any as O

HF_DATA = Path(__file__).parent / "data" / "hf"
REAL = sorted(p.stem for p in HF_DATA.glob("*.json"))

# Published parameter counts, to the precision they are published with: (value, places after the point in
# billions) and the source. Vendors that leave the token embedding out of "active" are marked.
PUBLISHED_TOTAL = {
    "Llama-3.2-1B": (1.24, 2, "Llama 3.2 model card: 1.23B (safetensors: 1,235,814,400)"),
    "Mistral-Nemo-Base-2407": (12.2, 1, "Mistral NeMo model card: 12B, Hub: 12.2B"),
    "Qwen3-30B-A3B": (30.5, 1, "Qwen3-30B-A3B model card: 30.5B in total"),
    "Qwen1.5-MoE-A2.7B": (14.3, 1, "Qwen1.5-MoE-A2.7B model card: 14.3B parameters in total"),
    "DeepSeek-V3": (671.0, 0, "DeepSeek-V3 README: 671B total (main model, MTP module apart)"),
    "gpt-oss-20b": (20.9, 1, "gpt-oss model card: 20.9B total parameters (gpt-oss-20b)"),
    "pythia-160m": (0.162322944, 9, "Pythia README table: 162,322,944 total parameters"),
    "gemma-7b": (8.54, 2, "Gemma technical report: 8.54B parameters"),
    "Phi-3.5-mini-instruct": (3.8, 1, "Phi-3.5-mini model card: 3.8B parameters"),
    "falcon-7b": (6.92, 2, "Hub safetensors metadata of tiiuae/falcon-7b: 6.92B"),
}
PUBLISHED_ACTIVE = {  # name: (billions, places, counts the embedding table, source)
    "Qwen3-30B-A3B": (3.3, 1, True, "Qwen3-30B-A3B model card: 3.3B activated"),
    "Qwen1.5-MoE-A2.7B": (2.7, 1, True, "Qwen1.5-MoE-A2.7B model card: 2.7B activated"),
    "DeepSeek-V3": (36.6, 1, False, "DeepSeek-V3 README_WEIGHTS: 36.6B activated, embedding lookup not counted"),
    "gpt-oss-20b": (3.6, 1, False, "gpt-oss model card: 3.6B active parameters per token (no embeddings)"),
}


def _published(count: int, value: float, places: int) -> bool:
    """A count agrees with a figure published in billions to `places` decimals, rounded or truncated."""
    billions = count / 1e9
    return round(billions, places) == value or math.floor(billions * 10**places) == round(value * 10**places)


def _load(name: str) -> dict:
    return json.loads((HF_DATA / f"{name}.json").read_text())


@lru_cache(maxsize=None)
def _reference(name: str):
    """(parameters, buffers, forward FLOPs at (1, 1024), expert info) of the transformers model, built once."""
    model = O.build(_load(name))
    info = (O.expert_params(model), O.moe_layers(model)) if O.moe_layers(model) else None
    return O.params(model), O.buffers(model), O.forward_flops(model, 1, 1024), info


def test_every_supported_type_has_a_real_config():
    assert {_load(n)["model_type"] for n in REAL} == set(SUPPORTED_MODEL_TYPES) - {"mixtral", "gpt2"}


@pytest.mark.parametrize("name", REAL)
def test_real_config_matches_transformers(name):
    params, buffers, flops, _ = _reference(name)
    acc = api.account(api.load_config(str(HF_DATA / f"{name}.json")), 1, 1024)
    assert acc.total_params == params
    assert acc.forward_flops == flops
    assert acc.buffers.value == sum(buffers.values())
    # the buffers derive lists are the ones the model registers, by name
    derived = {n.step.title: n.value for n in acc.buffers.walk() if not n.children}
    for buffer_name, size in buffers.items():
        short = buffer_name.rsplit(".", 1)[-1]
        short = short.split("attention_", 1)[-1] if "attention_" in short else short
        assert short in derived, (buffer_name, derived)


@pytest.mark.parametrize("name", [n for n in REAL if _load(n).get("model_type") in
                                  ("qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt_oss")])
def test_active_parameters_of_real_moe_configs(name):
    params, _, _, info = _reference(name)
    (per_expert, n_experts), layers = info
    acc = api.account(api.load_config(str(HF_DATA / f"{name}.json")))
    k = acc.config.experts_per_token
    # independent: every parameter but the n_experts - k experts a token skips, in every MoE layer
    assert acc.active_params.value == params - layers * (n_experts - k) * per_expert
    assert n_experts == acc.config.n_experts and layers == acc.config.num_layers - acc.config.dense_layers


@pytest.mark.parametrize("name", sorted(PUBLISHED_TOTAL))
def test_published_totals(name):
    value, places, _source = PUBLISHED_TOTAL[name]
    total = api.account(api.load_config(str(HF_DATA / f"{name}.json"))).total_params
    assert _published(total, value, places)


@pytest.mark.parametrize("name", sorted(PUBLISHED_ACTIVE))
def test_published_active_parameters(name):
    value, places, with_embedding, _source = PUBLISHED_ACTIVE[name]
    acc = api.account(api.load_config(str(HF_DATA / f"{name}.json")))
    c = acc.config
    active = acc.active_params.value - (0 if with_embedding else c.vocab_size * c.d_model)
    assert _published(active, value, places)


def test_transformers_defaults_are_the_config_classes_own():
    """Every default derive reads a missing field with is the field's default in transformers' config class
    (dataclass field defaults; kwargs such as rotary_pct are checked by behaviour below)."""
    from transformers import AutoConfig

    kwargs_only = {"partial_rotary_factor", "rotary_pct", "sliding_window_pattern", "n_embed", "rope_scaling"}
    for model_type, spec in HF_TYPES.items():
        cls = type(AutoConfig.for_model(model_type))
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        for key, default in spec.defaults.items():
            if key in kwargs_only or key not in fields:
                continue
            expected = fields[key]
            if key == "mlp_only_layers" and expected is None:
                expected = None
            assert default == expected, (model_type, key, default, expected)


@pytest.mark.parametrize("model_type, field, absent, present", [
    ("gpt_neox", "rotary_pct", 0.25, 0.5),        # GPTNeoXConfig pops rotary_pct (default 0.25)
    ("phi", "partial_rotary_factor", 0.5, 0.4),   # PhiConfig sets 0.5 when absent
    ("phi3", "partial_rotary_factor", 1.0, 0.75),
    ("llama", "partial_rotary_factor", 1.0, 1.0),  # LlamaRotaryEmbedding's default RoPE ignores the factor
])
def test_rotary_fraction_defaults_behave_like_transformers(model_type, field, absent, present, tmp_path):
    base = {"model_type": model_type, "vocab_size": 64, "hidden_size": 64, "num_attention_heads": 4,
            "num_hidden_layers": 1, "intermediate_size": 32, "pad_token_id": None}
    for value, expected in ((None, absent), (0.5 if model_type == "llama" else present, present)):
        data = {**base, **({field: value} if value is not None else {})}
        path = tmp_path / f"{model_type}-{value}.json"
        path.write_text(json.dumps(data))
        cfg = api.load_config(str(path))
        assert (cfg.rotary_dim or cfg.d_k) == int(16 * expected)
        assert sum(O.buffers(O.build(data)).values()) == api.account(cfg).buffers.value


def test_gemma3_layer_pattern_default(tmp_path):
    data = {"model_type": "gemma3_text", "vocab_size": 64, "hidden_size": 32, "num_attention_heads": 2,
            "num_key_value_heads": 1, "head_dim": 16, "num_hidden_layers": 7, "intermediate_size": 32,
            "pad_token_id": None, "sliding_window": 8}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    cfg = api.load_config(str(path))
    assert sum(t == "sliding_attention" for t in O.hf_config(data).layer_types) == cfg.sliding_layers == 6
    assert "sliding_window_pattern = 6" in cfg.hf_defaults


def test_config_without_max_position_embeddings_loads_with_the_default(tmp_path):
    d = tmp_path / "llama-7b-hf"
    d.mkdir()
    (d / "config.json").write_text((HF_DATA / "llama-7b-hf.json").read_text())
    result = api.load_config(str(d / "config.json"))
    assert result.context_length == 2048 == O.hf_config(_load("llama-7b-hf")).max_position_embeddings
    assert result.hf_defaults == ("max_position_embeddings = 2048",)
    # --set supplies the field by its Hugging Face name, or derive's key
    assert api.load_config(str(d / "config.json"), {"max_position_embeddings": 4096}).context_length == 4096
    assert api.load_config(str(d / "config.json"), {"context_length": 4096}).context_length == 4096
    fixed = api.load_config(str(d / "config.json"), {"max_position_embeddings": 4096})
    assert fixed.hf_defaults == ()


def test_mistral_nemo_head_dim_and_llama_3_2_buffers():
    nemo = api.account(api.load_config(str(HF_DATA / "Mistral-Nemo-Base-2407.json")))
    c = nemo.config
    assert (c.head_dim, c.d_model // c.num_heads) == (128, 160)
    q = nemo.params.find("params.block.attention.q_proj")
    assert q.value == 5120 * 32 * 128 and q.step.factors[1].name == "num_heads * head_dim"
    llama = api.account(api.load_config(str(HF_DATA / "Llama-3.2-1B.json")))
    # the model holds inv_freq and original_inv_freq of head_dim / 2 each, not 268,435,456 of cos/sin tables
    assert llama.buffers.value == 64 == sum(_reference("Llama-3.2-1B")[1].values())


@pytest.mark.parametrize("rope", [
    {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 32, "partial_rotary_factor": 0.5},
    {"rope_type": "linear", "factor": 2.0, "partial_rotary_factor": 0.5},
    {"type": "dynamic", "factor": 2.0},
])
def test_scaled_rope_types_read_the_rotary_fraction(rope, tmp_path):
    """The scaled RoPE types (modeling_rope_utils) rotate int(head_dim * partial_rotary_factor) dimensions even
    for Llama, whose default RoPE ignores the factor: inv_freq sizes as transformers registers them."""
    data = {"model_type": "llama", "vocab_size": 64, "hidden_size": 64, "num_attention_heads": 4,
            "num_hidden_layers": 1, "intermediate_size": 32, "max_position_embeddings": 64, "rope_scaling": rope}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    assert api.account(api.load_config(str(path))).buffers.value == sum(O.buffers(O.build(data)).values())
