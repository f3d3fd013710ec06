"""`derive --help` must answer without importing sympy, jinja2 or torch.

Checked in a fresh interpreter: the pytest process may already have sympy loaded, so CliRunner cannot tell.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sympy", "jinja2", "torch", "numpy", "matplotlib")

PROBE = r"""
import json, sys
from derive.cli import main
args = json.loads(sys.argv[1])
try:
    main.main(args=args, prog_name="derive", standalone_mode=False)
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
print("HEAVY=" + json.dumps(heavy))
"""


def _loaded_after(args: list[str], cwd: Path = ROOT) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)], cwd=cwd,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY=")][-1]
    return json.loads(line[len("HEAVY="):])


def _commands() -> list[str]:
    proc = subprocess.run([sys.executable, "-c", "from derive.cli import main; print(' '.join(main.commands))"],
                          cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_probe_can_see_a_heavy_import() -> None:
    """The probe itself must be able to fail: a real command imports sympy."""
    assert "sympy" in _loaded_after(["params", "gpt2-small", "--json"])


def test_group_help_imports_nothing_heavy() -> None:
    assert _loaded_after(["--help"]) == []


@pytest.mark.parametrize("command", ["sheet", "params", "flops", "sweep"])
def test_command_help_imports_nothing_heavy(command: str) -> None:
    assert _loaded_after([command, "--help"]) == []


def test_every_command_help_imports_nothing_heavy() -> None:
    commands = _commands()
    assert "sweep" in commands
    for command in commands:
        assert _loaded_after([command, "--help"]) == [], command


def test_latex_sheet_does_not_import_matplotlib(tmp_path) -> None:
    """Only the Markdown sheet's SVG plots need matplotlib; a LaTeX sheet draws with pgfplots."""
    loaded = _loaded_after(["sheet", "--format", "tex", "--out", str(tmp_path)])
    assert "sympy" in loaded and "matplotlib" not in loaded
    assert (tmp_path / "transformer-accounting.tex").is_file()


def test_default_sheet_draws_its_charts_without_matplotlib(tmp_path) -> None:
    """Every format of the default sheet, charts included, comes from templates: matplotlib is never imported."""
    loaded = _loaded_after(["sheet", "--out", str(tmp_path)])
    assert "sympy" in loaded and "matplotlib" not in loaded
    names = {p.name for p in tmp_path.iterdir()}
    assert {"transformer-accounting.md", "transformer-accounting.tex", "transformer-accounting.html",
            "transformer-accounting-shares.svg", "transformer-accounting-context.svg"} <= names
