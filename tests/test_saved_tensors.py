"""The `full` activation set against PyTorch on the meta device: every tensor autograd keeps for backward.

tests/oracles/saved.py runs one training step (train mode, forward, cross-entropy on fp32 logits) of the reference
module inside saved_tensors_hooks and sums the distinct storages it still holds after the forward, parameters and
buffers left out. derive's figure is the per-device activation memory of `derive train` with one device and one
micro-batch of B sequences of context_length tokens: the whole model's saved tensors.

References: derive's own PyTorch model of the assignment architecture (derive/verify/reference.py, fp32: in bf16
its torch.nn.RMSNorm and the meta device's SDPA keep fp32 copies that transformers' modules do not), and
transformers 5.24's model of every supported type built from a random config.json (tests/test_hf_random.py's
fields), in fp32 and bf16 (`from_config(dtype=...)`, which keeps the modules transformers keeps in fp32, such as
DeepSeek's router weight). Mixtures of experts run transformers' default grouped_mm experts path, which needs
bf16 and 16-byte aligned rows (widths multiples of 8). Dropout probabilities are set to 0 (the set's convention).
SAVED_EXAMPLES=60 pytest tests/test_saved_tensors.py draws 60 configs per model type instead of 4.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive import api
from derive.errors import DeriveError

try:
    from tests.oracles import hf_any as O
    from tests.oracles.saved import saved_bytes, saved_storages
    from tests.test_hf_random import TYPES, fields
except ModuleNotFoundError:
    from oracles import hf_any as O
    from oracles.saved import saved_bytes, saved_storages
    from test_hf_random import TYPES, fields

SETTINGS = settings(max_examples=int(__import__('os').environ.get('SAVED_EXAMPLES', 4)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
DROPOUT = ("resid_pdrop", "embd_pdrop", "attn_pdrop", "attention_dropout", "hidden_dropout", "residual_dropout",
           "embedding_dropout")
MOE = ("mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt_oss")
ACT = {torch.float32: "fp32", torch.bfloat16: "bf16-mixed"}


def derive_bytes(config, batch: int, precision: str) -> int:
    t = api.train_account(config, batch_size=batch, conventions=api.training_conventions(activations="full"),
                          setup=api.training_setup(precision=precision))
    return t.scale.peak.activations.value


def _aligned(model_type: str, data: dict) -> dict:
    """grouped_mm reads rows of 16 bytes: bf16 widths multiples of 8 (the same model, 8 times wider)."""
    if model_type not in MOE:
        return data
    out = dict(data)
    for key in ("hidden_size", "intermediate_size", "moe_intermediate_size"):
        if out.get(key):
            out[key] *= 8
    return out


def _reference_type(model_type: str, data: dict) -> bool:
    """Random configs whose options derive represents as another layout (documented in the README):
    Falcon's new decoder layout with one norm and as many key/value heads as query heads reads as the old
    parallel layout (2 int64 index tensors per layer apart); MLA with one head keeps a view of kv_b's output
    (its whole storage) where more heads copy the value; so do Falcon's fused slices with one head."""
    if model_type == "falcon" and data.get("new_decoder_architecture") and data.get("num_ln_in_parallel_attn") == 1 \
            and data["num_kv_heads"] == data["num_attention_heads"]:
        return False
    if model_type == "falcon" and data["num_attention_heads"] == 1:  # one head: Falcon's slices are views (as at
        return False  # B = 1), and multi_query reads as multi-head attention (its two index tensors uncounted)
    return not (model_type.startswith("deepseek") and data["num_attention_heads"] == 1)


@pytest.mark.parametrize("model_type", TYPES)
@SETTINGS
@given(data=st.data())
def test_full_set_is_what_autograd_keeps(model_type, data, tmp_path):
    config = {"model_type": model_type, **_aligned(model_type, fields(model_type, data.draw)),
              **{k: 0.0 for k in DROPOUT}}
    if not _reference_type(model_type, config):
        return
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    try:
        cfg = api.load_config(str(path))
    except DeriveError:  # an odd partial rotary width: derive refuses it (test_hf_random checks how)
        return
    # At micro-batch 1 PyTorch keeps some tensors as views where larger batches copy them (a single key/value head,
    # MLA's value): derive counts them as such. Falcon's slices of its fused qkv output are views at batch 1 in
    # ways derive does not follow (documented in the README): Falcon is drawn with B >= 2.
    views = model_type == "falcon"
    batch = data.draw(st.integers(2, 3) if views else st.integers(1, 2))
    for dtype in (torch.bfloat16,) if model_type in MOE else (torch.float32, torch.bfloat16):
        hf = O.hf_config(config)
        if model_type in MOE:
            hf._experts_implementation = "grouped_mm"
        from transformers import AutoModelForCausalLM

        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(hf, dtype=dtype)
        assert derive_bytes(cfg, batch, ACT[dtype]) == saved_bytes(model, batch, cfg.context_length), \
            (model_type, str(dtype), config)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heads=st.integers(1, 4), head=st.integers(1, 6), layers=st.integers(1, 3), d_ff=st.integers(1, 40),
       vocab=st.integers(2, 100), seq=st.integers(1, 24), batch=st.integers(1, 3))
def test_full_set_of_the_assignment_reference(heads, head, layers, d_ff, vocab, seq, batch):
    from derive.verify.reference import build_assignment

    cfg = api.load_config("gpt2-small", {"vocab_size": vocab, "context_length": seq, "num_layers": layers,
                                         "d_model": heads * head * 2, "num_heads": heads, "d_ff": d_ff})
    model = build_assignment(**cfg.values())
    assert derive_bytes(cfg, batch, "fp32") == saved_bytes(model, batch, seq, forward=lambda m, ids: m(ids))


@pytest.mark.parametrize("name", ["gpt2-small-hf", "llama-2-7b", "mistral-7b", "mixtral-8x7b"])
def test_full_set_of_released_shapes_shrunk(name, tmp_path):
    """Each preset config.json with its layer count, width and vocabulary cut down (its options unchanged)."""
    from transformers import AutoModelForCausalLM

    from derive.resources import configs_dir

    data = json.loads((configs_dir() / f"{name}.json").read_text())
    small = {"num_hidden_layers": 2, "n_layer": 2, "hidden_size": 64, "n_embd": 64, "intermediate_size": 96,
             "vocab_size": 128, "max_position_embeddings": 32, "n_positions": 32, "num_attention_heads": 4,
             "n_head": 4, "num_key_value_heads": 2, "bos_token_id": None, "eos_token_id": None,
             **{k: 0.0 for k in DROPOUT}}
    data.update({k: v for k, v in small.items() if k in data or k in DROPOUT + ("bos_token_id", "eos_token_id")})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    cfg = api.load_config(str(path))
    hf = O.hf_config(data)
    if name.startswith("mixtral"):
        hf._experts_implementation = "grouped_mm"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf, dtype=torch.bfloat16)
    assert derive_bytes(cfg, 2, "bf16-mixed") == saved_bytes(model, 2, cfg.context_length)


def test_the_oracle_counts_storages_once_and_drops_freed_nodes():
    """Two saved views of one tensor count once; a branch whose graph node is freed counts nothing; parameters
    do not count."""

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(4, 4))
            self.w2 = torch.nn.Parameter(torch.ones(4, 5))

        def forward(self, ids):
            x = torch.ones(ids.shape[0], ids.shape[1], 4, device=ids.device) @ self.w  # saves its input: 96 bytes
            torch.topk(x, 3)  # its (2, 3, 3) int64 indices (144 bytes) are freed with the unused values
            y = x.sin() + x.view(6, 4).view(2, 3, 4).exp()  # sin saves x (96), exp its result (96)
            z = y.cos()  # saves y (96)
            return z @ self.w2  # saves z (96); w2 is a parameter

    with torch.device("meta"):
        probe = Probe()
    found = saved_storages(probe, torch.zeros(2, 3, dtype=torch.long, device="meta"),
                           torch.zeros(2, 3, dtype=torch.long, device="meta"), forward=lambda m, ids: m(ids))
    # + log_softmax of the logits (2*3*5 fp32 = 120), targets (6 int64 = 48), total_weight (4)
    assert sorted(size for size, _, _ in found.values()) == [4, 48, 96, 96, 96, 96, 96, 120]


ROUTER_SMALL = {"num_hidden_layers": 2, "hidden_size": 512, "intermediate_size": 768, "moe_intermediate_size": 256,
                "vocab_size": 128, "max_position_embeddings": 64, "num_attention_heads": 4, "bos_token_id": None,
                "eos_token_id": None}
ROUTER_QWEN = {**ROUTER_SMALL, "num_key_value_heads": 2, "num_experts": 8, "num_experts_per_tok": 2,
               "shared_expert_intermediate_size": 512, "head_dim": 16}
ROUTER_DEEPSEEK = {**ROUTER_SMALL, "num_key_value_heads": 4, "n_routed_experts": 8, "num_experts_per_tok": 2,
                   "n_group": 4, "topk_group": 2, "first_k_dense_replace": 1, "kv_lora_rank": 32, "q_lora_rank": 48,
                   "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16}


@pytest.mark.parametrize("name, shrunk, switch", [
    (name, shrunk, switch) for name, shrunk, key, values in (
        ("Qwen3-30B-A3B", ROUTER_QWEN, "norm_topk_prob", (False, True)),
        ("Qwen1.5-MoE-A2.7B", ROUTER_QWEN, "norm_topk_prob", (False, True)),
        ("DeepSeek-V2-Lite", ROUTER_DEEPSEEK, "topk_method", ("greedy", "group_limited_greedy")),
        ("DeepSeek-V3", ROUTER_DEEPSEEK, "norm_topk_prob", (False, True)))
    for switch in ({key: v} for v in values)])
def test_router_switches_of_released_configs(name, shrunk, switch, tmp_path):
    """The routers' config switches (transformers 5.24): norm_topk_prob of Qwen-MoE and DeepSeek-V3 (the division
    keeps the fp32 top-k weights and their sum), DeepSeek-V2's topk_method (group_limited_greedy keeps
    masked_fill's boolean mask): derive's full set against saved_tensors_hooks, bf16, B = 2."""
    from transformers import AutoModelForCausalLM

    data = json.loads((Path(__file__).parent / "data" / "hf" / f"{name}.json").read_text())
    data.update({**shrunk, **switch, **{k: 0.0 for k in DROPOUT}})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    cfg = api.load_config(str(path))
    hf = O.hf_config(data)
    hf._experts_implementation = "grouped_mm"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf, dtype=torch.bfloat16)
    assert derive_bytes(cfg, 2, "bf16-mixed") == saved_bytes(model, 2, cfg.context_length), (name, switch)


def test_router_switches_per_token_of_released_configs():
    """Qwen3-30B-A3B as released (norm_topk_prob true): 4 k + 4 = 36 bytes per token per MoE layer more than with
    the switch off; DeepSeek-V2-236B's group_limited_greedy: n_experts (160) bytes per token per MoE layer."""
    hf = Path(__file__).parent / "data" / "hf"
    qwen = api.load_config(str(hf / "Qwen3-30B-A3B.json"))
    assert qwen.norm_topk_prob and qwen.experts_per_token == 8
    off = qwen.replace(norm_topk_prob=False)
    ds = api.load_config(str(hf / "DeepSeek-V2-Lite.json"), {"topk_method": "group_limited_greedy",
                                                              "n_routed_experts": 160})
    greedy = ds.replace(topk_method="greedy")
    for on, base, per_token in ((qwen, off, 36), (ds, greedy, 160)):
        layers = on.num_layers - on.dense_layers
        tokens = 2 * on.context_length
        assert derive_bytes(on, 2, "bf16-mixed") - derive_bytes(base, 2, "bf16-mixed") == per_token * tokens * layers


@pytest.mark.parametrize("name", ["llama-2-7b", "gpt2-small-hf"])
def test_seq_len_shorter_than_the_context(name, tmp_path):
    """derive train --seq-len 24 on a 32-token context: what PyTorch keeps for 24-token sequences (learned
    positions keep their 32-row table as a parameter, not an activation)."""
    from transformers import AutoModelForCausalLM

    from derive.resources import configs_dir

    data = json.loads((configs_dir() / f"{name}.json").read_text())
    small = {"num_hidden_layers": 2, "n_layer": 2, "hidden_size": 64, "n_embd": 64, "intermediate_size": 96,
             "vocab_size": 128, "max_position_embeddings": 32, "n_positions": 32, "num_attention_heads": 4,
             "n_head": 4, "num_key_value_heads": 2, "bos_token_id": None, "eos_token_id": None}
    data.update({k: v for k, v in small.items() if k in data or k in ("bos_token_id", "eos_token_id")})
    data.update({k: 0.0 for k in DROPOUT})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    cfg = api.load_config(str(path))
    t = api.train_account(cfg, batch_size=2, conventions=api.training_conventions(activations="full"),
                          setup=api.training_setup(precision="bf16-mixed", seq_len=24))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(O.hf_config(data), dtype=torch.bfloat16)
    assert t.seq_len == 24 and t.scale.peak.activations.value == saved_bytes(model, 2, 24)
