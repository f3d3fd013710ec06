"""The architecture options beyond the assignment's, as YAML keys: explicit head_dim (GPT-3 XL), the
sliding-window band convention, option validation, and the commands (params, flops, formula, sweep, table,
sheet, verify) on the new model types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from derive import api
from derive.cli import main
from derive.model.config import load_config

HF_DATA = Path(__file__).parent / "data" / "hf"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def _yaml(tmp_path: Path, text: str, name: str = "m.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------- explicit head_dim


def test_gpt3_xl_heads_of_128_in_d_model_2048():
    """Brown et al. 2020, Table 2.1: 24 layers, d_model 2,048, 24 heads, d_head 128 (q, k, v: 2,048 -> 3,072)."""
    acc = api.account(load_config("gpt3-xl"), 1, 2048)
    V, T, L, d, h, hd, f = 50257, 2048, 24, 2048, 24, 128, 8192
    q = h * hd
    per_layer = (3 * (d * q + q) + (q * d + d)) + (d * f + f + f * d + d) + 2 * 2 * d
    assert acc.total_params == V * d + T * d + L * per_layer + 2 * d == 1_517_123_584
    N = T  # tokens of one sequence
    flops = L * (2 * N * (3 * d * q + q * d) + 2 * 2 * N * T * q + 2 * 2 * N * d * f) + 2 * N * d * V
    assert acc.forward_flops == flops


def test_d_head_is_head_dim_and_the_usual_width_is_the_classic_form(tmp_path):
    base = "vocab_size: 10\ncontext_length: 8\nnum_layers: 1\nd_model: 12\nnum_heads: 3\nd_ff: 4\n"
    a = load_config(_yaml(tmp_path, base + "d_head: 8\n"))
    b = load_config(_yaml(tmp_path, base + "head_dim: 8\n", "b.yaml"))
    assert a.head_dim == b.head_dim == 8 and api.account(a).total_params == api.account(b).total_params
    same = load_config(_yaml(tmp_path, base + "head_dim: 4\n", "c.yaml"))  # 12 / 3: nothing of its own
    assert same.head_dim is None and same.arch == load_config(_yaml(tmp_path, base, "d.yaml")).arch
    result = run("params", _yaml(tmp_path, base + "head_dim: 8\nd_head: 8\n", "e.yaml"))
    assert result.exit_code == 2 and "d_head" in result.output and result.output.count("\n") == 1


def test_set_head_dim_on_the_command_line():
    nemo = str(HF_DATA / "Mistral-Nemo-Base-2407.json")
    assert api.account(load_config(nemo, {"head_dim": 160})).total_params == \
        api.account(load_config(nemo, {"head_dim": 160})).total_params
    assert load_config(nemo, {"head_dim": 160}).head_dim is None  # 5,120 / 32: the classic form again


# ---------------------------------------------------------------- sliding-window band convention


def _mask_pairs(seq: int, window: int) -> int:
    """(query, key) pairs transformers' sliding-window causal mask keeps (masking_utils), counted one by one."""
    import torch
    from transformers.masking_utils import sliding_window_causal_mask_function

    keep = sliding_window_causal_mask_function(window)
    zero = torch.tensor(0)
    return int(keep(zero, zero, torch.arange(seq)[:, None], torch.arange(seq)[None, :]).sum())


@settings(max_examples=20, deadline=None)
@given(seq=st.integers(1, 40), window=st.integers(1, 40))
def test_band_pairs_equal_the_mask(seq, window):
    from derive.model.dims import band_pairs
    from derive.model.steps import substitute
    from derive.model.symbols import SYMBOLS

    pairs = substitute(band_pairs().expr, {SYMBOLS["seq_len"]: seq, SYMBOLS["sliding_window"]: window})
    assert pairs == _mask_pairs(seq, window)


@pytest.mark.parametrize("name, seq", [("gemma-2-2b", 8192), ("gpt-oss-20b", 1024), ("starcoder2-7b", 8192),
                                       ("gemma-3-1b-it", 2048)])
def test_band_counts_only_the_window_in_sliding_layers(name, seq):
    cfg = load_config(str(HF_DATA / f"{name}.json"))
    full, band = api.account(cfg, 1, seq), api.account(cfg, 1, seq, window="band")
    assert full.total_params == band.total_params
    # the difference is the part of the square outside the causal window, in the sliding layers only, for the
    # scores (head width) and the weighted sum (value width): 2 * h * (S^2 - pairs) * (d_k + d_v) per layer,
    # pairs counted one query at a time (query i keeps min(i + 1, W) keys)
    pairs = sum(min(i + 1, cfg.sliding_window) for i in range(seq))
    assert full.forward_flops - band.forward_flops == \
        cfg.sliding_layers * 2 * cfg.num_heads * (seq * seq - pairs) * 2 * cfg.d_k
    # a sequence shorter than the window keeps the causal triangle S (S + 1) / 2 of each sliding layer
    short = min(cfg.sliding_window, 64)
    saved = api.account(cfg, 1, short).forward_flops - api.account(cfg, 1, short, window="band").forward_flops
    assert saved == cfg.sliding_layers * 2 * cfg.num_heads * (short * short - short * (short + 1) // 2) * 2 * cfg.d_k


def test_band_needs_layer_positions_for_dense_and_sliding_layers(tmp_path):
    text = ("vocab_size: 10\ncontext_length: 16\nnum_layers: 3\nd_model: 8\nnum_heads: 2\nd_ff: 4\nffn: moe\n"
            "n_experts: 2\nexperts_per_token: 1\nnum_dense_layers: 1\nsliding_window: 4\nnum_sliding_layers: 2\n")
    path = _yaml(tmp_path, text)
    assert run("flops", path).exit_code == 0
    result = run("flops", path, "--window", "band")
    assert result.exit_code == 2 and "--window band" in result.output and result.output.count("\n") == 1


def test_flops_and_sheet_name_the_window_convention(tmp_path):
    path = str(HF_DATA / "gemma-2-2b.json")
    full = run("flops", path, "--seq-len", "8192")
    band = run("flops", path, "--seq-len", "8192", "--window", "band")
    assert full.exit_code == band.exit_code == 0
    assert "window convention full:" in full.output and "window convention band:" in band.output
    assert "13 of 26 layers" in full.output
    report = json.loads(run("flops", path, "--seq-len", "8192", "--window", "band", "--json").output)
    assert report["window"] == {"convention": "band", "sliding_window": 4096,
                                "layers": {"full_attention": 13, "sliding_attention": 13}}
    result = run("sheet", path, "--window", "band", "--format", "md", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "model-accounting-gemma-2-2b-window-band.md").read_text()  # a band run has its own files
    assert "Window convention band:" in text and "sliding_window_block (x num_sliding_layers)" in text
    assert run("sheet", "gpt2-xl", "--window", "band", "--out", str(tmp_path)).exit_code == 2


# ---------------------------------------------------------------- bad options


@pytest.mark.parametrize("extra, key", [
    ({"attention": "mla"}, "kv_lora_rank"),
    ({"attention": "mla", "kv_lora_rank": 4, "qk_nope_head_dim": 2, "qk_rope_head_dim": 2, "v_head_dim": 2,
      "num_kv_heads": 1}, "num_kv_heads"),
    ({"kv_lora_rank": 4}, "kv_lora_rank"),
    ({"qk_norm": "both"}, "qk_norm"),
    ({"block_norms": "shared"}, "block_norms"),
    ({"norm_bias": False}, "norm_bias"),
    ({"d_ff_expert": 4}, "d_ff_expert"),
    ({"ffn": "moe", "n_experts": 2, "experts_per_token": 1, "num_dense_layers": 3}, "num_dense_layers"),
    ({"ffn": "moe", "n_experts": 2, "experts_per_token": 1, "shared_expert_gate": True}, "shared_expert_gate"),
    ({"rotary_dim": 9}, "rotary_dim"),
    ({"positions": "learned", "rotary_dim": 2}, "rotary_dim"),
    ({"num_sliding_layers": 1}, "num_sliding_layers"),
    ({"sliding_window": 4, "num_sliding_layers": 3}, "num_sliding_layers"),
    ({"embed_scale": True}, "embed_scale"),
    ({"ffn": "gelu", "fused_gate_up": True}, "fused_gate_up"),
    ({"head_dim": -2}, "head_dim"),
])
def test_bad_new_options_are_one_line_exit_2(tmp_path, extra, key):
    base = "vocab_size: 10\ncontext_length: 8\nnum_layers: 2\nd_model: 8\nnum_heads: 2\nd_ff: 4\n"
    path = _yaml(tmp_path, base + "".join(f"{k}: {json.dumps(v)}\n" for k, v in extra.items()))
    result = run("params", path)
    assert result.exit_code == 2 and key in result.output, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_unknown_model_type_lists_every_supported_one(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mamba"}))
    result = run("params", str(path))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    for model_type in ("gpt2", "qwen3_moe", "deepseek_v3", "gpt_oss", "gemma3_text", "falcon", "olmo2"):
        assert model_type in result.output


def test_set_names_a_config_json_field_or_a_derive_key(tmp_path):
    path = str(HF_DATA / "Qwen3-0.6B.json")
    by_field = load_config(path, {"num_hidden_layers": 14})
    by_key = load_config(path, {"num_layers": 14})
    assert by_field.num_layers == by_key.num_layers == 14
    assert load_config(path, {"num_key_value_heads": 16}).num_kv_heads == 16
    result = run("params", path, "--set", "num_kv_heads=3")  # a derive key, validated like one
    assert result.exit_code == 2 and "num_kv_heads" in result.output
    result = run("params", path, "--set", "hidden_layers=3")
    assert result.exit_code == 2 and "config.json" in result.output and result.output.count("\n") == 1


# ---------------------------------------------------------------- every command on the new types


# One released config of each model type (the smallest); its layers cut to 4 through the config.json field, so
# each type's own layer patterns (dense first layers, sliding layers) are recomputed as transformers would.
ONE_PER_TYPE = ["Llama-3.2-1B", "Mistral-Nemo-Base-2407", "Qwen2.5-3B", "Qwen3-0.6B", "Qwen1.5-MoE-A2.7B",
                "Qwen3-30B-A3B", "gemma-2b", "gemma-2-2b", "gemma-3-1b-it", "phi-2", "Phi-4-mini-instruct",
                "pythia-160m", "OLMo-2-1124-7B", "starcoder2-7b", "falcon-7b", "falcon-40b", "DeepSeek-V2-Lite",
                "DeepSeek-V3", "gpt-oss-20b"]



@pytest.mark.parametrize("name", ONE_PER_TYPE)
def test_params_flops_formula_sweep_on_new_types(name):
    path = str(HF_DATA / f"{name}.json")
    params = json.loads(run("params", path, "--json").output)
    flops = json.loads(run("flops", path, "--seq-len", "64", "--json").output)
    acc = api.account(load_config(path), 1, 64)
    assert params["total"] == acc.total_params and params["buffers"]["total"] == acc.buffers.value
    assert flops["forward"]["total"] == acc.forward_flops
    assert ("active_per_token" in params) == (acc.config.ffn == "moe")
    text = run("formula", path, "params", "--numbers")
    assert text.exit_code == 0 and f"{acc.total_params:,}" in text.output
    sweep = run("sweep", path, "--vary", "vocab_size=1000,2000", "--vary", "d_ff=64,128",
                "--quantities", "params,forward_flops")
    assert sweep.exit_code == 0, sweep.output
    row = sweep.output.strip().splitlines()[-1].split(",")
    assert int(row[2]) == api.account(load_config(path, {"vocab_size": 2000, "d_ff": 128})).total_params


def test_table_of_new_types():
    paths = [str(HF_DATA / f"{n}.json") for n in ("DeepSeek-V3", "gpt-oss-20b", "gemma-2-9b")]
    result = run("table", *paths, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "671026404352" in result.output and "20914757184" in result.output


@pytest.mark.parametrize("name", ["DeepSeek-V3", "gemma-2-2b", "phi-2"])
def test_sheet_of_new_types_compiles(name, tmp_path):
    result = run("sheet", str(HF_DATA / f"{name}.json"), "--format", "tex", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    import subprocess

    tex = next(tmp_path.glob("*.tex"))
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_sheets_of_every_real_config_check_clean():
    from derive.check.checker import check_text

    for path in sorted(HF_DATA.glob("*.json")):
        cfgs = api.load_configs([str(path)])
        for fmt in ("md", "tex"):  # every claim explained, in both formats check reads
            text = api.render_sheet(api.default_sheet_for(cfgs), cfgs, fmt=fmt)
            report = check_text(text, f"sheet.{fmt}", None)
            bad = [(c.number, c.verdict, c.claim) for c in report.lines if c.verdict != "ok"]
            assert bad == [] and report.exit_code == 0, (path.name, fmt, bad)
            assert report.config.arch == cfgs[0].arch  # the listed options give back the same architecture


@pytest.mark.parametrize("name", ONE_PER_TYPE)
def test_verify_builds_each_type_from_derives_config(name):
    path = HF_DATA / f"{name}.json"
    layers = () if "layer_types" in json.loads(path.read_text()) else ("--set", "num_hidden_layers=4")
    result = run("verify", str(path), "--seq-len", "16", *layers)
    assert result.exit_code == 0, result.output
    assert result.output.count(" ok") == 2 and "all figures match" in result.output


def test_verify_falcon_with_one_norm_and_grouped_kv_heads(tmp_path):
    """Falcon2-11B's layout: new_decoder_architecture with num_ln_in_parallel_attn 1 (one norm, 8 kv heads)."""
    data = {"model_type": "falcon", "vocab_size": 64, "hidden_size": 32, "num_attention_heads": 8,
            "num_kv_heads": 2, "num_hidden_layers": 2, "new_decoder_architecture": True,
            "num_ln_in_parallel_attn": 1, "parallel_attn": True, "max_position_embeddings": 64}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    cfg = load_config(str(path))
    assert (cfg.block_norms, cfg.residual, cfg.kv_heads) == ("shared", "parallel", 2)
    result = run("verify", str(path), "--seq-len", "8")
    assert result.exit_code == 0 and "all figures match" in result.output, result.output
    from derive.verify.hf_models import hf_model_spec

    # the same architecture from a YAML file (no model type) finds Falcon as the one type that builds it
    assert hf_model_spec(cfg.replace(hf_model_type=""))[0] == "falcon"
