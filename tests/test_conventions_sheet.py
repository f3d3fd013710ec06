"""The conventions sheet at the rendering standard of issue 14: the sources' notation typeset as math in LaTeX and
MathML (expected forms written out by hand here), any text safe (compiled, parsed), the same caveats in md, tex
and html, a compiled PDF with no caret and no raw symbol name, `derive check` on the Markdown sheet, html in
`--format all`. (The sheet in Chromium, hostile names and the fragment in a plain article: test_html_sheet,
test_hostile_names, test_conventions_cli.)"""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser

import pytest
import sympy
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from derive import api
from derive.accounting.conventions.facts import PARAM_COUNTS
from derive.accounting.conventions.registry import CONVENTIONS, SCOPES
from derive.check.checker import check_text
from derive.cli import main
from derive.model.symbols import SYMBOL_DEFS
from derive.render.escape import escape_md
from derive.render.latex import macro_definitions
from derive.render.mathtext import prose_tex as mathtext_prose_tex
from derive.render.notation import formula_node, split
from derive.render.sheets.common import sheet_text
from derive.render.sheets.conventions import SHEET_CONVENTIONS
from derive.render.typeset import Citation, Formula, Text, formula_tex, prose_html, prose_tex
from tex_helpers import compile_tex, tool

FORMULAS = [  # a whole "as written" field, and its LaTeX written by hand
    ("72 B s L h^2 (1 + s/(6h) + V/(12 h L))", r"72\,B\,s\,L\,h^{2}\,(1 + s / (6h) + V / (12\,h\,L))"),
    ("2N + 2 n_layer n_ctx d_attn", r"2N + 2\,n_{\mathrm{layer}}\,n_{\mathrm{ctx}}\,d_{\mathrm{attn}}"),
    ("6N + 12 L H Q T", r"6N + 12\,L\,H\,Q\,T"),
    ("3 (embeddings + num_layers (attention + dense_block) + logits)",
     r"3\,(\text{embeddings} + \nlayers\,(\text{attention} + \text{dense\_block}) + \text{logits})"),
    ("KQV projections + final linear", r"\text{KQV projections} + \text{final linear}"),
    ("3 num_heads seq_len^2", r"3\,\nheads\,\seqlen^{2}"),
    ("3 L (2 B S d (H + 2 H_kv) Q + 2 B S d H Q)",
     r"3\,L\,(2\,B\,S\,d\,(H + 2\,H_{\mathrm{kv}})\,Q + 2\,B\,S\,d\,H\,Q)"),
]

PROSE = [  # prose in the sources' notation: (text, citation, its pieces as (source, kind))
    ("PaLM (Chowdhery et al. 2022), 6N + 12LHQT", False,
     [("PaLM (Chowdhery et al. 2022), ", "text"), ("6N + 12LHQT", "math")]),
    ("Megatron (Korthikanti et al. 2022), 72Bslh^2", False,
     [("Megatron (Korthikanti et al. 2022), ", "text"), ("72Bslh^2", "math")]),
    ("Kaplan et al. 2020, C_forward", False, [("Kaplan et al. 2020, ", "text"), ("C_forward", "math")]),
    ("model FLOPs of a GPT (h = d_model, MLP 4h, full attention)", False,
     [("model FLOPs of a GPT (", "text"), ("h = d_model", "math"), (", MLP ", "text"), ("4h", "math"),
      (", full attention)", "text")]),
    ("MLP h -> 4h -> h", False, [("MLP ", "text"), ("h -> 4h -> h", "math")]),
    ("the forward pass (2N) and twice in the backward (4N)", False,
     [("the forward pass ", "text"), ("(2N)", "math"), (" and twice in the backward ", "text"), ("(4N)", "math")]),
    ("PaLM's formula, N = get_num_params() (position table subtracted)", False,
     [("PaLM's formula, ", "text"), ("N = get_num_params()", "math"), (" (position table subtracted)", "text")]),
    ("key/value at num_kv_heads, a 7B model and a 2 x forward", False,
     [("key/value at ", "text"), ("num_kv_heads", "math"), (", a 7B model and a 2 x forward", "text")]),
    ("karpathy/nanoGPT model.py, GPT.estimate_mfu (commit 3adf61e); nb.ipynb (commit 3341b4c) as palm_flops", True,
     [("karpathy/nanoGPT", "code"), (" ", "text"), ("model.py", "code"), (", ", "text"),
      ("GPT.estimate_mfu", "code"), (" (commit 3adf61e); ", "text"), ("nb.ipynb", "code"),
      (" (commit 3341b4c) as ", "text"), ("palm_flops", "code")]),
    ("head_dims = 2 * (dim // n_heads) in llama3/model.py; N without nn.Embedding tables", True,
     [("head_dims = 2 * (dim // n_heads)", "code"), (" in ", "text"), ("llama3/model.py", "code"),
      ("; N without ", "text"), ("nn.Embedding", "code"), (" tables", "text")]),
    ("minus the position table (nanoGPT `get_num_params(non_embedding=True)`)", False,
     [("minus the position table (nanoGPT ", "text"), ("`get_num_params(non_embedding=True)`", "code"),
      (")", "text")]),
]


@pytest.mark.parametrize("text, tex", FORMULAS)
def test_as_written_forms_are_typeset(text, tex):
    assert formula_tex(text) == tex
    assert Formula(text).tex == tex and str(Formula(text)) == text  # Markdown prints the source as it is


@pytest.mark.parametrize("text, citation, pieces", PROSE)
def test_formulas_and_code_in_the_conventions_prose(text, citation, pieces):
    assert [(source, kind) for source, kind, _ in split(text, citation)] == pieces


def test_prose_latex_by_hand():
    assert prose_tex("Megatron (Korthikanti et al. 2022), 72Bslh^2") == \
        r"Megatron (Korthikanti et al.\ 2022), $72Bslh^{2}$"
    assert prose_tex("PaLM's MFU 'without self-attention' (C approx. 6N)") == \
        r"PaLM's MFU `without self-attention' (C approx.\ $6N$)"
    assert prose_tex("two d_model x ffw_size matrices") == r"two $\dmodel \times \texttt{ffw\_\allowbreak{}size}$ matrices"
    assert prose_html("MLP 4h") == "MLP <math><mrow><mn>4</mn><mi>h</mi></mrow></math>"


def test_every_formula_of_the_registry_reads_as_one():
    """A convention added with a formula the reader cannot read fails here, not as typewriter text in a paper."""
    for c in CONVENTIONS.values():
        assert formula_node(c.as_written) is not None, c.key
        for t in c.terms:
            assert not t.written or formula_node(t.written) is not None, (c.key, t.written)


MATHML = {"math", "mrow", "mi", "mn", "mo", "msub", "msup", "mtext", "code"}
TOKENS = [*"abxNTdLhQ_^*@=+-/()<>{}$%&#~`\\ \n.,'0123456789", "d_model", "num_kv_heads", "6N", "12LHQT",
          "n_layer", "nn.Embedding", "a/b.py", " x ", "//", "()", "'s", "embeddings"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.depth += 1

    def handle_endtag(self, tag):
        self.depth -= 1


@settings(max_examples=10, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=12).map("".join), min_size=20, max_size=20))
def test_any_text_is_safe(tmp_path_factory, texts):
    """Whatever the text, in prose, citations or as a formula: LaTeX compiles (nothing escapes text or math mode,
    no command runs) and HTML is only MathML and code."""
    lines = []
    for i, text in enumerate(texts):
        for html in (Text(text).html, Citation(text).html, Formula(text).html):
            parser = _Tags()
            parser.feed(html)
            assert parser.tags <= MATHML and parser.depth == 0, text
        lines.append(f"{i}: {Text(text).tex} / {Citation(text).tex} / ${Formula(text).tex}$")
    macros = macro_definitions().replace(r"\providecommand{\dnum}", r"\providecommand{\unused}")
    compile_tex(f"\\documentclass{{article}}\\usepackage{{amsmath}}{macros}\\begin{{document}}\n"
                + "\n\n".join(lines) + "\n\\end{document}\n", tmp_path_factory.mktemp("any"), "any", fit=False)


def test_hostile_text_stays_inert(tmp_path):
    text = "\\input{/etc/passwd} $x$ </math><script>alert(1)</script> `\\relax` 6N"
    tex = "\n\n".join([Text(text).tex, Citation(text).tex, f"${Formula(text).tex}$"])
    assert "<script" not in Text(text).html + Citation(text).html + Formula(text).html
    pdf, log = compile_tex(f"\\documentclass{{article}}\\usepackage{{amsmath}}\\begin{{document}}\n{tex}\n"
                           "\\end{document}\n", tmp_path, "hostile", fit=False)
    assert "(/etc/passwd" not in log
    assert "root:" not in subprocess.run([tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True,
                                          check=True).stdout


# --- the sheet ------------------------------------------------------------------------------------------------
CONFIGS = ["gpt3-175b", "mixtral-8x7b"]


@pytest.fixture(scope="module")
def sheets():
    loaded = api.load_configs(CONFIGS)
    return {fmt: api.render_sheet("conventions", loaded, fmt=fmt) for fmt in ("md", "tex", "html")}


def _caveats() -> list[tuple[str, type, str]]:
    """Every piece of text the sheet prints about the conventions, written once: the sheet's prose
    (templates/data/sheets.yaml), the registry's text (sources, what each counts, notes, N), its formulas; with
    how Markdown shows it: escaped in prose, as it is in a code span or in the text block of a convention."""
    out = [(v, Text, "prose") for v in sheet_text("conventions").values()]
    for c in CONVENTIONS.values():
        out += [(c.title, Text, "prose"), (c.source, Citation, "prose"), (c.counts, Text, "prose"),
                (c.attention, Text, "prose"), (c.utilization, Text, "prose"), (c.as_written, Formula, "`{}`"),
                (SCOPES[c.scope], Text, "({}):")]
        out += [(n, Text, "prose") for n in c.notes]
        out += [(t.label, Text, "prose") for t in c.terms]
        out += [(t.written, Formula, "`{}`") for t in c.terms if t.written]
        if c.params:
            out.append((PARAM_COUNTS[c.params], Text, "\nN: {} = "))
    return out


def test_md_tex_and_html_carry_the_same_text(sheets):
    caveats = _caveats()
    assert len(caveats) > 80
    for text, kind, md in caveats:
        for line in text.split("\n"):
            assert (escape_md(line) if md == "prose" else md.format(line)) in sheets["md"], line
            assert kind(line).tex in sheets["tex"], line
            assert kind(line).html in sheets["html"], line
    for line in SHEET_CONVENTIONS:  # derive's own conventions: the hand-derivation notation, as on every sheet
        assert escape_md(line) in sheets["md"] and mathtext_prose_tex(line) in sheets["tex"]


def test_markdown_sheet_prints_its_blocks_unescaped(sheets):
    md = sheets["md"]
    assert "\\`" not in md and "\\n" not in md and "\\-" not in md
    assert "\n- 1 multiply-accumulate = 2 FLOPs" in md
    assert "\n```text\nvocab_size : 51,200\ncontext_length : 2,048\nnum_layers : 96\n" in md


def test_pdf_has_no_caret_and_no_raw_symbol_name(sheets, tmp_path):
    pdf, _ = compile_tex(sheets["tex"], tmp_path, "conventions")  # fits: no overfull box
    text = subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "^" not in text and "\u02c6" not in text  # ˆ is how OT1 shows \^{}
    assert "\\n" not in text and "textbackslash" not in text
    flat = re.sub(r"\s+", " ", text)  # a config key in typewriter reads `num kv heads`: printed on purpose
    for d in SYMBOL_DEFS:  # a symbol sympy typesets raw reads `numkvheads`, `nexperts`: each has its macro
        raw = re.sub(r"\\[A-Za-z]+|[{}_\s]", "", sympy.latex(sympy.Symbol(d.name)))
        if raw != re.sub(r"\\[A-Za-z]+|[{}_\s]", "", d.latex):
            assert raw not in flat, d.name
    assert "72Bslh2" in flat and "6N + 12LHQT" in flat  # the titles' formulas, typeset


@pytest.mark.parametrize("spec", ["gpt3-175b", "mixtral-8x7b", "gpt2-small-hf"])
@pytest.mark.parametrize("with_config", [True, False], ids=["config", "listing"])
def test_derive_check_finds_no_mistake_in_the_markdown_sheet(spec, with_config):
    cfg = api.load_config(spec)
    report = check_text(api.render_sheet("conventions", [cfg], fmt="md"), "sheet.md", cfg if with_config else None)
    assert [(c.number, c.verdict, c.claim) for c in report.lines if c.verdict in ("wrong", "arithmetic error")] == []
    assert report.exit_code == 0 and len(report.lines) > 20
    if not with_config:  # the listing gives back the model's sizes
        assert report.config.values() == cfg.values()


def test_sheet_writes_md_tex_and_html(tmp_path):
    result = CliRunner().invoke(main, ["sheet", "gpt3-175b", "--sheet", "conventions", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "conventions-gpt3-175b.html", "conventions-gpt3-175b.md", "conventions-gpt3-175b.tex"]
