"""A check Report: per-line verdicts (each line's claims inside), and how it is shown (terminal text, Markdown,
JSON with exact integers). Every string from the document passes through one escaping function per format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..model.config import ModelConfig
from .explain_text import show
from .values import fmt_int

VERDICTS = ("ok", "wrong", "arithmetic error", "not understood")
MAX_LISTED = 20  # line numbers a summary sentence lists before "and N more"
_SEVERITY = {"arithmetic error": 3, "wrong": 2, "not understood": 1, "ok": 0}
_UNITS = {"FLOPs": "FLOPs", "bytes": "bytes", "FLOP/s": "FLOP/s", "s": "s", "ratio": "ratio"}


@dataclass
class LineCheck:
    """The verdict on one line: its worst claim's, with every claim listed in `claims`."""

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
    claims: list[dict] = field(default_factory=list)
    expected_text: str | None = None  # the expected value as shown (also when it is not a whole number)

    def as_json(self) -> dict:
        out = {k: getattr(self, k) for k in ("number", "claim", "name", "verdict", "target", "expected", "unit",
                                             "claimed", "claimed_value", "explanation", "pitfall", "cause", "own")}
        out["expected_text"] = self.expected_text
        out["claims"] = self.claims
        return out


def _int(value) -> int | None:
    if value is None or getattr(value, "denominator", 1) != 1 or abs(int(value)).bit_length() > 13_000:
        return None
    return int(value)


def _claim_json(chk) -> dict:
    c = chk.claim
    return {"text": c.text if len(c.text) < 500 else c.text[:497] + "...", "label": c.label[:200] or None,
            "kind": c.kind, "claimed": str(c.value) if c.value is not None else None,
            "claimed_value": chk.claimed_value, "verdict": chk.verdict, "target": chk.target,
            "expected": _int(chk.expected), "unit": _UNITS.get(chk.family or ""),
            "expected_text": show(chk.expected, chk.family, c.value) if chk.expected is not None else None,
            "explanation": chk.explanation,
            "pitfall": chk.pitfall, "cause": chk.cause, "own": chk.own}


def line_checks(checks: list) -> list[LineCheck]:
    """One LineCheck per line with claims, its verdict the most serious of them."""
    by_line: dict[int, list] = {}
    for chk in checks:
        by_line.setdefault(chk.claim.line, []).append(chk)
    out = []
    for number, group in by_line.items():
        worst = max(group, key=lambda k: (_SEVERITY[k.verdict], k.own))
        c = worst.claim
        line = LineCheck(number, c.text.strip()[:500], (c.label or c.parent or None) and
                         re.sub(r"\s+", "_", (c.label or c.parent or "").strip().lower())[:80],
                         worst.verdict, worst.target, _int(worst.expected), _UNITS.get(worst.family or ""),
                         str(c.value) if c.value is not None else None, worst.claimed_value,
                         " ".join(k.explanation for k in group if k.explanation and (k is worst or k.verdict != "ok")),
                         next((k.pitfall for k in sorted(group, key=lambda k: -_SEVERITY[k.verdict]) if k.pitfall),
                              None),
                         next((k.cause for k in group if k.cause is not None), None),
                         any(k.own for k in group), [_claim_json(k) for k in group])
        if len(group) > 1:
            line.claim = max((k.claim.text for k in group), key=len)[:500]
        if worst.expected is not None:
            line.expected_text = show(worst.expected, worst.family, c.value)
        out.append(line)
    return out


@dataclass
class Report:
    file: str
    config: ModelConfig
    lines: list[LineCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    unchecked: int = 0  # claims found beyond the per-document limit, counted as not understood

    @property
    def mistakes(self) -> list[LineCheck]:
        return [c for c in self.lines if c.own]

    @property
    def exit_code(self) -> int:
        return 1 if any(c.verdict in ("wrong", "arithmetic error") for c in self.lines) else 0

    def counts(self) -> dict[str, int]:
        return {v: sum(c.verdict == v for c in self.lines) for v in VERDICTS}

    def claim_counts(self) -> dict[str, int]:
        counts = {v: sum(k["verdict"] == v for c in self.lines for k in c.claims) for v in VERDICTS}
        counts["not understood"] += self.unchecked
        return counts


def _expected(c: LineCheck) -> str:
    if c.expected is None:
        return c.expected_text or "-"
    return fmt_int(c.expected) + (f" {c.unit}" if c.unit and c.unit != "ratio" else "")


def summary_lines(report: Report) -> list[str]:
    counts = report.claim_counts()
    found = sum(counts.values())
    unexplained = counts["not understood"]
    checked = found - unexplained
    out = [f"{checked} of {found} numeric claim(s) checked, on {len(report.lines)} line(s): {counts['ok']} ok, "
           f"{counts['wrong']} wrong, {counts['arithmetic error']} arithmetic error(s); "
           f"{unexplained} not understood."]
    mistakes = report.mistakes
    if mistakes:
        what = ", ".join(f"line {c.number}" + (f" ({c.pitfall})" if c.pitfall else "") for c in mistakes[:MAX_LISTED])
        more = f", and {len(mistakes) - MAX_LISTED:,} more" if len(mistakes) > MAX_LISTED else ""
        out.append(f"{len(mistakes)} mistake(s): {what}{more}.")
    elif report.exit_code == 0 and not unexplained:
        out.append("No mistakes found.")
    elif report.exit_code == 0:
        lines = sorted({c.number for c in report.lines if any(k["verdict"] == "not understood" for k in c.claims)})
        shown = ", ".join(map(str, lines[:20])) + (", ..." if len(lines) > 20 else "")
        out.append(f"No mistakes among the {checked} claim(s) checked; {unexplained} claim(s) not understood "
                   f"(line(s) {shown}).")
    causes: dict[int, list[int]] = {}
    for c in report.lines:
        if c.cause is not None:
            causes.setdefault(c.cause, []).append(c.number)
    for cause, lines in list(causes.items())[:MAX_LISTED]:
        shown = ", ".join(map(str, lines[:MAX_LISTED])) + (f", and {len(lines) - MAX_LISTED:,} more"
                                                             if len(lines) > MAX_LISTED else "")
        out.append(f"Line(s) {shown} wrong only because of line {cause}.")
    effects = [(c.number, m.group(0)) for c in mistakes
               if (m := re.search(r"the total is [^.;]* too (?:high|low)", c.explanation))]
    for number, effect in effects[:MAX_LISTED]:
        out.append(f"Line {number}: {effect}.")
    if len(effects) > MAX_LISTED:
        out.append(f"({len(effects) - MAX_LISTED:,} more lines change the total.)")
    out.extend(report.notes)
    return [line for line in out if line]


def header(report: Report) -> str:
    return f"derive check {report.file} (config {report.config.name})"


def terminal(text: str) -> str:
    """Document text for a terminal: no control characters (escape sequences cannot reach the screen)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f\x9b]", "?", text).replace("\n", " ")


def as_text(report: Report) -> str:
    out = [terminal(header(report))]
    out += [terminal(f"model: {s}") for s in report.sources] + [""]
    for c in report.lines:
        out.append(terminal(f"line {c.number:>4}  {c.verdict:<16} {c.claim}"))
        details = c.claims if len(c.claims) > 1 else []
        if details:
            for k in details:
                detail = " -- ".join(x for x in (k["target"] and f"{k['target']}", k["explanation"]) if x)
                out.append(terminal(" " * 24 + f"{k['verdict']}: {k['claimed']}" + (f" -- {detail}" if detail else "")))
        else:
            detail = []
            if c.target:
                detail.append(f"{c.target} = {_expected(c)}")
            if c.explanation:
                detail.append(c.explanation)
            if detail and (c.verdict != "ok" or c.explanation):
                out.append(terminal(" " * 27 + " -- ".join(detail)))
    out += [""] + [terminal(s) for s in summary_lines(report)]
    return "\n".join(out) + "\n"


def md_cell(text: str) -> str:
    """Document text inside a Markdown table cell: inert (no HTML, no table breaks, no code-span breaks)."""
    text = terminal(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def as_markdown(report: Report) -> str:
    out = [f"# {md_cell(header(report))}", "", "| line | claim | verdict | expected | explanation |",
           "|---:|---|---|---:|---|"]
    for c in report.lines:
        out.append(f"| {c.number} | {md_cell(c.claim)} | {c.verdict} | {md_cell(_expected(c))} | "
                   f"{md_cell(c.explanation)} |")
    out += ["", "## Summary", ""] + [f"- {md_cell(line)}" for line in summary_lines(report)]
    return "\n".join(out) + "\n"


def as_json(report: Report) -> dict[str, Any]:
    counts = report.claim_counts()
    return {
        "file": report.file,
        "config": report.config.name,
        "exit_code": report.exit_code,
        "lines": [c.as_json() for c in report.lines],
        "summary": {**report.counts(), "checked": len(report.lines),
                    "claims_found": sum(counts.values()),
                    "claims_checked": sum(counts.values()) - counts["not understood"],
                    "claims": counts,
                    "mistakes": [c.number for c in report.mistakes],
                    "propagated": {str(c.number): c.cause for c in report.lines if c.cause is not None},
                    "notes": list(report.notes)},
    }
