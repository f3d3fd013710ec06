"""Hostile config names and descriptions in every command and format that shows them (issue 13 items 1-2).

Two checks, each able to fail: (1) structure -- rendering with a hostile name gives exactly the output of a
harmless name with the hostile one's escaped form in its place, so every occurrence went through the format's
one escaping function; (2) the readers -- pdflatex compiles it without reading /etc/passwd, a CommonMark
renderer and an HTML parser see the same structure as for a harmless name. Configs are built directly (the
render functions must be safe whatever config loading accepts) and through the CLI from a YAML file.
"""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser

import pytest
import yaml
from click.testing import CliRunner
from markdown_it import MarkdownIt

from derive import api
from derive.cli import main
from derive.render.charts import plot_tex, shares_data
from derive.render.escape import escape_html, escape_md, escape_tex, visible
from tex_helpers import compile_fragment, compile_tex, tool

SAFE = "Qz9safe"
NAMES = [
    "evil\n\\input{/etc/passwd}",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "a | row | injected |\n| --- | --- |",
    "# heading\n## heading 2",
    "50% $x^2$ & {b} ~t_ #h \\relax",
    "ctrl\x1b[31m\x07\x00\u202e\u2028end",
    "=cmd|' /C calc'!A0",
]
KITCHEN_SINK = "kit\n\\input{/etc/passwd} % <script>x</script> | # $^_&~{} \x1b\u202e"


def _cfg(name: str, description: str = "", base: str = "gpt2-small"):
    return api.load_config(base).replace(name=name, description=description)


def _with(name: str, text: str, escape, sheet: str = "") -> str:
    """`text` with every escaped occurrence of `name` replaced by the harmless name (and the chart file names,
    made of the name's safe characters, by the harmless one's)."""
    if sheet:
        text = text.replace(api.file_stem(sheet, [_cfg(name)]), api.file_stem(sheet, [_cfg(SAFE)]))
    return text.replace(escape(name), SAFE)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt, escape", [("md", escape_md), ("tex", escape_tex), ("html", escape_html)])
@pytest.mark.parametrize("sheet", ["transformer-accounting", "model-accounting", "conventions"])
def test_sheet_escapes_every_occurrence(name, fmt, escape, sheet):
    hostile = api.render_sheet(sheet, [_cfg(name, description=name)], fmt=fmt)
    harmless = api.render_sheet(sheet, [_cfg(SAFE, description=SAFE)], fmt=fmt)
    assert _with(name, hostile, escape, sheet) == harmless


@pytest.mark.parametrize("name", NAMES)
def test_table_and_formula_escape_every_occurrence(name):
    # a harmless name as wide as the hostile one: the LaTeX table's layout adapts to the names' widths
    safe = "".join("7" if ch.isdigit() else "." if ch in ",." else "Q" for ch in name)
    hostile, harmless = api.account(_cfg(name)), api.account(_cfg(safe))
    for fmt, escape in (("md", escape_md), ("tex", escape_tex)):
        for fragment in (False, True):
            assert api.render_table([hostile], fmt, None, fragment).replace(escape(name), safe) == \
                api.render_table([harmless], fmt, None, fragment)
    for fmt in ("text", "md", "tex"):
        out = api.render_formula(hostile, "params", fmt, True)
        assert out.replace(escape_tex(name), safe) == api.render_formula(harmless, "params", fmt, True)
    tex = plot_tex("shares", shares_data([hostile]))
    assert tex.replace(escape_tex(name), safe) == plot_tex("shares", shares_data([harmless]))


@pytest.mark.parametrize("name", NAMES)
def test_csv_has_one_row_and_no_formula(name):
    out = api.render_table([api.account(_cfg(name))], "csv")
    lines = out.splitlines()
    assert len(lines) == 2
    assert not lines[1].lstrip('"').startswith(("=", "+", "-", "@"))


def _md_structure(text: str) -> list[str]:
    md = MarkdownIt("commonmark").enable("table")
    return [t.type for t in md.parse(text)]


@pytest.mark.parametrize("name", NAMES)
def test_markdown_sheet_and_table_keep_their_structure(name):
    for render in (lambda c: api.render_sheet(configs=[c], fmt="md"),
                   lambda c: api.render_sheet("model-accounting", [c], fmt="md"),
                   lambda c: api.render_sheet("conventions", [c], fmt="md"),
                   lambda c: api.render_table([api.account(c)], "md")):
        hostile, harmless = render(_cfg(name, name)), render(_cfg(SAFE, SAFE))
        assert _md_structure(hostile) == _md_structure(harmless)
        rendered = MarkdownIt("commonmark").enable("table").render(hostile)
        clean = MarkdownIt("commonmark").enable("table").render(harmless)
        assert "<script" not in rendered and rendered.count("<img") == clean.count("<img")  # only the charts


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def _tags(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sheet", ["model-accounting", "conventions"])
def test_html_sheet_keeps_its_elements(name, sheet):
    hostile = api.render_sheet(sheet, [_cfg(name, name)], fmt="html")
    harmless = api.render_sheet(sheet, [_cfg(SAFE, SAFE)], fmt="html")
    assert _tags(hostile) == _tags(harmless)
    assert "<script" not in hostile


def test_every_latex_output_compiles_inert(tmp_path):
    cfg = _cfg(KITCHEN_SINK, KITCHEN_SINK).replace(d_ff_source=KITCHEN_SINK)
    acc = api.account(cfg)
    outputs = {
        "sheet": api.render_sheet(configs=[cfg], fmt="tex"),
        "model": api.render_sheet("model-accounting", [cfg], fmt="tex"),
        "conventions": api.render_sheet("conventions", [cfg], fmt="tex"),
    }
    fragments = "\n".join([api.render_table([acc], "tex", None, True), api.render_formula(acc, "params", "tex", True),
                           plot_tex("shares", shares_data([acc])),
                           api.render_sheet("conventions", [cfg], fmt="tex", fragment=True)])
    for label, tex in outputs.items():
        work = tmp_path / label
        work.mkdir()
        pdf, log = compile_tex(tex, work, label, fit=False)
        _assert_inert(pdf, log)
    work = tmp_path / "fragments"
    work.mkdir()
    _assert_inert(*compile_fragment(fragments, work, fit=False))


def _assert_inert(pdf, log) -> None:
    assert "(/etc/passwd" not in log  # TeX logs every file it opens
    text = subprocess.run([tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "root:" not in text
    assert "input{/etc/passwd}" in text.replace(" ", "").replace("\n", "")


# --- through the CLI ------------------------------------------------------------------------------------------
def _run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def hostile_yaml(tmp_path):
    path = tmp_path / "hostile.yaml"
    data = {"name": KITCHEN_SINK, "description": KITCHEN_SINK, "vocab_size": 512, "context_length": 64,
            "num_layers": 2, "d_model": 64, "num_heads": 4, "d_ff": 256}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _refused_or(result, check) -> None:
    """Config loading may refuse control characters (one line, exit 2); if it accepts them, output is inert."""
    if result.exit_code == 2:
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
        return
    assert result.exit_code == 0, result.output
    check(result.output)


@pytest.mark.parametrize("command", [["params"], ["flops"], ["table"], ["table", "--format", "csv"],
                                     ["table", "--format", "tex"], ["formula", "?", "params", "--format", "tex"]])
def test_cli_prints_names_inert(hostile_yaml, command):
    args = [a if a != "?" else str(hostile_yaml) for a in command]
    if "?" not in command:
        args.insert(1, str(hostile_yaml))

    def check(out: str) -> None:
        assert "\x1b" not in out and "\u202e" not in out and "\x00" not in out
        assert KITCHEN_SINK not in out  # never printed raw
        if "--format" in command and "tex" in command:
            assert "\n\\input{/etc/passwd}" not in out

    _refused_or(_run(*args), check)


def test_cli_context_json_round_trips_the_name(hostile_yaml):
    def check(out: str) -> None:
        data = json.loads(out)
        assert data["accounting"]["config"]["name"] == KITCHEN_SINK  # JSON escapes it; the value is exact

    _refused_or(_run("context", str(hostile_yaml), "--json"), check)


def test_cli_sheet_writes_inert_files(hostile_yaml, tmp_path):
    out = tmp_path / "out"

    def check(printed: str) -> None:
        assert "\x1b" not in printed
        files = {p.suffix: p.read_text(encoding="utf-8") for p in out.iterdir() if p.suffix != ".svg"}
        assert set(files) == {".md", ".tex", ".html"}
        assert "\n\\input{/etc/passwd}" not in files[".tex"]
        assert "<script>x</script>" not in files[".html"] and "<script>x</script>" not in files[".md"]
        assert visible(KITCHEN_SINK) not in files[".md"]  # escaped, not merely made visible

    _refused_or(_run("sheet", str(hostile_yaml), "--out", str(out)), check)
