"""LaTeX that goes into a paper unchanged (issue 14 item 1).

Every fragment derive makes is \\input into a plain `\\documentclass{article}` (345 pt text width) and must
compile without an overfull box; every compiled sheet shows no caret and no raw symbol name (read back with
pdftotext); every symbol has a macro and is listed; the LaTeX sheets carry the Markdown sheets' caveats.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import sympy

from derive import api
from derive.accounting.quantities import QUANTITIES
from derive.model.symbols import SYMBOL_DEFS, SymbolDef
from derive.render import latex
from derive.render.charts import plot_data, plot_tex
from derive.render.mathtext import prose_tex
from derive.render.sheets.common import sheet_text
from derive.render.tables import COLUMNS
from tex_helpers import compile_fragment, compile_tex, tool

SHEETS = [("transformer-accounting", []), ("model-accounting", ["mixtral-8x7b"]),
          ("model-accounting", ["gpt2-small-hf", "llama-2-7b"]), ("adamw-accounting", [])]


@pytest.mark.parametrize("sheet, configs", SHEETS)
def test_sheet_fragment_fits_a_plain_article(sheet, configs, tmp_path):
    compile_fragment(api.render_sheet(sheet, api.load_configs(configs), fmt="tex", fragment=True), tmp_path)


def test_table_formula_and_plot_fragments_fit_a_plain_article(tmp_path):
    gpt2 = [api.account(c) for c in api.load_configs(["gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl"])]
    hf = [api.account(c) for c in api.load_configs(["llama-2-7b", "mixtral-8x7b", "mistral-7b", "gpt2-xl-hf"])]
    parts = [api.render_table(gpt2[:2], "tex", None, True), api.render_table(gpt2, "tex", None, True),
             api.render_table(gpt2 + hf, "tex", ",".join(COLUMNS), True), api.render_table(hf, "tex", None, True)]
    for acc in (gpt2[-1], hf[1]):
        parts += [api.render_formula(acc, q, "tex", True) for q in QUANTITIES]
    parts += [plot_tex("shares", plot_data("shares", [], {})), plot_tex("context", plot_data("context", [], {}))]
    # fragments repeat their \providecommand header, which is harmless: one document holds them all
    compile_fragment("\n\\par\n".join(parts), tmp_path)


def test_wide_tables_are_split_not_squeezed():
    accs = [api.account(c) for c in api.load_configs(["gpt2-small", "llama-2-7b"])]
    tex = api.render_table(accs, "tex", ",".join(COLUMNS), True)
    tables = tex.count(r"\begin{tabular}{@{}l")
    assert tables >= 2  # 14 columns cannot share one 345 pt row
    assert tex.count("llama-2-7b") == tables  # the model column is repeated in each


# --- compiled sheets read back --------------------------------------------------------------------------------
def _leaks() -> set[str]:
    """How each symbol name reads in a PDF when sympy typesets it raw (no macro): `num_{kv heads}` reads
    `numkvheads`, `n_{experts}` reads `nexperts`. (A config key in typewriter, `num\\_kv\\_heads`, reads
    `num kv heads`, with spaces: printed on purpose in the symbol and configuration tables.)"""
    def reads(tex: str) -> str:  # math mode prints no spaces
        return re.sub(r"\s+", "", re.sub(r"\\[A-Za-z]+|[{}_]", "", tex))

    out = set()
    for d in SYMBOL_DEFS:
        raw = reads(sympy.latex(sympy.Symbol(d.name)))
        if raw != reads(d.latex):
            out.add(raw)
    return out


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    found = {}
    for i, (sheet, configs) in enumerate(SHEETS):
        if sheet == "model-accounting" and i == 2:
            continue  # one model-accounting sheet (MoE, GQA) is enough here; test_latex compiles the other
        work = tmp_path_factory.mktemp(f"pdf{i}")
        tex = api.render_sheet(sheet, api.load_configs(configs), fmt="tex")
        pdf, _ = compile_tex(tex, work, "sheet")
        text = subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        found[sheet] = (tex, text)
    return found


@pytest.mark.parametrize("sheet", ["transformer-accounting", "model-accounting", "adamw-accounting"])
def test_pdf_has_no_caret_and_no_raw_symbol_name(compiled, sheet):
    tex, text = compiled[sheet]
    assert "^" not in text and "\u02c6" not in text  # ˆ is how OT1 shows \^{}
    flat = re.sub(r"\s+", " ", text)
    for leak in _leaks():
        assert leak not in flat, leak
    for d in SYMBOL_DEFS:  # and in the source: no symbol printed by sympy's default
        assert sympy.latex(sympy.Symbol(d.name)) not in tex or sympy.latex(sympy.Symbol(d.name)) == d.latex
    assert "False" not in text and "True" not in text  # options as words


def test_mixture_of_experts_symbols_have_macros(compiled):
    tex, _ = compiled["model-accounting"]
    for d in SYMBOL_DEFS:
        assert f"\\providecommand{{{latex.macro(d.name)}}}{{{d.latex}}}" in tex
    for name in ("num_kv_heads", "n_experts", "experts_per_token"):
        assert latex.macro(name) in tex.split(r"\begin{document}")[1]  # used, and listed in the symbol table
    assert "num_{" not in tex and "n_{experts}" not in tex and "experts_{" not in tex


def test_macro_names_are_kept_and_derived_for_every_symbol():
    legacy = {"vocab_size": r"\vocab", "context_length": r"\ctxlen", "num_layers": r"\nlayers",
              "d_model": r"\dmodel", "num_heads": r"\nheads", "d_ff": r"\dff", "batch_size": r"\batch",
              "seq_len": r"\seqlen", "d_k": r"\dhead"}
    assert {k: latex.macro(k) for k in legacy} == legacy
    assert latex.macro_name("num_kv_heads") == "symNumKvHeads"
    # a symbol another issue adds gets a macro by the rule, distinct from every other one
    names = ["kv_lora_rank", "qk_rope_head_dim", "head_dim", "w1", "dim", "num"]
    macros = [latex.macro_name(n) for n in names]
    assert len(set(macros)) == len(macros) and all(m.isalpha() and m.startswith("sym") for m in macros)
    assert all(latex.macro_name(d.name) for d in (*SYMBOL_DEFS, SymbolDef("x_y", "x", "test")))


@pytest.mark.parametrize("sheet, configs", [("transformer-accounting", []), ("model-accounting", ["mixtral-8x7b"]),
                                            ("adamw-accounting", [])])
def test_tex_sheet_carries_the_md_sheets_caveats(sheet, configs):
    """Every caveat the Markdown sheet prints (conventions, the sheet's prose, each model's d_ff source, the
    architecture) comes from one source and is in the LaTeX sheet too, typeset."""
    loaded = api.load_configs(configs)
    md = api.render_sheet(sheet, loaded, fmt="md")
    tex = api.render_sheet(sheet, loaded, fmt="tex")
    context = api.sheet_context(sheet, loaded)
    caveats = [str(c) for c in context["conventions"]] + list(sheet_text(sheet).values())
    for model in context.get("family", []):
        caveats.append(model["config"].d_ff_source)
    for model in context.get("models", []):
        caveats += [str(s) for s in model["architecture"]]
    assert len(caveats) > 5
    for caveat in caveats:
        for line in caveat.split("\n"):
            assert line in md, line
            assert prose_tex(line) in tex, line
