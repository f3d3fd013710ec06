"""Closed forms as a reader writes them: a Piecewise as cases and Min/Max as min/max in the text and MathML
printers (never sympy's Python spelling `Piecewise((1, Eq(...)), ...)` or `Min(...)`), and training-at-scale
formulas whose terms are grouped by the parallel degrees that divide them (no degree over every term when it
divides only one)."""

from __future__ import annotations

import re
from pathlib import Path

import sympy
from click.testing import CliRunner

from derive import api
from derive.cli import main
from derive.render.formatting import expr_text
from derive.render.mathml import expr_mathml

B, H, TP, E, K, N = sympy.symbols("batch_size num_heads tp n_experts experts_per_token prompt_len", positive=True)
CASES = sympy.Piecewise((1, sympy.Eq(B, 1)), (H / TP, True))
RAW = re.compile(r"Piecewise|Eq\(|Min\(|Max\(|piecewise|True")
HF = Path(__file__).parent / "data" / "hf"
LLAMA_70B = {"d_model": 8192, "d_ff": 28672, "num_layers": 80, "num_heads": 64, "num_kv_heads": 8,
             "context_length": 8192}


def test_text_printer_writes_cases_and_extrema():
    assert expr_text(CASES) == "{1 if batch_size = 1; num_heads / tp otherwise}"
    assert expr_text(2 * B * CASES) == "2 * batch_size * {1 if batch_size = 1; num_heads / tp otherwise}"
    assert expr_text(sympy.Min(E, B * K * N)) == "min(n_experts, batch_size * experts_per_token * prompt_len)"
    assert expr_text(sympy.Max(E, 2)) == "max(2, n_experts)"


def test_mathml_printer_writes_cases_and_extrema():
    cases = expr_mathml(CASES)
    assert not RAW.search(cases)
    assert cases.startswith("<mrow><mo>{</mo><mtable") and cases.count("<mtr>") == 2
    assert "<mtext>otherwise</mtext>" in cases and "<mtext>if&#160;</mtext>" in cases
    assert "<mo>min</mo>" in expr_mathml(sympy.Min(E, B * K * N))


def test_training_at_scale_outputs_print_no_sympy(tmp_path):
    """The new user's repro: Llama-3.1-70B at micro-batch 1 with tp = num_kv_heads (a single key/value head per
    device: the Piecewise) in text, md, tex and html."""
    sets = [a for k, v in LLAMA_70B.items() for a in ("--set", f"{k}={v}")]
    result = CliRunner().invoke(main, ["train", str(HF / "Llama-3.1-8B.json"), *sets, "--precision", "bf16-mixed",
                                       "--zero", "1", "--dp", "64", "--tp", "8", "--sp", "--pp", "4", "--recompute",
                                       "selective", "--batch", "1024", "--sheet", "all", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "{1 if batch_size = 1; num_heads / tp otherwise}" in result.output
    assert not RAW.search(result.output)
    for path in tmp_path.iterdir():
        if path.suffix in (".md", ".tex", ".html"):
            assert not RAW.search(path.read_text()), path.name


def test_inference_sheet_prints_min(tmp_path):
    result = CliRunner().invoke(main, ["infer", str(HF / "DeepSeek-V3.json"), "--sheet", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    md = next(tmp_path.glob("*.md")).read_text()
    assert "min(n_experts, batch_size * experts_per_token * prompt_len)" in md
    for path in tmp_path.iterdir():
        assert not re.search(r"Min\(|Max\(", path.read_text()), path.name


def test_a_degree_divides_only_the_terms_it_divides():
    """Mixtral over ep 4 x etp 2, tp 2: only the experts' group offsets (n_experts / ep int32 per device) are over
    ep; the formula is still the same expression."""
    t = api.train_account(api.load_config("mixtral-8x7b"), batch_size=64, conventions=api.training_conventions(
        activations=""), setup=api.training_setup(
        precision="bf16-mixed", dp=8, zero=1, ep=4, tp=2, etp=2, micro_batch=1))
    report = api.training_report(t)
    formula = report["memory"]["activations_per_layer_formula"]
    assert len(re.findall(r"\bep\b", formula)) == 1 and "4 * n_experts / ep" in formula, formula
    step = t.scale.per_layer()["block"]
    assert sympy.simplify(sympy.sympify(formula.replace("^", "**"), locals={
        s.name: s for s in step.expr.free_symbols}) - step.expr) == 0
