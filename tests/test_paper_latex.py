"""The default sheet compiles, fits the page, renders non-blank; fragments \\input{} into a paper."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from derive import api
from tex_helpers import compile_fragment, compile_tex, tool


@pytest.fixture(scope="module")
def sheet_pdf(tmp_path_factory) -> tuple[Path, str, str]:
    out = tmp_path_factory.mktemp("sheet")
    tex = api.render_sheet(fmt="tex")
    pdf, log = compile_tex(tex, out, "sheet")
    return pdf, log, tex


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Decode a grayscale/RGB 8-bit PNG (what pdftoppm writes) without extra dependencies."""
    data = path.read_bytes()
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
        elif ctype == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_default_sheet_compiles_without_overfull_boxes(sheet_pdf):
    pdf, log, tex = sheet_pdf
    assert pdf.stat().st_size > 10_000
    assert r"\providecommand{\dmodel}{d}" in tex
    assert r"\dnum{2127057600}" in tex  # exact total, printed by siunitx
    assert "Underfull \\hbox (badness 10000) in alignment" not in log


def test_page_one_renders_not_blank(sheet_pdf, tmp_path):
    pdf, _, _ = sheet_pdf
    subprocess.run([tool("pdftoppm"), "-r", "40", "-f", "1", "-l", "1", "-gray", "-png", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=120)
    png = next(tmp_path.glob("page*.png"))
    width, height, raw = _png_pixels(png)
    dark = sum(1 for b in raw if b < 128)
    assert width > 100 and height > 100
    assert dark > 0.005 * width * height, "page 1 is (nearly) blank"


def test_sheet_has_both_charts_and_crossover(sheet_pdf):
    _, _, tex = sheet_pdf
    assert tex.count(r"\begin{axis}") == 3  # shares (d), FLOPs and shares against context (e)
    assert "ybar stacked" in tex
    assert r"extra x ticks={9600.0}" in tex  # the crossover S* = 1.5 d_ff, marked


def test_sheet_fragment_inputs_into_a_paper(tmp_path):
    frag = api.render_sheet(fmt="tex", fragment=True)
    assert frag.startswith("% derive LaTeX fragment")
    assert r"\providecommand{\dff}" in frag
    compile_fragment(frag, tmp_path)
