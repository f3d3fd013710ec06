"""`derive conventions` (text, JSON, MFU options, bad input) and the conventions sheet (Markdown, LaTeX)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tex_helpers import compile_fragment, compile_tex

from derive import api
from derive.cli import main

GPT3_STEP = 2_204_555_173_429_248  # 72 B s L h^2 (1 + s/6h + V/12hL) for GPT-3 175B, s = 2,048, B = 1, V = 51,200


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_json_has_every_convention_with_exact_integers():
    result = run("conventions", "gpt3-175b", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["exact"]["training"] == GPT3_STEP
    assert report["exact"]["forward"] * 3 == GPT3_STEP
    assert set(report["conventions"]) >= {"6n", "kaplan", "chinchilla", "palm", "megatron", "megatron-recompute",
                                          "nanogpt", "torchtitan", "maxtext"}
    for key, c in report["conventions"].items():
        assert {"flops", "formula", "difference", "source"} <= set(c), key
        assert isinstance(c["flops"], int) and isinstance(c["exact"], int)
        assert c["difference_flops"] == c["exact"] - c["flops"]
        assert sum(t["difference_flops"] for t in c["terms"]) * (c["exact"] // c["exact_per_unit"]) \
            == c["difference_flops"], key
    megatron = report["conventions"]["megatron"]
    assert megatron["flops"] == GPT3_STEP and megatron["difference_flops"] == 0
    assert megatron["difference"] == "12 * batch_size * d_model * num_layers * seq_len * (d_ff - 4 * d_model)"
    assert report["conventions"]["maxtext"]["difference"] == "6 * batch_size * d_model * num_layers * seq_len^2"


def test_text_table_and_mfu():
    result = run("conventions", "llama-2-7b", "--seq-len", "2048", "--batch", "4", "--tokens-per-second", "3000",
                 "--hardware", "a100-bf16", "--devices", "8")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "batch_size 4, seq_len 2,048 (8,192 tokens per step)" in out
    assert "3,000 tokens/s on 8 device(s)" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip() and not ln.startswith(" ")}
    assert lines["megatron-recompute"].rstrip().endswith("HFU")
    assert lines["kaplan"].rstrip().endswith("n/a (forward)")
    report = json.loads(run("conventions", "llama-2-7b", "--seq-len", "2048", "--batch", "4",
                            "--tokens-per-second", "3000", "--hardware", "a100-bf16", "--devices", "8",
                            "--json").output)
    palm = report["conventions"]["palm"]
    assert palm["mfu"] == pytest.approx(palm["flops"] * 3000 / 8192 / (8 * 312e12))
    assert f"{palm['mfu'] * 100:.1f}% MFU" in lines["palm"]


@pytest.mark.parametrize("args, key", [
    (["--tokens-per-second", "1000"], "--hardware"),
    (["--tokens-per-second", "fast", "--hardware", "a100-bf16"], "--tokens-per-second"),
    (["--tokens-per-second", "-5", "--peak-flops", "1e12"], "--tokens-per-second"),
    (["--tokens-per-second", "1e3", "--peak-flops", "0"], "--peak-flops"),
    (["--tokens-per-second", "1e3", "--hardware", "tpu-v9"], "--hardware"),
    (["--hardware", "a100-bf16"], "--tokens-per-second"),
    (["--tokens-per-second", "1e3", "--hardware", "a100-bf16", "--devices", "0"], "--devices"),
    (["--tokens-per-second", "1e3", "--hardware", "a100-bf16", "--peak-flops", "1e12"], "--peak-flops"),
    (["--seq-len", "4096"], "--seq-len"),
    (["--batch", "0"], "--batch"),
])
def test_bad_options_are_one_line_and_exit_2(args, key):
    result = run("conventions", "gpt2-small", *args)
    assert result.exit_code == 2
    assert key in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sheet_markdown_shows_every_convention(tmp_path):
    paths = api.write_sheets("conventions", api.load_configs(["gpt3-175b"]), formats=("md",), out_dir=tmp_path)
    text = paths[0].read_text()
    assert paths[0].name == "conventions-gpt3-175b.md"
    for key in ("6n", "kaplan", "chinchilla", "palm", "nanogpt", "megatron", "torchtitan", "maxtext"):
        assert f"#### {key}:" in text
    assert f"| megatron | `72 B s L h^2 (1 + s/(6h) + V/(12 h L))` | step | forward + backward | {GPT3_STEP:,} |" \
        in text


def test_sheet_default_is_gpt3():
    assert "## gpt3-175b" in api.render_sheet("conventions", fmt="md")


@pytest.mark.parametrize("configs", [["gpt3-175b", "mixtral-8x7b"], ["gpt2-small-hf"]])
def test_sheet_compiles(configs, tmp_path):
    loaded = api.load_configs(configs)
    compile_tex(api.render_sheet("conventions", loaded, fmt="tex"), tmp_path)
    frag = tmp_path / "frag"
    frag.mkdir()
    compile_fragment(api.render_sheet("conventions", loaded, fmt="tex", fragment=True), frag)


def test_sheet_with_awkward_name_compiles(tmp_path):
    cfg = api.load_config("gpt2-small").replace(name="my_model #1 & 50% {x} ~y^2", description="a $pecial <one>")
    tex = api.render_sheet("conventions", [cfg], fmt="tex")
    assert r"\textbackslash{}" not in tex
    compile_tex(tex, tmp_path)
