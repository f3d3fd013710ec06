"""A check Report: per-line verdicts, and how it is shown (terminal text, Markdown, JSON with exact integers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model.config import ModelConfig

VERDICTS = ("ok", "wrong", "arithmetic error", "not understood")


@dataclass
class LineCheck:
    """The verdict on one claim line."""

    number: int
    claim: str
    name: str | None
    verdict: str = "ok"
    target: str | None = None
    expected: int | None = None
    unit: str | None = None
    claimed: str | None = None
    claimed_value: int | None = None
    explanation: str = ""
    pitfall: str | None = None
    cause: int | None = None  # the first line whose mistake this line only carries
    own: bool = False  # the line has a mistake of its own

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in ("number", "claim", "name", "verdict", "target", "expected", "unit",
                                              "claimed", "claimed_value", "explanation", "pitfall", "cause", "own")}


@dataclass
class Report:
    file: str
    config: ModelConfig
    lines: list[LineCheck] = field(default_factory=list)

    @property
    def mistakes(self) -> list[LineCheck]:
        return [c for c in self.lines if c.own]

    @property
    def exit_code(self) -> int:
        return 1 if any(c.verdict in ("wrong", "arithmetic error") for c in self.lines) else 0

    def counts(self) -> dict[str, int]:
        return {v: sum(c.verdict == v for c in self.lines) for v in VERDICTS}


def _expected(c: LineCheck) -> str:
    if c.expected is None:
        return "-"
    return f"{c.expected:,}" + (f" {c.unit}" if c.unit else "")


def summary_lines(report: Report) -> list[str]:
    counts = report.counts()
    out = [f"{len(report.lines)} lines checked: {counts['ok']} ok, {counts['wrong']} wrong, "
           f"{counts['arithmetic error']} arithmetic error(s), {counts['not understood']} not understood."]
    mistakes = report.mistakes
    if not mistakes:
        out.append("No mistakes found." if report.exit_code == 0 else "")
    else:
        what = ", ".join(f"line {c.number}" + (f" ({c.pitfall})" if c.pitfall else "") for c in mistakes)
        out.append(f"{len(mistakes)} mistake(s): {what}.")
    causes: dict[int, list[int]] = {}
    for c in report.lines:
        if c.cause is not None:
            causes.setdefault(c.cause, []).append(c.number)
    for cause, lines in causes.items():
        out.append(f"Line(s) {', '.join(map(str, lines))} wrong only because of line {cause}.")
    return [line for line in out if line]


def header(report: Report) -> str:
    return f"derive check {report.file} (config {report.config.name})"


def as_text(report: Report) -> str:
    out = [header(report), ""]
    for c in report.lines:
        out.append(f"line {c.number:>4}  {c.verdict:<16} {c.claim}")
        detail = []
        if c.target:
            detail.append(f"{c.target} = {_expected(c)}")
        if c.explanation:
            detail.append(c.explanation)
        if detail and (c.verdict != "ok" or c.explanation):
            out.append(" " * 27 + " -- ".join(detail))
    out += [""] + summary_lines(report)
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(report: Report) -> str:
    out = [f"# {header(report)}", "", "| line | claim | verdict | expected | explanation |",
           "|---:|---|---|---:|---|"]
    for c in report.lines:
        out.append(f"| {c.number} | `{_cell(c.claim)}` | {c.verdict} | {_cell(_expected(c))} | {_cell(c.explanation)} |")
    out += ["", "## Summary", ""] + [f"- {line}" for line in summary_lines(report)]
    return "\n".join(out) + "\n"


def as_json(report: Report) -> dict[str, Any]:
    return {
        "file": report.file,
        "config": report.config.name,
        "exit_code": report.exit_code,
        "lines": [c.as_json() for c in report.lines],
        "summary": {**report.counts(), "checked": len(report.lines),
                    "mistakes": [c.number for c in report.mistakes],
                    "propagated": {str(c.number): c.cause for c in report.lines if c.cause is not None}},
    }
