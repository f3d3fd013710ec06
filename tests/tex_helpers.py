"""Compile LaTeX with pdflatex; FAIL (not skip) when the tool is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# A plain article (10pt, letter paper, LaTeX's own margins: a 345 pt text width) with only the packages a derive
# fragment's header asks for: every fragment must fit it.
WRAPPER = r"""\documentclass{article}
\usepackage{amsmath}
\usepackage{booktabs}
\usepackage{tabularx}
\usepackage{xltabular}
\usepackage{siunitx}
\usepackage{pgfplots}
\pgfplotsset{compat=1.18}
\begin{document}
\input{fragment}
\end{document}
"""


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is required for this test (install texlive / poppler-utils)"
    return path


def compile_tex(tex: str, workdir: Path, name: str = "doc", fit: bool = True) -> tuple[Path, str]:
    """Write and compile; return (pdf, log). Asserts success and (fit) no overfull boxes: everything fits.
    fit=False is for hostile input, where only inertness is checked (a 40-character word cannot fit a cell)."""
    src = workdir / f"{name}.tex"
    src.write_text(tex, encoding="utf-8")
    proc = subprocess.run([tool("pdflatex"), "-interaction=nonstopmode", "-halt-on-error", src.name],
                          cwd=workdir, capture_output=True, text=True, timeout=300)
    log = (workdir / f"{name}.log").read_text(encoding="latin-1")
    assert proc.returncode == 0, log[-3000:]
    if fit:
        assert "Overfull \\hbox" not in log, [ln for ln in log.splitlines() if "Overfull" in ln]
    return workdir / f"{name}.pdf", log


def compile_fragment(fragment: str, workdir: Path, fit: bool = True) -> tuple[Path, str]:
    assert r"\begin{document}" not in fragment and r"\documentclass" not in fragment
    (workdir / "fragment.tex").write_text(fragment, encoding="utf-8")
    return compile_tex(WRAPPER, workdir, "wrapper", fit)
