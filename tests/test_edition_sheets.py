"""The transformer- and adamw-accounting sheets of every handout edition, at both detail levels.

2025 stays byte for byte what derive printed before editions (golden files, md, tex and html); every edition's
sheets check clean with `derive check` and compile with pdflatex without an overfull box; the text follows the
configs it is given; `--detail brief` is a hand-in with each part's derivation and answer.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from derive import api
from derive.check.checker import check_text
from derive.cli import main
from tex_helpers import compile_tex

GOLDEN = Path(__file__).parent / "data" / "sheets"
SHEETS = ("transformer-accounting", "adamw-accounting")
EDITIONS = ("2024", "2025", "2026")
DETAILS = ("full", "brief")
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.,])\d+(?:\.\d+)?(?![\w,])")


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("fmt", ["md", "tex", "html"])
def test_2025_is_byte_identical_to_the_sheets_before_editions(sheet, fmt):
    """The goldens were rendered by derive before editions existed; the default and an explicit 2025 match."""
    golden = (GOLDEN / f"{sheet}.{fmt}").read_text(encoding="utf-8")
    assert api.render_sheet(sheet, fmt=fmt) == golden
    assert api.render_sheet(sheet, fmt=fmt, edition="2025", detail="full") == golden


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("detail", DETAILS)
def test_every_edition_checks_clean(sheet, edition, detail):
    """derive check on the Markdown sheet, reading the config from its listing and with --config: exit 0,
    nothing wrong, and nothing unexplained: every figure, training lines included, is one of derive's
    quantities."""
    text = api.render_sheet(sheet, fmt="md", edition=edition, detail=detail)
    ed = api.load_edition(edition)
    config = ed.config(ed.transformer.subject if sheet == "transformer-accounting" else ed.adamw.model)
    for given in (None, config):
        report = check_text(text, f"{sheet}.md", given)
        assert report.exit_code == 0
        assert [(c.number, c.verdict, c.claim) for c in report.lines if c.verdict != "ok"] == []
        assert len(report.lines) > 15
        if given is None:
            assert report.config.values() == config.values() and report.config.arch == config.arch


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("edition", ["2024", "2026"])
@pytest.mark.parametrize("detail", DETAILS)
def test_every_edition_compiles_in_latex(sheet, edition, detail, tmp_path):
    """2025 full is compiled by the existing sheet tests; here the other editions and both detail levels."""
    tex = api.render_sheet(sheet, fmt="tex", edition=edition, detail=detail)
    pdf, _ = compile_tex(tex, tmp_path)
    assert pdf.stat().st_size > 0


def test_2025_brief_compiles_in_latex(tmp_path):
    for sheet in SHEETS:
        pdf, _ = compile_tex(api.render_sheet(sheet, fmt="tex", detail="brief"), tmp_path, sheet)
        assert pdf.stat().st_size > 0


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.skip, self.parts, self.open = 0, [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("svg", "style", "title"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("svg", "style", "title"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("detail", DETAILS)
def test_every_number_of_the_html_sheet_is_in_the_markdown_sheet(sheet, edition, detail):
    html = api.render_sheet(sheet, fmt="html", edition=edition, detail=detail)
    md = api.render_sheet(sheet, fmt="md", edition=edition, detail=detail)
    parser = _Text()
    parser.feed(html)
    page = set(NUMBER.findall(" ".join(parser.parts)))
    assert len(page) > 30 and page - set(NUMBER.findall(md)) == set()


def _words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("edition", EDITIONS)
def test_brief_is_a_hand_in(edition):
    full = api.render_sheet(fmt="md", edition=edition)
    brief = api.render_sheet(fmt="md", edition=edition, detail="brief")
    assert _words(brief) < 0.65 * _words(full)
    # every part is answered, with its derivation; the repeated listings are gone
    ed = api.load_edition(edition)
    for part in ed.transformer.parts:
        assert f"## ({part.label})" in brief
    assert brief.count("**Answer.**") == full.count("**Answer.**") == 5
    assert "| matmul | what it computes |" in full and "| matmul | what it computes |" not in brief
    assert "total_parameters:" in brief and "total_forward_flops:" in brief
    assert "memory_bf16" not in brief and ".svg)" not in brief
    # a matmul line keeps its numbers, not the symbolic shapes printed once in the closed form
    assert re.search(r"q_proj: \(1, 1024, \d+\) @ \(\d+, \d+\) = 2 \* ", brief)
    adamw_full = api.render_sheet("adamw-accounting", fmt="md", edition=edition)
    adamw_brief = api.render_sheet("adamw-accounting", fmt="md", edition=edition, detail="brief")
    assert _words(adamw_brief) < 0.65 * _words(adamw_full) and adamw_brief.count("**Answer.**") == 4


def test_brief_writes_no_charts_and_its_own_file(tmp_path):
    result = CliRunner().invoke(main, ["sheet", "--edition", "2026", "--detail", "brief", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["transformer-accounting-edition-2026-brief.html", "transformer-accounting-edition-2026-brief.md",
                     "transformer-accounting-edition-2026-brief.tex"]
    result = CliRunner().invoke(main, ["sheet", "--out", str(tmp_path), "--format", "md"])
    assert "transformer-accounting.md" in result.output and "replaced" not in result.output


def test_part_d_heading_names_the_configs_given(tmp_path):
    paths = []
    for name, d, h in (("alpha", 256, 4), ("beta", 512, 8)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "vocab_size": 1000, "context_length": 512, "num_layers": 4,
                                        "d_model": d, "num_heads": h, "d_ff": 4 * d}))
        paths.append(str(path))
    text = api.render_sheet(configs=api.load_configs(paths), fmt="md")
    assert "## (d) alpha and beta" in text and "GPT-2 small" not in text
    assert "## (d) GPT-2 small, medium, large and XL" in api.render_sheet(fmt="md")


def _custom(tmp_path: Path, rows) -> list:
    out = []
    for name, ctx, L, d, h in rows:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "vocab_size": 1000, "context_length": ctx, "num_layers": L,
                                        "d_model": d, "num_heads": h, "d_ff": 4 * d}))
        out.append(str(path))
    return api.load_configs(out)


def _score_share(V, ctx, L, d, dff):
    scores = 4 * L * ctx * ctx * d
    return scores / (L * (8 * ctx * d * d + 4 * ctx * ctx * d + 6 * ctx * d * dff) + 2 * ctx * d * V)


def test_scaling_sentence_follows_the_rows(tmp_path):
    """'At a fixed context length the larger the model, the smaller the score share' is printed only when the
    rows share one context length and their score share does fall; otherwise the sheet says what holds."""
    standard = "at a fixed context length the larger the model, the smaller the score share"
    assert standard in api.render_sheet(fmt="md").replace("\n", " ")
    # a larger model at a 16x longer context: its score share is larger (computed by hand)
    mixed = _custom(tmp_path, [("short", 256, 2, 256, 4), ("long", 4096, 4, 512, 8)])
    assert _score_share(1000, 4096, 4, 512, 2048) > _score_share(1000, 256, 2, 256, 1024)
    text = api.render_sheet(configs=mixed, fmt="md").replace("\n", " ")
    assert standard not in text
    assert "compared at different context lengths (short at 256, long at 4,096)" in text
    assert "2 * context_length / (3 * d_ff + 4 * d_model)" in text or "2 * seq_len / (3 * d_ff + 4 * d_model)" in text
    # one context length, but the deeper model is the narrower one: the share follows the width
    deep = _custom(tmp_path, [("wide", 512, 1, 1024, 8), ("deep", 512, 64, 256, 4)])
    text = api.render_sheet(configs=deep, fmt="md").replace("\n", " ")
    assert standard not in text and "depends only on its width" in text
    for fmt in ("tex", "html"):
        assert "different context lengths" in api.render_sheet(configs=mixed, fmt=fmt)


def test_long_context_sentence_when_the_model_is_already_that_long(tmp_path):
    (cfg,) = _custom(tmp_path, [("longctx", 32768, 2, 256, 4)])
    text = api.render_sheet(configs=[cfg], fmt="md")
    assert "times the tokens" not in text and "already has context_length 32,768" in text


@pytest.mark.parametrize("fmt", ["md", "tex", "html"])
def test_assumptions_are_printed_beside_their_numbers(fmt):
    """2026: the handout gives d_ff only for XL; the others' d_ff is its rule, assumed and said beside the number.
    (a)-(b) of the AdamW problem use d_ff = 8/3 d_model unrounded, (c)-(d) the XL config: each says which."""
    text = api.render_sheet(fmt=fmt, edition="2026")
    flat = re.sub(r"\s+", " ", text)
    for d, dff in ((768, 2048), (1024, 2752), (1280, 3392)):
        number = rf"\\dnum\{{{dff}\}}\$" if fmt == "tex" else f"{dff:,}"  # LaTeX: $\dff = \dnum{2752}$
        assert re.search(rf"{number} \(assumed: the multiple of 64 nearest", flat), dff
    if fmt == "md":
        assert "2,752 (assumed: the multiple of 64 nearest 8 / 3 x d_model: 64 x round(8 / 3 x 1,024 / 64) = " \
               "64 x 43 = 2,752; the problem gives no d_ff for this size)" in flat
    if fmt == "tex":
        assert r"\operatorname{round}(8 / 3 \times 1{,}024 / 64) = 64 \times 43 = 2{,}752" in flat
    adamw = re.sub(r"\s+", " ", api.render_sheet("adamw-accounting", fmt=fmt, edition="2026")).replace("{,}", ",")
    assert "4,266.67" in adamw and "as (a) assumes (not rounded" in adamw
    assert "as configured" in adamw and "4,288" in adamw
    assert "both readings of" in adamw and "give the same answer" in adamw


def test_2024_sheet_describes_the_2024_model():
    text = api.render_sheet(fmt="md", edition="2024")
    assert "learned absolute position embeddings" in text and "GELU feed-forward" in text
    assert "lm_head tied to the token embedding" in text and "RoPE cos/sin tables are non-trainable" not in text
    assert "position_embedding: context_length * d_model = 1,024 * 1,600 = 1,638,400" in text
    assert "feed-forward (GELU MLP)" in text and "feed-forward (SwiGLU)" not in text
    adamw = api.render_sheet("adamw-accounting", fmt="md", edition="2024")
    assert "| per block | gelu | GELU(W1 x)" in adamw and "silu" not in adamw.lower().replace("silu(w1", "")
    assert "`adamwAccounting`" in adamw and "The `problem-swiglu` activation set" not in adamw
