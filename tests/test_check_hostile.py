"""derive check on hostile input (issue 13, the check parts): what it reads (regular files or standard input,
at most 20 MB), numbers beyond Python's 4,300-digit limit, deep nesting, long lines, LaTeX that loops, and
document text that would be markup in a report. Every case: the documented exit status, one line on error,
no traceback, nothing written. Speed on long documents is measured in benchmarks/check.py, not here."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from derive.check.checker import check_text
from derive.check.report import as_markdown, as_text
from derive.check.source import MAX_BYTES
from derive.cli import main

LISTING = ("vocab_size : 50,257\ncontext_length : 1,024\nnum_layers : 48\nd_model : 1,600\nnum_heads : 25\n"
           "d_ff : 6,400\n\n")


def _run(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


def _one_line_error(result, needle: str) -> None:
    assert result.exit_code == 2, result.output
    out = result.output.strip()
    assert len(out.splitlines()) == 1 and needle in out and "Traceback" not in out, out


@pytest.fixture
def listing_file(tmp_path: Path):
    def make(body: str, name: str = "answer.md") -> Path:
        path = tmp_path / name
        path.write_text(LISTING + body, encoding="utf-8")
        return path
    return make


# ------------------------------------------------------------------ what is read

def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    _one_line_error(_run("check", str(fifo)), "a FIFO")


@pytest.mark.parametrize("path, kind", [("/dev/zero", "a device"), ("/dev/null", "a device"), ("/", "a directory")])
def test_special_files_are_refused(path: str, kind: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist on this system")
    _one_line_error(_run("check", path), kind)


def test_too_large_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    with open(path, "wb") as fh:  # sparse: MAX_BYTES + 1 bytes without writing them
        fh.truncate(MAX_BYTES + 1)
    _one_line_error(_run("check", str(path)), "larger than 20 MB")


def test_too_large_standard_input_is_refused() -> None:
    _one_line_error(_run("check", "-", stdin=b"x" * (MAX_BYTES + 1)), "larger than 20 MB")


def test_standard_input_is_read() -> None:
    result = _run("check", "-", "--format", "json", stdin=(LISTING + "q_proj: 1,600 * 1,600 = 2,560,000\n").encode())
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["file"] == "-" and [line["verdict"] for line in data["lines"]] == ["ok"]


@pytest.mark.parametrize("data, needle", [(b"\xff\xfe\x00bad", "not UTF-8"), (b"q: 1 = 1\n", "does not list")])
def test_undecodable_or_configless_input(tmp_path: Path, data: bytes, needle: str) -> None:
    path = tmp_path / "answer.md"
    path.write_bytes(data)
    _one_line_error(_run("check", str(path)), needle)


def test_file_name_with_a_newline_gives_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad\nname.md"
    path.write_bytes(b"\xff")
    result = _run("check", str(path))
    _one_line_error(result, "bad\\nname.md")


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.md"
    path.write_text(LISTING)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # running as root: permissions do not stop us
            pytest.skip("root reads any file")
        _one_line_error(_run("check", str(path)), "cannot read")
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


# ------------------------------------------------------------------ numbers and nesting

def test_power_beyond_the_digit_limit_is_an_arithmetic_error(listing_file) -> None:
    result = _run("check", str(listing_file("x: 15^4096 = 1\n")), "--format", "json")
    assert result.exit_code == 1
    line = json.loads(result.output)["lines"][0]
    # 15^4096 has 4,818 digits (4096 * log10(15) = 4,817.27): written as a magnitude, never str()-ed
    assert line["verdict"] == "arithmetic error" and "e4817" in line["explanation"]


@pytest.mark.parametrize("body, reason", [
    (f"y: {'9' * 5000} = 1\n", "5,000 digits"),
    (f"z: {'(' * 100_000}1{')' * 100_000} = 1\n", "characters"),  # a line of 200,008: not read
    (f"z: {'(' * 2_000}1{')' * 2_000} = 1\n", "nested more than 50"),
    (f"z: {'(' * 60}1{')' * 60} = 1\n", "nested more than 50"),
    ("w: 2 ^ 100000 = 1\n", "too large"),
    (f"v : {'7' * 5000}\n", None),  # a listing value beyond the digit limit is not a listing
])
def test_numbers_and_nesting_beyond_limits_are_not_understood(listing_file, body: str, reason: str | None) -> None:
    result = _run("check", str(listing_file(body)), "--format", "json")
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    data = json.loads(result.output)
    if reason:
        assert [line["verdict"] for line in data["lines"]] == ["not understood"]
        assert reason in data["lines"][0]["explanation"]


def test_listing_with_huge_size_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "answer.md"
    path.write_text(LISTING.replace("50,257", "9" * 5000))
    _one_line_error(_run("check", str(path)), "vocab_size")


def test_long_line_is_reported_not_parsed(listing_file) -> None:
    report = check_text(LISTING + "x = " + "1 + " * 60_000 + "1\n", "long.md")
    assert [c.verdict for c in report.lines] == ["not understood"]
    assert "not read" in report.lines[0].explanation or "too long" in report.lines[0].explanation
    assert "No mistakes found" not in as_text(report)


def test_many_equals_on_one_line(listing_file) -> None:
    report = check_text(LISTING + "x = " + " = ".join(["2"] * 50_000) + "\n", "eq.md")
    assert report.exit_code == 0 and len(report.lines) <= 1


# ------------------------------------------------------------------ LaTeX

@pytest.mark.parametrize("tex", [
    "\\newcommand{\\a}{\\a}\n\\begin{document}\n$\\a = 2$\n\\end{document}\n",  # a macro that expands into itself
    "\\begin{document}\n$" + "{" * 10_000 + "2" + "}" * 10_000 + "$\n\\end{document}\n",
    "\\begin{document}\n\\input{/etc/passwd} \\include{/etc/shadow}\n\\end{document}\n",
    "\\begin{document}\n\\begin{tabular}{ll}\n" + "a & b \\\\\n" * 2000 + "\\end{tabular}\n\\end{document}\n",
])
def test_hostile_latex_is_read_as_text(tmp_path: Path, tex: str) -> None:
    path = tmp_path / "answer.tex"
    path.write_text(tex.replace("\\begin{document}\n", "\\begin{document}\n" + LISTING, 1))
    result = _run("check", str(path))
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    assert "root:" not in result.output  # nothing is read from \input


# ------------------------------------------------------------------ document text in reports

def test_document_text_is_inert_in_every_report(listing_file) -> None:
    body = ("<script>alert(1)</script> | q_proj: 1,600 * 1,600 = 2,560,001 `\x1b[31m` **x**\n"
            "# not a heading | lm_head: 80,411,200 ![img](http://x)\n")
    report = check_text(LISTING + body, "x.md")
    md = as_markdown(report)
    assert "<script>" not in md and "\x1b" not in md
    table = [line for line in md.splitlines() if line.startswith("| ") and "q\\_proj" in line]
    assert table and all(line.count(" | ") == 4 for line in table)  # no extra cells: `|` is escaped
    text = as_text(report)
    assert "\x1b" not in text
