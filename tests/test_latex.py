"""The LaTeX sheets compile with a real TeX engine. CI installs TeX; a missing pdflatex is a failure."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from derive import api


def compile_tex(source: str, workdir: Path, name: str = "sheet") -> Path:
    pdflatex = shutil.which("pdflatex")
    assert pdflatex, "pdflatex is not installed: .ci/run installs TeX from Debian's packages"
    (workdir / f"{name}.tex").write_text(source, encoding="utf-8")
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                            cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    pdf = workdir / f"{name}.pdf"
    assert pdf.stat().st_size > 1000
    return pdf


def test_default_sheet_compiles(tmp_path):
    compile_tex(api.render_sheet(fmt="tex"), tmp_path)


def test_sheet_with_awkward_names_compiles(tmp_path):
    cfg = api.load_config("gpt2-small").replace(name="my_model #1 & 50% {test} ~x^2 \\o/",
                                                 description="a $pecial <one>")
    compile_tex(api.render_sheet(configs=[cfg], fmt="tex"), tmp_path)


def test_markup_is_not_escaped_twice():
    # Macro output and sympy's LaTeX are markup; only data strings are escaped. A doubly escaped sheet
    # still compiles, but prints its own source.
    text = api.render_sheet(fmt="tex")
    assert r"\textbackslash{}" not in text
    assert r"\begin{tabular}" in text and r"\texttt{q\_proj}" in text
