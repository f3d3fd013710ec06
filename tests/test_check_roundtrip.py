"""Every sheet derive renders checks clean with derive check, in every format it reads (.md and .tex, a full
LaTeX document and a fragment), for every combination of configs the README shows: exit 0, nothing wrong,
nothing not understood. And a changed number in a sheet is caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from derive import api
from derive.check.checker import check_text
from derive.cli import main

# (sheet, configs) as the README shows them: `derive sheet`, `derive sheet gpt2-small`,
# `derive sheet llama-2-7b mixtral-8x7b`, `derive sheet --sheet adamw-accounting`, and two homework shapes.
SHEETS = [
    ("transformer-accounting", ()),
    ("transformer-accounting", ("gpt2-small",)),
    ("transformer-accounting", ("gpt2-small", "gpt2-medium")),
    ("model-accounting", ("llama-2-7b", "mixtral-8x7b")),
    ("adamw-accounting", ()),
]


def _render(sheet: str, specs: tuple[str, ...], fmt: str, fragment: bool = False) -> str:
    return api.render_sheet(sheet, api.load_configs(list(specs)), fmt=fmt, fragment=fragment)


def _assert_clean(report) -> None:
    bad = [(c.number, c.verdict, c.claim[:80], c.explanation[:200]) for c in report.lines if c.verdict != "ok"]
    assert bad == []
    assert report.exit_code == 0
    counts = report.claim_counts()
    assert counts["not understood"] == 0 and sum(counts.values()) > 40


@pytest.mark.parametrize("fmt", ["md", "tex"])
@pytest.mark.parametrize("sheet, specs", SHEETS, ids=[f"{s}:{'+'.join(c) or 'default'}" for s, c in SHEETS])
def test_every_sheet_checks_clean(sheet: str, specs: tuple[str, ...], fmt: str) -> None:
    text = _render(sheet, specs, fmt)
    _assert_clean(check_text(text, f"sheet.{fmt}"))  # the model read from the sheet's own listing


@pytest.mark.parametrize("sheet", ["training-at-scale"])
def test_more_sheets_check_clean_in_markdown(sheet: str) -> None:
    """The training-at-scale sheet (GPT-3 175B as Korthikanti et al. train it: TP 8 + SP, PP 8, ZeRO-1 over 8
    data-parallel ranks): every figure is one of derive train's for the run the sheet states, read back from the
    sheet's setup table (derive.check.scale_candidates). Its LaTeX form is not read back yet (report)."""
    _assert_clean(check_text(_render(sheet, (), "md"), "sheet.md"))


def test_a_changed_training_at_scale_figure_is_caught() -> None:
    text = _render("training-at-scale", (), "md")
    report = check_text(text, "sheet.md")
    states = report.lines and next(c for c in report.lines if "master_dense" in c.claim)
    old = states.claim.rsplit(" ", 1)[-1]
    changed = check_text(text.replace(f"| {old} |", f"| {int(old.replace(',', '')) + 4096:,} |", 1), "sheet.md")
    assert changed.exit_code == 1 and [c.number for c in changed.mistakes][:1] == [states.number]


def test_latex_fragment_checks_clean() -> None:
    _assert_clean(check_text(_render("transformer-accounting", (), "tex", fragment=True), "fragment.tex"))


@pytest.mark.parametrize("fmt, old, new", [
    ("md", "= 40,963,200", "= 40,963,201"),
    ("tex", r"\dnum{40963200}", r"\dnum{40963201}"),
])
def test_a_changed_number_is_caught(fmt: str, old: str, new: str) -> None:
    text = _render("transformer-accounting", (), fmt)
    assert old in text
    report = check_text(text.replace(old, new, 1), f"sheet.{fmt}")
    assert report.exit_code == 1
    assert [c.verdict for c in report.mistakes] in (["wrong"], ["arithmetic error"])


def test_cli_round_trip_through_files(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["sheet", "llama-2-7b", "mixtral-8x7b", "--format", "all", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for path in sorted(tmp_path.glob("*.md")) + sorted(tmp_path.glob("*.tex")):
        checked = runner.invoke(main, ["check", str(path)])
        assert checked.exit_code == 0, checked.output
        assert "No mistakes found." in checked.output
