"""The HTML sheets in a real browser: headless Chromium from Debian's packages (installed by .ci/run).

The page renders, its math is MathML, a screenshot is not blank, and every number on the page is one the
Markdown sheet prints. A missing browser is a failure, not a skip.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from derive import api
from derive.accounting.conventions.registry import CONVENTIONS

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.,])\d+(?:\.\d+)?(?![\w,])")


def chromium() -> str:
    for name in ("chromium", "chromium-headless-shell", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("chromium is required for this test (apt-get install chromium; .ci/run installs it)")


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, str, str]]:
    """Each sheet kind: (html file, DOM as Chromium built it, the Markdown sheet of the same configs)."""
    out = tmp_path_factory.mktemp("html")
    profile = tmp_path_factory.mktemp("profile")
    found = {}
    for sheet, configs in (("transformer-accounting", []), ("model-accounting", ["mixtral-8x7b", "gpt2-small-hf"]),
                           ("adamw-accounting", []), ("conventions", ["gpt3-175b", "mixtral-8x7b"])):
        loaded = api.load_configs(configs)
        paths = api.write_sheets(sheet, loaded, formats=("html",), out_dir=out)
        dom = run_chromium(["--dump-dom", paths[0].as_uri()], profile)
        assert dom.returncode == 0 and "<math" in dom.stdout, dom.stderr[-2000:]
        found[sheet] = (paths[0], dom.stdout, api.render_sheet(sheet, loaded, fmt="md"))
    return found


class _Text(HTMLParser):
    """The page's text outside <svg> (chart tick labels are not figures of the sheet) and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("svg", "style", "title"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("svg", "style", "title"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _text(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts), parser.tags


@pytest.mark.parametrize("sheet", ["transformer-accounting", "model-accounting", "adamw-accounting", "conventions"])
def test_every_number_on_the_page_is_in_the_markdown_sheet(pages, sheet):
    _, dom, md = pages[sheet]
    text, tags = _text(dom)
    assert "math" in tags and "mn" in tags and "table" in tags
    page_numbers = set(NUMBER.findall(text))
    md_numbers = set(NUMBER.findall(md))
    assert len(page_numbers) > 50
    assert page_numbers - md_numbers == set()


def test_the_numbers_that_matter_are_on_the_page(pages):
    _, dom, _ = pages["transformer-accounting"]
    text, _ = _text(dom)
    for figure in ("2,127,057,600", "4,513,336,524,800", "149,522,795,724,800", "8,508,230,400", "9,600"):
        assert figure in text


def test_the_conventions_figures_are_on_the_page(pages):
    """GPT-3 175B at s = 2,048, B = 1 (issue 18): 2,204,555,173,429,248 FLOPs per step by the exact count and by
    Megatron's 72 B s L h^2 (1 + s/6h + V/12hL), worked out here by hand."""
    _, dom, _ = pages["conventions"]
    text, tags = _text(dom)
    B, s, L, h, V = 1, 2048, 96, 12288, 51200
    megatron = 72 * B * s * L * h**2 * (6 * h * 12 * h * L + 12 * h * L * s + 6 * h * V) // (6 * h * 12 * h * L)
    assert megatron == 2_204_555_173_429_248
    assert f"{megatron:,}" in text
    assert text.count("Source:") == 2 * len(CONVENTIONS)  # each convention once per model
    assert "msub" in tags and "msup" in tags  # "as written" forms typeset: n_layer, h^2


@pytest.mark.parametrize("sheet", ["transformer-accounting", "model-accounting", "adamw-accounting", "conventions"])
def test_page_is_self_contained(pages, sheet):
    path, _, _ = pages[sheet]
    html = path.read_text(encoding="utf-8")
    _, tags = _text(html)
    assert "script" not in tags and "link" not in tags and "iframe" not in tags and "img" not in tags
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # an XML namespace name, never fetched
    assert "@media print" in html
    if sheet == "transformer-accounting":
        assert html.count("<svg") == 2  # both charts inline


def _png_dark_fraction(path: Path) -> float:
    """Fraction of dark bytes in an 8-bit PNG's pixel data (decoded with zlib; filter bytes are few)."""
    data = path.read_bytes()
    pos, idat = 8, b""
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if ctype == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return sum(1 for b in raw if b < 100) / len(raw)


def test_screenshot_is_not_blank(pages, tmp_path):
    path, _, _ = pages["transformer-accounting"]
    shot = tmp_path / "page.png"
    result = run_chromium([f"--screenshot={shot}", "--window-size=1000,1400", path.as_uri()], tmp_path / "profile")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    assert _png_dark_fraction(shot) > 0.005, "the page rendered (nearly) blank"
