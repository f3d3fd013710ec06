"""The adamw-accounting sheet: golden files (layout), LaTeX compiles, figures traced to hand values.

Regenerate the golden files after an intended layout change with:
DERIVE_UPDATE_GOLDEN=1 pytest tests/test_adamw_sheet.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from derive import api

GOLDEN = Path(__file__).parent / "data" / "sheets"
SHEET = "adamw-accounting"


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_sheet_matches_golden(fmt):
    text = api.render_sheet(SHEET, fmt=fmt)
    golden = GOLDEN / f"{SHEET}.{fmt}"
    if os.environ.get("DERIVE_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_markdown_sheet_states_the_answers():
    text = api.render_sheet(SHEET, fmt="md")
    # (b) both readings of 80 GB, (d) days: hand-computed in test_training_*; here only that they are shown.
    assert "floor(45,967,078,400 / 15,517,753,344) = floor(2.9622) = **2**" in text
    assert "floor(51,866,424,320 / 15,517,753,344) = floor(3.3424) = **3**" in text
    assert "memory = 15,517,753,344 * batch_size + 34,032,921,600 bytes" in text
    assert "= 6,583.56" in text
    assert "activations_swiglu - activations_problem = 8 * batch_size * context_length * d_model * num_layers" in text


def test_latex_sheet_compiles(tmp_path):
    pdflatex = shutil.which("pdflatex")
    assert pdflatex, "pdflatex is required for this test (install TeX Live)"
    paths = api.write_sheets(SHEET, formats=("tex",), out_dir=tmp_path)
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", paths[0].name],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / f"{SHEET}.pdf").stat().st_size > 0
    assert "textbackslash" not in paths[0].read_text(encoding="utf-8"), "macro output was escaped twice"


def test_cli_renders_the_sheet(tmp_path):
    from click.testing import CliRunner
    from derive.cli import main

    result = CliRunner().invoke(main, ["sheet", "--sheet", SHEET, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"{SHEET}.md").is_file() and (tmp_path / f"{SHEET}.tex").is_file()
