"""The LaTeX sheets compile with a real TeX engine. CI installs TeX; a missing pdflatex is a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from derive import api
from tex_helpers import compile_fragment, compile_tex


SHEETS = [
    ("transformer-accounting", []),
    ("model-accounting", ["mixtral-8x7b"]),
    ("model-accounting", ["gpt2-small-hf", "llama-2-7b"]),
    ("adamw-accounting", []),
]
# MLA + MoE with dense first layers: closed forms of many worded symbols, (L - L_dense) (...) terms. Standalone
# only: their fragments in a plain article's narrower text still overflow (table cells of long formulas).
WIDE = [("model-accounting", [str(Path(__file__).parent / "data" / "hf" / name)])
        for name in ("DeepSeek-V3.json", "gpt-oss-20b.json")]


@pytest.mark.parametrize("sheet, configs", SHEETS + WIDE)
def test_every_sheet_compiles_and_fits_the_page(sheet, configs, tmp_path):
    compile_tex(api.render_sheet(sheet, api.load_configs(configs), fmt="tex"), tmp_path)


def test_sheet_with_awkward_names_compiles(tmp_path):
    cfg = api.load_config("gpt2-small").replace(name="my_model #1 & 50% {test} ~x^2 \\o/",
                                                 description="a $pecial <one>")
    compile_tex(api.render_sheet(configs=[cfg], fmt="tex"), tmp_path)


def test_crossover_outside_the_plotted_range_compiles(tmp_path):
    # d_ff = 64 puts the attention/FFN crossover (1.5 d_ff = 96) below the charts' first context length.
    cfg = api.load_config("gpt2-xl", {"d_ff": 64})
    compile_tex(api.render_sheet(configs=[cfg], fmt="tex"), tmp_path)


@pytest.mark.parametrize("sheet, configs", SHEETS)
def test_every_sheet_has_a_fragment_form(sheet, configs, tmp_path):
    fragment = api.render_sheet(sheet, api.load_configs(configs), fmt="tex", fragment=True)
    compile_fragment(fragment, tmp_path)


@pytest.mark.parametrize("sheet, configs", [
    ("transformer-accounting", []),
    ("model-accounting", ["llama-2-7b"]),
    ("adamw-accounting", []),
])
def test_markup_is_not_escaped_twice(sheet, configs):
    # Macro output and sympy's LaTeX are markup; only data strings are escaped. A doubly escaped sheet
    # still compiles, but prints its own source.
    text = api.render_sheet(sheet, api.load_configs(configs), fmt="tex")
    assert r"\textbackslash{}" not in text
    assert r"\begin{tabular" in text and r"\toprule" in text


def test_a_long_term_with_two_sums_opens_the_longer_and_keeps_the_other_in_parentheses():
    """(L - L_dense) (a + b + ...) too wide for a line: the long sum is broken across lines and the short one stays
    a parenthesised factor (printed bare it would read - L_dense + L (...), another formula)."""
    import sympy

    from derive.render.latex import equation

    from derive.model import symbols as sy

    xs = sympy.symbols("a0:30")
    tex = equation("P", (sy.SYMBOLS["num_layers"] - sy.SYMBOLS["num_dense_layers"]) * sympy.Add(*xs))
    assert "multline" in tex and r"\Bigl(" in tex
    assert tex[tex.index("P = "):tex.index(r"\Bigl(")] == r"P = (- \symNumDenseLayers + \nlayers) "
