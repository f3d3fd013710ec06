"""The inference-accounting sheet: Markdown, LaTeX (compiled, fitting the page) and HTML, from the same figures as
`derive infer --json`; written by `derive infer --sheet` and `derive sheet --sheet inference-accounting`."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from tex_helpers import compile_fragment, compile_tex

from derive import api
from derive.cli import main

DATA = Path(__file__).parent / "data"
CASES = {  # config, request: a dense model, sliding windows, latent attention, experts with a window, GPT-2
    "llama": (str(DATA / "hf" / "Llama-3.1-8B.json"), dict(prompt=1000, generate=200, batch_size=8)),
    "sliding": (str(DATA / "hf" / "gemma-3-1b-it.json"), dict(prompt=600, generate=100, batch_size=4)),
    "mla": (str(DATA / "hf" / "DeepSeek-V2-Lite.json"), dict(prompt=600, generate=100, batch_size=4)),
    "moe": (str(DATA / "hf" / "gpt-oss-20b.json"), dict(prompt=300, generate=50, budget="40GiB", dtype="fp8",
                                                        hardware="h200")),
    "gpt2": ("gpt2-small-hf", dict(prompt=100, generate=1)),
}
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+")


def _render(case: str, fmt: str, fragment: bool = False) -> tuple[str, dict]:
    spec, options = CASES[case]
    cfg = api.load_config(spec)
    return _files(cfg, options, fmt, fragment), api.infer_report(api.infer_account(cfg, **options))


def _files(cfg, options, fmt, fragment):
    from derive.render.sheets.inference import sheet_files

    ((_, text),) = sheet_files([cfg], options, [fmt], Path("unused"), fragment)
    return text


@pytest.mark.parametrize("case", CASES)
def test_markdown_sheet_prints_the_json_figures(case):
    text, report = _render(case, "md")
    kv, dec, bud = report["kv_cache"], report["decode"], report["budget"]
    for value in (kv["bytes_per_token"], kv["bytes"], kv["after_generate"]["bytes"], report["prefill"]["flops"],
                  report["prefill"]["full_forward_flops"], report["prefill"]["logits_saving_flops"], dec["flops"],
                  bud["bytes"], bud["weights_bytes"]):
        assert f"{value:,}" in text, value
    if dec["steps"]:
        assert f"{dec['first_step']:,}" in text and f"{dec['last_step']:,}" in text
    if bud["free_bytes"] >= 0:
        assert f"= {bud['max_tokens']:,}" in text
    assert "Closed form: `KV_token = " in text and "`F_step(i) = " in text
    assert "`B* = " in text or not dec["steps"]


@pytest.mark.parametrize("case", CASES)
def test_latex_sheet_compiles_and_fits(case, tmp_path):
    text, _ = _render(case, "tex")
    compile_tex(text, tmp_path)


def test_latex_fragment_compiles_in_a_plain_article(tmp_path):
    text, _ = _render("sliding", "tex", fragment=True)
    compile_fragment(text, tmp_path)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "title")
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "title")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


@pytest.mark.parametrize("case", ["llama", "moe"])
def test_html_sheet_is_self_contained_and_prints_the_markdown_figures(case):
    html, _ = _render(case, "html")
    markdown, _ = _render(case, "md")
    parser = _Text()
    parser.feed(html)
    assert parser.refs == [] and "<math" in html
    numbers = set(NUMBER.findall(" ".join(parser.parts)))
    assert numbers and numbers <= set(NUMBER.findall(markdown))


def test_derive_infer_writes_the_sheet_named_after_the_request(tmp_path):
    args = ["infer", "gpt2-small", "--prompt", "100", "--generate", "20", "--batch", "2", "--sheet", "--out",
            str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    stem = "inference-accounting-gpt2-small-batch-size-2-generate-20-prompt-100"
    assert names == [f"{stem}.html", f"{stem}.md", f"{stem}.tex"]
    assert f"wrote {tmp_path / (stem + '.md')}" in result.output
    again = CliRunner().invoke(main, [*args, "--format", "md"])
    assert "(replaced the file of that name)" in again.output


def test_derive_sheet_renders_the_default_request(tmp_path):
    result = CliRunner().invoke(main, ["sheet", "--sheet", "inference-accounting", "--format", "md", "--out",
                                       str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "inference-accounting.md").read_text()
    report = api.infer_report(api.infer_account(api.load_config("llama-2-7b")))
    assert "## llama-2-7b" in text and f"{report['decode']['flops']:,}" in text


def test_hostile_config_name_stays_text(tmp_path):
    cfg = api.load_config("gpt2-small").replace(name="x$\\input{/etc/passwd}_&%<script>")
    from derive.render.sheets.inference import sheet_files

    files = dict((fmt, text) for fmt, (_, text) in
                 zip(("md", "tex", "html"), sheet_files([cfg], {"prompt": 10, "generate": 3}, ["md", "tex", "html"],
                                                        tmp_path)))
    assert "<script>" not in files["html"]
    assert "\\input{/etc/passwd}" not in files["tex"]
    compile_tex(files["tex"], tmp_path, fit=False)


def test_html_sheet_in_a_browser(tmp_path):
    """Headless Chromium builds the page; every number it shows is one the Markdown sheet prints."""
    from test_html_sheet import NUMBER as ANY_NUMBER, _text, run_chromium

    spec, options = CASES["sliding"]
    cfg = api.load_config(spec)
    (path,) = api.write_inference_sheet([cfg], options, ("html",), tmp_path)
    dom = run_chromium(["--dump-dom", path.as_uri()], tmp_path / "profile")
    assert dom.returncode == 0 and "<math" in dom.stdout, dom.stderr[-2000:]
    text, tags = _text(dom.stdout)
    assert "mn" in tags and "table" in tags and "script" not in tags
    markdown, _ = _render("sliding", "md")
    page = set(ANY_NUMBER.findall(text))
    assert len(page) > 50 and page - set(ANY_NUMBER.findall(markdown)) == set()
