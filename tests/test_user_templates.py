"""Your own template (`derive sheet --template`), the context it gets (`derive context`), Jupyter displays, and
output names that do not collide (issue 14 items 4-6). Figures are checked against hand formulas."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from conftest import GPT2_SHAPES, VOCAB, hand_forward_flops, hand_params
from derive import api
from derive.accounting.display import Displayable, DisplayRow
from derive.cli import main
from derive.model import symbols as sy

L, D, H, DFF = GPT2_SHAPES["gpt2-xl"]
XL_PARAMS = hand_params(VOCAB, L, D, DFF)  # 2,127,057,600
XL_FLOPS = hand_forward_flops(VOCAB, L, D, DFF, 1, 1024)  # 4,513,336,524,800


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("suffix", ["md", "tex", "html"])
def test_user_template_gets_the_documented_context(tmp_path, suffix):
    template = tmp_path / f"appendix.{suffix}.j2"
    if suffix == "tex":
        template.write_text("P=<< accounting.total_params >> F=<< accounting.forward_flops >>\n")
    else:
        template.write_text("P={{ accounting.total_params }} F={{ accounting.forward_flops }}\n")
    result = run("sheet", "gpt2-xl", "--template", str(template), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / f"appendix-gpt2-xl.{suffix}"
    assert written.read_text() == f"P={XL_PARAMS} F={XL_FLOPS}\n" == "P=2127057600 F=4513336524800\n"


def test_user_template_uses_the_trees_macros_and_filters(tmp_path):
    template = tmp_path / "models.tex.j2"
    template.write_text(
        "<% import \"_macros.tex.j2\" as m with context %>\n"
        "<% for a in accountings %><< a.config.name >>: $P = << a.closed_forms.params.tex >>$ "
        "= << a.total_params|num >>\n<% endfor %>"
        "<< accounting.params.children[0].title >>=<< accounting.params.children[0].value >>\n"
        "<< m.config_table(main.config)|tex >>")
    result = run("sheet", "gpt2-xl", "gpt2-small", "--template", str(template), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "models-gpt2-xl-gpt2-small.tex").read_text()
    assert r"gpt2-xl: $P = 2 \dmodel \vocab" in text and r"\dnum{2127057600}" in text
    assert f"token\\_embedding={VOCAB * D}" in text  # title escaped as data; value exact
    assert r"\texttt{vocab\_size} & $\vocab$" in text


@pytest.mark.parametrize("body, message", [
    ("{{ accounting.nope }}", "nope"),
    ("{{ accounting.total_params", "line 1"),
    ("ok\n{{ accounting.total_params / 0 }}", "line 2: ZeroDivisionError"),
    ("{% for x in accounting.total_params %}{% endfor %}", "TypeError"),
])
def test_user_template_errors_are_one_line(tmp_path, body, message):
    template = tmp_path / "bad.md.j2"
    template.write_text(body)
    result = run("sheet", "--template", str(template), "--out", str(tmp_path))
    assert result.exit_code == 2 and result.output.count("\n") == 1 and message in result.output
    assert not list(tmp_path.glob("bad*.md"))


@pytest.mark.parametrize("body", [
    "{{ cycler.__init__.__globals__.os.popen('echo pwned > PWNED').read() }}",
    "{{ accounting.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
])
def test_user_template_cannot_reach_python_internals(tmp_path, monkeypatch, body):
    """A shared template is data to render, not a program: Jinja's sandbox refuses unsafe attributes (one line,
    exit 2, nothing written, the command never run)."""
    monkeypatch.chdir(tmp_path)
    template = tmp_path / "evil.md.j2"
    template.write_text(body)
    result = run("sheet", "--template", str(template), "--out", str(tmp_path))
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "unsafe" in result.output
    assert not (tmp_path / "PWNED").exists() and not list(tmp_path.glob("evil*.md"))


def test_user_template_needs_a_format_suffix(tmp_path):
    template = tmp_path / "appendix.j2"
    template.write_text("x")
    result = run("sheet", "--template", str(template), "--out", str(tmp_path))
    assert result.exit_code == 2 and "NAME.tex.j2" in result.output and result.output.count("\n") == 1


def test_context_json_has_exact_values_and_trees():
    result = run("context", "gpt2-xl", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    acc = data["accounting"]
    assert acc["total_params"] == XL_PARAMS and acc["forward_flops"] == XL_FLOPS
    assert acc["memory"]["fp32"]["value"] == 4 * XL_PARAMS
    assert [c["name"] for c in data["configs"]] == ["gpt2-xl"]
    root = acc["params"]
    assert root["value"] == XL_PARAMS and sum(c["value"] for c in root["children"]) == XL_PARAMS

    def walk(node):
        yield node
        for child in node["children"]:
            yield from walk(child)

    for node in walk(root):
        assert set(node["formula"]) == {"text", "latex", "tex"} and isinstance(node["value"], int)
    assert acc["closed_forms"]["params"]["text"].startswith("2 * d_model * vocab_size")
    plain = run("context", "gpt2-xl")
    assert "accounting.total_params = 2127057600" in plain.output


# --- notebooks ------------------------------------------------------------------------------------------------
def test_accounting_shows_itself_in_jupyter():
    acc = api.account(api.load_config("gpt2-xl"))
    md = acc._repr_markdown_()
    assert "2,127,057,600" in md and "4,513,336,524,800" in md
    params_row = next(line for line in md.splitlines() if line.startswith("| trainable parameters"))
    assert params_row.index("$P = ") < params_row.index("2,127,057,600")  # the closed form first
    latex = acc._repr_latex_()
    assert latex.startswith("$$") and "2{,}127{,}057{,}600" in latex and r"\begin{aligned}" in latex
    assert latex.index("P &= 2 d V") < latex.index("2{,}127{,}057{,}600")


def test_training_results_show_themselves_too():
    t = api.train_account(api.load_config("gpt2-xl"))
    md = t._repr_markdown_()
    assert f"{t.step_flops:,}" in md and f"{t.optimizer.value:,}" in md
    assert "| largest batch in 80GB |  | 2 |" in md  # the problem's answer for 80 GB


def test_any_result_class_gets_the_displays():
    class Toy(Displayable):  # what issue 16's inference results will do: list rows, inherit the displays
        def display_title(self):
            return "toy <b>"

        def display_rows(self):
            return [DisplayRow("kv cache", "M_kv", 2 * sy.L * sy.d, 12, "bytes"),
                    DisplayRow("ratio", "r", None, Fraction(1, 3))]

    md = Toy()._repr_markdown_()
    assert "**toy \\<b>**" in md and "| kv cache | $M_{\\mathrm{kv}} = 2 d L$ | 12 bytes |" in md
    assert "0.33" in md and "M_{\\mathrm{kv}} &= 2 d L = 12" in Toy()._repr_latex_()


# --- output names ---------------------------------------------------------------------------------------------
def test_fragment_and_full_document_do_not_collide(tmp_path):
    full = run("sheet", "--format", "tex", "--out", str(tmp_path))
    frag = run("sheet", "--format", "tex", "--fragment", "--out", str(tmp_path))
    assert full.exit_code == frag.exit_code == 0
    assert (tmp_path / "transformer-accounting.tex").read_text().startswith(r"\documentclass")
    assert (tmp_path / "transformer-accounting-fragment.tex").read_text().startswith("% derive LaTeX fragment")
    assert "replaced" not in frag.output


def test_overridden_configs_get_their_own_names_and_a_replacement_is_said(tmp_path):
    default = run("sheet", "--format", "md", "--out", str(tmp_path))
    longer = run("sheet", "--format", "md", "--set", "context_length=16384", "--out", str(tmp_path))
    assert "transformer-accounting-context-length-16384.md" in longer.output
    assert (tmp_path / "transformer-accounting.md").read_text() != \
        (tmp_path / "transformer-accounting-context-length-16384.md").read_text()
    again = run("sheet", "--format", "md", "--out", str(tmp_path))
    assert "replaced" not in default.output
    assert again.output.count("(replaced the file of that name)") == 3  # the sheet and its two charts


def test_plot_default_names_carry_the_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "plot-shares.svg" in run("plot").output
    assert "plot-shares-gpt2-small-gpt2-xl.svg" in run("plot", "gpt2-small", "gpt2-xl").output


def test_long_names_are_shortened_with_a_hash():
    configs = [api.load_config("gpt2-small").replace(name="x" * 300)]
    stem = api.file_stem("transformer-accounting", configs)
    assert len(stem) <= 120 and stem != api.file_stem("transformer-accounting", [configs[0].replace(name="y" * 300)])
