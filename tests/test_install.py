"""`derive sheet` works from any directory: templates and presets are found wherever derive is installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import derive


def test_sheet_from_another_directory(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(derive.__file__).resolve().parent.parent))
    result = subprocess.run([sys.executable, "-m", "derive", "sheet"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "build" / "transformer-accounting.md").is_file()
    assert (tmp_path / "build" / "transformer-accounting.tex").is_file()
