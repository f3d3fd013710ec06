"""Inference accounting against transformers 5.24 generating on the meta device (tests/oracles/hf_generate.py).

For real config.json files of a Llama, a grouped-query, a multi-query, a sliding-window, a mixture-of-experts and
a multi-head latent attention model (and GPT-2), and for random small configs of every supported model type:
prefill FLOPs (logits_to_keep=1), every decode step's FLOPs with the cache, the bytes per token and the bytes of
the cache at the end of generation read from the DynamicCache's tensors, and the tokens each layer holds.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive import api

try:
    from tests.oracles import hf_any as O
    from tests.oracles import hf_generate as G
    from tests.test_hf_random import TYPES, fields
except ModuleNotFoundError:
    from oracles import hf_any as O
    from oracles import hf_generate as G
    from test_hf_random import TYPES, fields

HF_DATA = Path(__file__).parent / "data" / "hf"
DTYPES = {torch.float32: "fp32", torch.bfloat16: "bf16"}

# case: (config.json, fields changed in it, what the case covers). A window of 4 fills within the tokens here.
NAMED = {
    "llama": ("Llama-3.2-1B.json", {}, "Llama: grouped-query attention, tied embeddings"),
    "gqa": ("Qwen2.5-3B.json", {}, "grouped-query attention with q/k/v biases"),
    "mqa": ("falcon-7b.json", {}, "multi-query attention: one key/value head"),
    "falcon_gqa": ("falcon-40b.json", {}, "Falcon's new decoder architecture: 8 key/value heads, cached for all"),
    "sliding": ("gemma-3-1b-it.json", {"sliding_window": 4}, "local/global layers, head_dim of its own"),
    "sliding_moe": ("gpt-oss-20b.json", {"sliding_window": 4}, "mixture of experts, sliding layers, sinks"),
    "moe": ("Qwen1.5-MoE-A2.7B.json", {}, "mixture of experts with a gated shared expert"),
    "mla": ("DeepSeek-V2-Lite.json", {}, "multi-head latent attention: the cache holds the latent"),
}


def _data(name: str, changes: dict) -> dict:
    data = json.loads((HF_DATA / name).read_text(encoding="utf-8"))
    return {**data, **changes}


def _config(data: dict, tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return api.load_config(str(path))


def _compare(data: dict, tmp_path: Path, batch: int, prompt: int, new: int, dtype=torch.float32) -> None:
    """derive's figures == what transformers computes and caches for this request."""
    model = O.build(data).to(dtype)
    cfg = _config(data, tmp_path)
    kv = DTYPES[dtype]
    acc = api.infer_account(cfg, prompt=prompt, generate=new, batch_size=batch, kv_dtype=kv)
    report = api.infer_report(acc)
    prefill, steps, cache = G.generate(model, batch, prompt, new)
    assert report["prefill"]["flops"] == prefill
    assert [acc.decode_step(i).value for i in range(1, new)] == steps
    assert report["decode"]["flops"] == sum(steps)
    if steps:
        assert (report["decode"]["first_step"], report["decode"]["last_step"]) == (steps[0], steps[-1])
    # the cache at the end of generation: N + M - 1 tokens (token M is never fed back). Falcon's new decoder
    # architecture broadcasts k and v to every query head before caching them (FalconAttention._split_heads):
    # its cache is num_heads / num_kv_heads times what the model needs, which is what derive counts.
    factor = acc.config.num_heads // acc.config.kv_heads if data.get("new_decoder_architecture") else 1
    assert report["kv_cache"]["after_generate"]["bytes"] * factor == G.cache_bytes(cache)
    held = Counter(G.cache_tokens(cache))
    expected: Counter = Counter()
    for row in report["kv_cache"]["layers"]:
        tokens = prompt + new - 1
        expected[tokens if row["kind"] == "full_attention" else min(tokens, acc.config.sliding_window - 1)] += \
            row["layers"]
    assert held == expected
    # bytes per token: the cache of one token of every sequence
    _, one = G.prefill(model, batch, 1)
    assert report["kv_cache"]["bytes_per_token"] * batch * factor == G.cache_bytes(one)


@pytest.mark.parametrize("case", NAMED, ids=list(NAMED))
def test_real_configs_generate_as_derived(case, tmp_path):
    name, changes, _ = NAMED[case]
    dtype = torch.float32 if case == "mla" else torch.bfloat16  # DeepSeek-V2 rotates through complex numbers
    _compare(_data(name, changes), tmp_path, batch=2, prompt=5, new=4, dtype=dtype)


def test_gpt2_generates_as_derived(tmp_path):
    from derive.resources import configs_dir

    data = json.loads((configs_dir() / "gpt2-small-hf.json").read_text())
    _compare(data, tmp_path, batch=1, prompt=3, new=3)


def test_mla_cache_holds_the_latent_not_heads(tmp_path):
    """DeepSeek: the cache is (kv_lora_rank + qk_rope_head_dim) per token per layer; per-head K and V would be
    num_heads x (qk_nope + qk_rope + v_head_dim): both figures are printed."""
    data = _data("DeepSeek-V2-Lite.json", {})
    cfg = _config(data, tmp_path)
    report = api.infer_report(api.infer_account(cfg, prompt=4, generate=2, kv_dtype="bf16"))
    layers = data["num_hidden_layers"]
    assert report["kv_cache"]["bytes_per_token"] == layers * (data["kv_lora_rank"] + data["qk_rope_head_dim"]) * 2
    heads = data["num_attention_heads"] * (data["qk_nope_head_dim"] + data["qk_rope_head_dim"] + data["v_head_dim"])
    assert report["kv_cache"]["expanded_bytes_per_token"] == layers * heads * 2
    _, cache = G.prefill(O.build(data), 1, 1)
    assert [tuple(layer.keys.shape[1:]) for layer in cache.layers] == [(1, 1, data["kv_lora_rank"])] * layers
    assert [tuple(layer.values.shape[1:]) for layer in cache.layers] == [(1, 1, data["qk_rope_head_dim"])] * layers


def test_window_of_one_is_where_transformers_keeps_everything(tmp_path):
    """A sliding window of 1 needs no cache (min(t, W - 1) = 0), but DynamicSlidingWindowLayer slices
    `[-sliding_window + 1:]` = `[0:]` and keeps every token; derive counts what the window needs."""
    data = _data("Mistral-7B-v0.3.json", {"sliding_window": 1, "num_hidden_layers": 1, "hidden_size": 64,
                                          "intermediate_size": 32, "num_attention_heads": 4,
                                          "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 50})
    cfg = _config(data, tmp_path)
    report = api.infer_report(api.infer_account(cfg, prompt=3, generate=1))
    assert report["kv_cache"]["layers"][0]["tokens"] == 0
    _, cache = G.prefill(O.build(data), 1, 3)
    assert G.cache_tokens(cache) == [3]


SETTINGS = settings(max_examples=4, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("model_type", TYPES)
@SETTINGS
@given(data=st.data())
def test_random_configs_generate_as_derived(model_type, data, tmp_path):
    config = {"model_type": model_type, **fields(model_type, data.draw)}
    if (config.get("sliding_window") or 2) < 2:
        config["sliding_window"] = 2  # a window of 1 is the case above, where transformers keeps everything
    rope = config.get("partial_rotary_factor", config.get("rotary_pct", 1.0))
    head = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    if model_type in ("phi", "phi3", "gpt_neox") and int(head * rope) % 2 and int(head * rope) != head:
        return  # transformers' odd partial rotary: refused by derive (tests/test_hf_random.py)
    batch, prompt, new = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 7)), data.draw(st.integers(1, 4))
    _compare(config, tmp_path, batch, prompt, new)
