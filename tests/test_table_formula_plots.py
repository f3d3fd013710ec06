"""derive table / formula / plot: numbers against hand formulas, layout against golden files, LaTeX compiled."""

from __future__ import annotations

import csv
import io
import sys
from xml.etree import ElementTree
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from derive import api
from derive.cli import main
from derive.accounting.series import crossover
from tex_helpers import compile_fragment, compile_tex

DATA = Path(__file__).parent / "data"
GPT2 = {  # name: (V, T, L, d, h, d_ff), written out by hand from the GPT-2 papers' shapes
    "gpt2-small": (50257, 1024, 12, 768, 12, 3072),
    "gpt2-medium": (50257, 1024, 24, 1024, 16, 4096),
    "gpt2-large": (50257, 1024, 36, 1280, 20, 5120),
    "gpt2-xl": (50257, 1024, 48, 1600, 25, 6400),
}


def hand_params(V, T, L, d, h, dff):
    return 2 * V * d + L * (4 * d * d + 3 * d * dff + 2 * d) + d


def hand_forward(V, T, L, d, h, dff, S=None):
    S = T if S is None else S
    return L * (8 * S * d * d + 4 * S * S * d + 6 * S * d * dff) + 2 * S * d * V


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_csv_numbers_match_hand_formulas():
    result = run("table", *GPT2, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["model"] for r in rows] == list(GPT2)
    for r in rows:
        shape = GPT2[r["model"]]
        V, T, L, d, h, dff = shape
        P, F = hand_params(*shape), hand_forward(*shape)
        assert int(r["params"]) == P
        assert int(r["memory_fp32"]) == 4 * P and int(r["memory_bf16"]) == 2 * P
        assert int(r["forward_flops"]) == F
        assert int(r["forward_flops_per_token"]) * T == F
        attn = L * (8 * T * d * d + 4 * T * T * d)
        assert float(r["attention_share"]) == pytest.approx(attn / F, abs=1e-6)


def test_md_table_golden_and_numbers():
    result = run("table", *GPT2)
    assert result.exit_code == 0, result.output
    assert result.output == (DATA / "table-gpt2.md").read_text()
    xl = [ln for ln in result.output.splitlines() if ln.startswith("| gpt2-xl ")][0]
    assert f"{hand_params(*GPT2['gpt2-xl']):,}" in xl and f"{hand_forward(*GPT2['gpt2-xl']):,}" in xl


def test_tex_table_golden_and_compiles(tmp_path):
    frag = run("table", *GPT2, "--format", "tex", "--fragment")
    assert frag.exit_code == 0, frag.output
    assert frag.output == (DATA / "table-gpt2.tex").read_text()
    compile_fragment(frag.output, tmp_path)
    full = run("table", *GPT2, "--format", "tex", "--columns", "model,num_layers,d_model,params,ffn_share")
    compile_tex(full.output, tmp_path, "full")


def test_table_columns_and_bad_input(tmp_path):
    result = run("table", "gpt2-small", "--format", "csv", "--columns", "model,d_ff")
    assert result.output == "model,d_ff\ngpt2-small,3072\n"
    bad = run("table", "gpt2-small", "--columns", "model,nope")
    assert bad.exit_code == 2 and "--columns" in bad.output and "nope" in bad.output
    missing = run("table", str(tmp_path / "none.yaml"))
    assert missing.exit_code == 2 and "none.yaml" in missing.output


def test_formula_text_golden_and_value():
    result = run("formula", "gpt2-xl", "params", "--numbers")
    assert result.exit_code == 0, result.output
    assert result.output == (DATA / "formula-params.txt").read_text()
    assert result.output.rstrip().endswith(f"= {hand_params(*GPT2['gpt2-xl']):,}")


@pytest.mark.parametrize("quantity", ["params", "forward_flops", "memory_fp32", "attention_score_flops"])
def test_formula_tex_compiles(quantity, tmp_path):
    result = run("formula", "gpt2-xl", quantity, "--format", "tex", "--numbers")
    assert result.exit_code == 0, result.output
    compile_fragment(result.output, tmp_path)


def test_formula_forward_at_other_seq_len():
    result = run("formula", "gpt2-xl", "forward_flops", "--seq-len", "512")
    assert result.output.rstrip().endswith(f"= {hand_forward(*GPT2['gpt2-xl'], S=512):,}")
    assert run("formula", "gpt2-xl", "nope").exit_code == 2


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 100_000))
def test_crossover_is_one_and_a_half_d_ff(dff):
    cfg = api.load_config("gpt2-small", {"d_ff": dff})
    # hand: 4*B*S^2*d*L (scores) = 6*B*S*d*d_ff*L (FFN)  =>  S = 1.5 * d_ff
    assert crossover(cfg).value == Fraction(3 * dff, 2)


def test_crossover_gpt2_xl():
    assert crossover(api.load_config("gpt2-xl")).value == Fraction(3 * 6400, 2) == 9600


# Crossover of the attention scores (4 S^2 (num_heads * head_dim) per block, full square) with the feed-forward,
# written by hand per architecture: MoE (k experts of 6 S d d_ff each; the router is not in the ffn group),
# a head_dim of its own (GPT-3 XL: 24 heads of 128 in d_model 2,048: 4 S d d_ff for its GELU MLP).
CROSSOVERS = {
    "mixtral-8x7b": Fraction(6 * 2 * 14336 * 4096, 4 * 32 * 128),  # 43,008
    "gpt3-xl": Fraction(4 * 2048 * 8192, 4 * 24 * 128),  # 16,384 / 3
}


@pytest.mark.parametrize("name", sorted(CROSSOVERS))
def test_crossover_of_configs_with_more_symbols_than_the_six_sizes(name, tmp_path):
    """The context chart of a config whose closed form needs experts_per_token or head_dim (it raised a TypeError
    from sympy, exit 1, before the crossover substituted every symbol of the config)."""
    assert crossover(api.load_config(name)).value == CROSSOVERS[name]
    out = tmp_path / "c.svg"
    result = run("plot", name, "--kind", "context", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("spec", sorted(p.name for p in (DATA / "hf").glob("*.json")))
def test_context_chart_of_every_real_config(spec, tmp_path):
    result = run("plot", str(DATA / "hf" / spec), "--kind", "context", "--out", str(tmp_path / "c.svg"))
    assert result.exit_code == 0, result.output


def test_plot_cli_writes_svg_and_tex(tmp_path):
    svg = tmp_path / "s.svg"
    assert run("plot", "--kind", "shares", "--out", str(svg)).exit_code == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "gpt2-medium" in svg.read_text()
    tex = tmp_path / "c.tex"
    assert run("plot", "gpt2-xl", "--kind", "context", "--out", str(tex)).exit_code == 0
    compile_fragment(tex.read_text(), tmp_path)
    bad = run("plot", "--out", str(tmp_path / "x.gif"))
    assert bad.exit_code == 2 and "--out" in bad.output


def test_markdown_sheet_links_svgs_drawn_without_matplotlib(tmp_path, monkeypatch):
    # Issue 14 changed this test: the charts are drawn from a template on every install, so a sheet rendered
    # with matplotlib unimportable links both SVGs and writes them (it used to say "Plot skipped").
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    paths = api.write_sheets(formats=("md",), out_dir=tmp_path)
    md = (tmp_path / "transformer-accounting.md").read_text()
    assert "](transformer-accounting-shares.svg)" in md and "](transformer-accounting-context.svg)" in md
    assert "Plot skipped" not in md and len(paths) == 3
    assert "seq_len* = 3 * d_ff / 2 = 9,600" in md
    for kind in ("shares", "context"):
        svg = (tmp_path / f"transformer-accounting-{kind}.svg").read_text()
        root = ElementTree.fromstring(svg)  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    shares = (tmp_path / "transformer-accounting-shares.svg").read_text()
    assert all(name in shares for name in GPT2)


def test_rows_at_different_lengths_say_their_length():
    """gpt2-xl counts 1,024 tokens, llama-2-7b 4,096: per-sequence FLOPs and shares are comparable only with the
    length beside them, so the default columns add context_length; rows of one length keep the default columns."""
    rows = list(csv.DictReader(io.StringIO(run("table", "gpt2-xl", "llama-2-7b", "--format", "csv").output)))
    assert [r["context_length"] for r in rows] == ["1024", "4096"]
    v, t, L, d, h, dff = GPT2["gpt2-xl"]
    assert int(rows[0]["forward_flops"]) == 2 * t * v * d + L * (8 * t * d * d + 4 * t * t * d + 6 * t * d * dff)
    same = run("table", "gpt2-small", "gpt2-xl", "--format", "csv").output.splitlines()[0]
    assert "context_length" not in same
    assert "context_length" not in run("table", "gpt2-xl", "llama-2-7b", "--columns", "model,params").output
