"""The hand derivations in tests/data/check_cases (a verbatim copy of the project's shared cases): each
document is checked as expected.yaml says (arguments, exit status) and every listed line must get its
verdict, mention what it lists, and not get the verdicts it excludes. The expected verdicts were written by
hand, independently of derive (see the header of expected.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from derive.cli import main

CASES = Path(__file__).parent / "data" / "check_cases"
EXPECTED = yaml.safe_load((CASES / "expected.yaml").read_text(encoding="utf-8"))
# Our own cases, one document per class of the list (same format, figures worked out by hand).
CLASSES = Path(__file__).parent / "data" / "check_classes"
CLASS_EXPECTED = yaml.safe_load((CLASSES / "expected.yaml").read_text(encoding="utf-8"))
VERDICT = {"ok": "ok", "wrong": "wrong", "arithmetic": "arithmetic error", "not_understood": "not understood"}


def _runs(expected: dict):
    for doc, spec in expected.items():
        for k, run in enumerate(spec["runs"]):
            yield pytest.param(doc, k, run, id=f"{doc}-{k}:{' '.join(run['args']) or 'listing'}")


def _expectations(spec: dict, k: int) -> dict:
    """Which line expectations apply to run k: `lines` for runs that exit as the document's verdicts say,
    and `with_<name>` blocks for the runs they are written for (assumed-dff's third run)."""
    extra = {key: value for key, value in spec.items() if key.startswith("with_")}
    if extra and k == len(spec["runs"]) - 1 and spec["runs"][k]["exit"] != spec["runs"][0]["exit"]:
        merged = {}
        for block in extra.values():
            merged.update(block)
        return merged
    return spec.get("lines", {})


@pytest.mark.parametrize("doc, k, run", list(_runs(EXPECTED)))
def test_case(doc: str, k: int, run: dict) -> None:
    _check(CASES / doc, EXPECTED[doc], k, run)


@pytest.mark.parametrize("doc, k, run", list(_runs(CLASS_EXPECTED)))
def test_class(doc: str, k: int, run: dict) -> None:
    _check(CLASSES / doc, CLASS_EXPECTED[doc], k, run)


def _check(path: Path, spec: dict, k: int, run: dict) -> None:
    doc = path.name
    result = CliRunner().invoke(main, ["check", str(path), *map(str, run["args"]), "--format", "json"])
    assert result.exit_code == run["exit"], result.output
    report = json.loads(result.output)
    lines = {line["number"]: line for line in report["lines"]}
    for number, want in _expectations(spec, k).items():
        want = {"verdict": want} if isinstance(want, str) else want
        line = lines.get(int(number))
        if "verdict" in want:
            assert line is not None, f"{doc}:{number} has no claim in the report"
            assert line["verdict"] == VERDICT[want["verdict"]], (number, line)
        if line is None:
            continue
        for bad in want.get("not", []):
            assert line["verdict"] != VERDICT[bad], (number, line)
        mentions = want.get("mentions", [])
        text = " ".join([line["explanation"]] + [c["explanation"] for c in line.get("claims", [])]).lower()
        if mentions:
            assert any(str(m).lower() in text for m in mentions), (number, mentions, text)
