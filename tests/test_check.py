"""derive check: the original document, golden fixtures per pitfall, the sheet round trip, and the CLI.

Expected values come from the hand formulas in conftest (hand_params, hand_forward_flops) or are written
out here; the fixtures' *.expected.json files were reviewed by hand line by line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import hand_forward_flops, hand_params
from derive import api
from derive.check.checker import check_text
from derive.check.report import as_json, as_markdown, as_text
from derive.cli import main
from derive.model.config import ModelConfig

DATA = Path(__file__).parent / "data" / "check"
FIXTURES = sorted(p for p in DATA.iterdir() if not p.name.endswith(".expected.json"))
V, T, L, D, H, DFF = 50257, 1024, 48, 1600, 25, 6400


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# ------------------------------------------------------------------ golden fixtures (black-style)

@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_verdicts(path: Path) -> None:
    expected = json.loads(path.with_name(path.name.rsplit(".", 1)[0] + ".expected.json").read_text())
    report = check_text(path.read_text(), path.name, expected["config"])
    got = {str(c.number): {"verdict": c.verdict, "pitfall": c.pitfall, "cause": c.cause,
                           "explanation": c.explanation} for c in report.lines if c.verdict != "ok"}
    assert got == expected["lines"]
    assert len(report.lines) == expected["checked"]
    assert report.exit_code == expected["exit_code"]


def test_every_pitfall_has_a_fixture() -> None:
    from derive.check.pitfalls import GB_VS_GIB, PITFALLS

    seen = set()
    for path in DATA.glob("*.expected.json"):
        seen |= {line["pitfall"] for line in json.loads(path.read_text())["lines"].values()}
    assert set(PITFALLS) | {GB_VS_GIB.key} <= seen


# ------------------------------------------------------------------ the original document

@pytest.fixture(scope="module")
def original():
    return check_text((DATA / "original.txt").read_text(), "original.txt", "gpt2-xl")


def test_original_has_exactly_two_mistakes(original) -> None:
    mistakes = {c.number: c.pitfall for c in original.mistakes}
    assert mistakes == {41: "rope_buffers", 55: "gb_vs_gib"}
    assert original.exit_code == 1


def test_original_rope_tables_counted_as_parameters(original) -> None:
    by_line = {c.number: c for c in original.lines}
    rope_per_block = 2 * T * (D // H)
    assert rope_per_block == 131_072
    block = by_line[41]
    assert block.verdict == "wrong"
    assert block.expected == 4 * D * D + 3 * D * DFF + 2 * D
    assert block.claimed_value - block.expected == rope_per_block
    assert "RoPE cos and sin tables" in block.explanation
    total = by_line[52]
    assert total.expected == hand_params(V, L, D, DFF)
    assert total.claimed_value - total.expected == L * rope_per_block == 6_291_456
    for number in (43, 52, 55):
        assert by_line[number].cause == 41
        assert f"wrong only because of line 41" in by_line[number].explanation
    assert by_line[36].verdict == "ok" and "buffer" in by_line[36].explanation  # the table itself is right


def test_original_gb_called_gib(original) -> None:
    memory = next(c for c in original.lines if c.number == 55)
    # issue 11: a unit named for its twin is a wrong claim, not an arithmetic error (the arithmetic is right)
    assert memory.verdict == "wrong" and memory.pitfall == "gb_vs_gib"
    wrong_bytes = 4 * (hand_params(V, L, D, DFF) + L * 2 * T * (D // H))
    assert wrong_bytes == memory.claimed_value == 8_533_396_224
    assert f"{wrong_bytes / 2**30:.2f} GiB = {wrong_bytes / 10**9:.2f} GB, not 7.95 GB" in memory.explanation
    assert memory.expected == 4 * hand_params(V, L, D, DFF)


def test_original_part_b_all_ok(original) -> None:
    part_b = [c for c in original.lines if c.number > 60]
    assert len(part_b) == 16 and all(c.verdict == "ok" for c in part_b)
    final = part_b[-1]
    assert final.expected == final.claimed_value == hand_forward_flops(V, L, D, DFF, 1, T)


def test_original_cli_exit_codes() -> None:
    assert run("check", str(DATA / "original.txt"), "--config", "gpt2-xl").exit_code == 1
    assert run("check", str(DATA / "original.txt")).exit_code == 1  # config read from the listing
    assert run("check", str(DATA / "original_corrected.txt"), "--config", "gpt2-xl").exit_code == 0


# ------------------------------------------------------------------ round trip: derive sheet -> derive check

def _assert_clean(report) -> None:
    bad = [(c.number, c.verdict, c.claim, c.explanation) for c in report.lines if c.verdict != "ok"]
    assert bad == []
    assert report.exit_code == 0 and len(report.lines) > 40


def test_round_trip_default_sheet() -> None:
    _assert_clean(check_text(api.render_sheet(fmt="md"), "sheet.md"))


def test_round_trip_several_configs() -> None:
    configs = api.load_configs(["gpt2-small", "gpt2-medium"])
    _assert_clean(check_text(api.render_sheet(configs=configs, fmt="md"), "sheet.md", configs[0]))


@settings(max_examples=4, deadline=None)
@given(layers=st.integers(1, 6), heads=st.integers(1, 4), d_k=st.sampled_from([8, 16, 32]),
       ff=st.integers(1, 4), vocab=st.integers(50, 5000))
def test_round_trip_random_configs(layers: int, heads: int, d_k: int, ff: int, vocab: int) -> None:
    d = heads * d_k
    cfg = ModelConfig("random", vocab, 64, layers, d, heads, ff * d)
    _assert_clean(check_text(api.render_sheet(configs=[cfg], fmt="md"), "sheet.md", cfg))


def test_round_trip_catches_a_changed_number() -> None:
    text = api.render_sheet(fmt="md").replace("= 40,963,200", "= 40,963,201", 1)
    report = check_text(text, "sheet.md")
    assert report.exit_code == 1 and len(report.mistakes) == 1


# ------------------------------------------------------------------ reports and bad input

def test_json_report_is_exact(original) -> None:
    result = run("check", str(DATA / "original.txt"), "--json", "--config", "gpt2-xl")
    data = json.loads(result.output)
    assert result.exit_code == 1
    assert data["summary"]["mistakes"] == [41, 55]
    assert data["summary"]["propagated"] == {"43": 41, "52": 41, "55": 41}
    line = next(x for x in data["lines"] if x["number"] == 52)
    assert line["expected"] == hand_params(V, L, D, DFF) and isinstance(line["expected"], int)
    assert as_json(original) == {**data, "file": "original.txt"}


def test_text_and_markdown_reports(original) -> None:
    text = as_text(original)
    assert "2 mistake(s): line 41 (rope_buffers), line 55 (gb_vs_gib)." in text
    assert "Line(s) 43, 52, 55 wrong only because of line 41." in text
    md = as_markdown(original)
    assert "| line | claim | verdict | expected | explanation |" in md
    assert "| 41 |" in md and "## Summary" in md
    result = run("check", str(DATA / "original.txt"), "--format", "md")
    assert result.output == as_markdown(check_text((DATA / "original.txt").read_text(),
                                                   str(DATA / "original.txt")))


@pytest.mark.parametrize("args, needle", [
    (("check", "/nonexistent/answer.md"), "/nonexistent/answer.md"),
    (("check", str(DATA / "original.txt"), "--config", "no-such-model"), "no-such-model"),
])
def test_bad_input_exits_2(args, needle) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2
    assert needle in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_no_config_anywhere_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "answer.md"
    path.write_text("q_proj: 1,600 * 1,600 = 2,560,000\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output and "d_model" in result.output
