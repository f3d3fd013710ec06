"""One escaping function per format (issue 13 items 1-2), checked against tools that read each format:
pdflatex for TeX, a CommonMark renderer (markdown-it-py) for Markdown, Python's HTML parser and csv module.

Hostile strings are a class: newlines that would end a `%` comment or a table row, TeX commands, raw HTML,
Markdown structure, formulas for spreadsheets, terminal escape sequences, bidi overrides.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st
from markdown_it import MarkdownIt

from derive.render.escape import escape_csv, escape_html, escape_md, escape_tex, escape_terminal, visible
from derive.render.escape import _TEX_SYMBOLS as TEX_SYMBOLS
from tex_helpers import compile_tex, tool

HOSTILE = [
    "evil\n\\input{/etc/passwd}",
    "x\r\n\\immediate\\write18{touch /tmp/pwned}",
    "<script>alert(1)</script>",
    "a | row | injected |\n| --- |",
    "# heading\n## another",
    "50% done $x^2$ & {braces} ~tilde_ #hash",
    "\x1b[31mred\x1b[0m\x07bell\x00nul",
    "\u202eevil\u2066bidi\u2028line\u2029para",
    "=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB",
    "![img](http://example.com/x.png) [link](javascript:alert(1))",
    "```\ncode fence\n```",
    "**bold** _em_ `code` ~~strike~~",
    "- item\n1. ordered\n> quote",
    "\\\\ \\relax \\def\\x{y} ^^J ^^M",
    "Ünïcödé ßø ✓ 模型",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_visible_leaves_no_control_or_format_characters(text):
    out = visible(text)
    assert "\n" not in out and "\r" not in out and "\x1b" not in out and "\u202e" not in out
    assert escape_terminal(text) == out


def test_visible_keeps_ordinary_text():
    assert visible("gpt2-xl (Hugging Face llama config.json)") == "gpt2-xl (Hugging Face llama config.json)"
    assert visible("a\nb\x1b") == "a\\nb\\x1b"


# --- LaTeX: compiled, inside a comment and in running text; nothing runs, everything shows --------------------
def test_tex_escaping_compiles_inert_in_text_and_comments(tmp_path):
    body = []
    for i, text in enumerate(HOSTILE):
        esc = escape_tex(text)
        assert "\n" not in esc
        body.append(f"% comment {i}: {esc}")  # a newline here would end the comment: the rest would run
        body.append(f"\\noindent MARK{i} {esc} ENDMARK\\par")
        body.append(f"\\section*{{{esc}}}")
    doc = "\\documentclass{article}\n\\begin{document}\n" + "\n".join(body) + "\n\\end{document}\n"
    pdf, log = compile_tex(doc, tmp_path, "hostile", fit=False)
    assert "(/etc/passwd" not in log  # \input never opened it (TeX logs every file it opens)
    text = subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "root:" not in text  # /etc/passwd was not read
    assert "input{/etc/passwd}" in text.replace(" ", "")  # shown as text
    assert not (tmp_path.parent / "pwned").exists()
    for i in range(len(HOSTILE)):
        assert f"MARK{i}" in text and "ENDMARK" in text


def test_tex_escaping_typesets_typographic_characters(tmp_path):
    """Dashes, curly quotes, x, mu, Greek and combining accents are typeset (they were shown as \\u2014 ...); what
    pdflatex cannot typeset without packages (CJK) stays a visible code; the document compiles either way."""
    name = "Llama 3 \u2014 8B \u201cbase\u201d 2\u00d7 \u03bcP \u03b1=0.5 \u2264 1\u2026 Cafe\u0301 \u6a21\u578b"
    esc = escape_tex(name)
    assert "---" in esc and "``base''" in esc and r"$\times$" in esc and r"$\mu$P" in esc and r"$\alpha$" in esc
    assert "Caf\u00e9" in esc and esc.count(r"\textbackslash{}u") == 2  # the two CJK characters only
    doc = "\\documentclass{article}\n\\begin{document}\n" + esc + "\n\\section*{" + esc + "}\n\\end{document}\n"
    pdf, _ = compile_tex(doc, tmp_path, "typographic", fit=False)
    text = subprocess.run([tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "\u2014" in text and "\u201cbase\u201d" in text and "\u00d7" in text and "\u03b1=0.5 \u2264 1" in text


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_tex_escaping_leaves_no_active_character(text):
    out = escape_tex(text)
    # only our own command names follow a backslash; every special is behind a backslash or inside a command
    assert "\n" not in out and "%" not in out.replace(r"\%", "")
    for ch in "$&#^_~{}":
        stripped = out.replace("\\" + ch, "")
        for cmd in (r"\textbackslash{}", r"\textasciitilde{}", r"\textasciicircum{}", r"\textless{}",
                    r"\textgreater{}", r"\textbar{}", r"{\ttfamily\char34}", *TEX_SYMBOLS.values()):
            stripped = stripped.replace(cmd, "")
        stripped = re.sub(r"\$\\[A-Za-z]+\$", "", stripped)  # a Greek letter: $\mu$
        assert ch not in stripped, (text, out)


# --- Markdown: rendered by a CommonMark implementation -----------------------------------------------------
MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def _tokens(source: str) -> list[str]:
    out = []
    for tok in MD.parse(source):
        out.append(tok.type)
        out += [c.type for c in tok.children or []]
    return out


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("where", ["paragraph", "heading", "table", "list"])
def test_markdown_escaping_renders_inert(text, where):
    esc = escape_md(text)
    source = {
        "paragraph": f"Model: **{esc}** and more.\n",
        "heading": f"## {esc}\n\nafter\n",
        "table": f"| model | value |\n|---|---:|\n| {esc} | 1 |\n",
        "list": f"- {esc}: 12 layers\n",
    }[where]
    plain = {"paragraph": "Model: **x** and more.\n", "heading": "## x\n\nafter\n",
             "table": "| model | value |\n|---|---:|\n| x | 1 |\n", "list": "- x: 12 layers\n"}[where]
    assert _tokens(source) == _tokens(plain)  # the same structure as with a harmless name
    html = MD.render(source)
    assert "<script" not in html and "<img" not in html and "<a " not in html and "<code>" not in html
    assert "<em>" not in html and "<s>" not in html and "<h1" not in html


def test_markdown_escaping_keeps_derive_prose_unchanged():
    for text in ("gpt2-xl", "num_layers * (3 * d_ff * d_model + 4 * d_model^2)", "2,127,057,600",
                 "assumed 4 x d_model; the problem gives no d_ff", "-1", "29.4%", "lm_head (output projection)"):
        assert escape_md(text) == text


# --- HTML ---------------------------------------------------------------------------------------------------
class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text += data


@pytest.mark.parametrize("text", HOSTILE)
def test_html_escaping_is_text_in_content_and_attributes(text):
    parser = _Collect()
    parser.feed(f'<p title="{escape_html(text)}">{escape_html(text)}</p>')
    assert parser.tags == ["p"]
    assert parser.text == visible(text)


# --- CSV ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE)
def test_csv_cells_cannot_start_a_formula(text):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([escape_csv(text), escape_csv(2127057600)])
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert len(rows) == 1  # a newline did not add a row
    cell, number = rows[0]
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert number == "2127057600"


@pytest.mark.parametrize("value, expected", [(-1, "-1"), ("-1", "-1"), ("0.25", "0.25"), ("-1.5", "-1.5"),
                                             ("-1+1", "'-1+1"), ("=A1", "'=A1"), ("+1", "'+1"), ("@x", "'@x")])
def test_csv_numbers_are_not_harmed(value, expected):
    assert escape_csv(value) == expected
