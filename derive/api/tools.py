"""Checking a hand derivation, verifying against PyTorch, and sweeps."""

from __future__ import annotations

from typing import Any, Sequence

from ..accounting.account import Accounting
from ..model.config import ModelConfig


def check_document(text: str, file: str = "<text>", config: "str | ModelConfig | None" = None,
                   overrides: "dict[str, Any] | None" = None):
    """Check a hand derivation (derive.check.report.Report).

    `config` None means the model the document gives; `overrides` are --set values applied to that model.
    A .tex file (or a document with \\documentclass) is read as LaTeX. Raises DeriveError on bad input."""
    from ..check.checker import check_text

    return check_text(text, file, config, overrides)


def read_document(file: str) -> str:
    """The text of a document to check: a regular file or standard input (`-`), at most 20 MB, UTF-8.
    A FIFO, a device or a directory, a larger input or undecodable bytes raise UsageError (one line)."""
    from ..check.source import read_document as read

    return read(file)


def check_report_text(report, fmt: str = "text") -> str:
    """A check Report as terminal text or Markdown."""
    from ..check.report import as_markdown, as_text

    return as_markdown(report) if fmt == "md" else as_text(report)


def check_report_json(report) -> dict[str, Any]:
    """A check Report as a JSON-ready dict (`lines`, `summary`, exact integers)."""
    from ..check.report import as_json

    return as_json(report)


def sweep(config: ModelConfig, varies: Sequence[str], quantities: str = "params,forward_flops",
          architecture: str | None = None):
    """Every combination of `varies` ('d_model=512:8192:512', 'num_layers=12,24') around `config`."""
    from ..accounting.quantities import parse_quantities
    from ..accounting.sweep import parse_varies, run_sweep

    return run_sweep(config, parse_varies(varies), parse_quantities(quantities), architecture)


def sweep_text(result, fmt: str = "csv") -> str:
    from ..accounting.sweep import to_csv, to_json

    return to_csv(result) if fmt == "csv" else to_json(result)


def sweep_plan(config: ModelConfig, varies: Sequence[str], quantities: str = "params,forward_flops",
               architecture: str | None = None):
    """The sweep of api.sweep before any row is evaluated (derive.accounting.sweep.SweepPlan): the number
    of combinations is checked first, and its rows are computed block by block by sweep_pieces."""
    from ..accounting.quantities import parse_quantities
    from ..accounting.sweep import parse_varies, plan_sweep

    return plan_sweep(config, parse_varies(varies), parse_quantities(quantities), architecture)


def sweep_pieces(source, fmt: str = "csv"):
    """The CSV or JSON text of a sweep (a SweepPlan or SweepResult) as an iterator of pieces: memory stays
    bounded for any number of rows, and the joined pieces equal sweep_text."""
    from ..accounting.sweep import csv_pieces, json_pieces

    return csv_pieces(source) if fmt == "csv" else json_pieces(source)


def sweep_arithmetic(result) -> list[str]:
    from ..accounting.sweep import arithmetic_note

    return arithmetic_note(result)


def verify(acc: Accounting):
    """Compare `acc` with a PyTorch model built on the meta device (derive.verify.compare.VerifyResult)."""
    from ..verify.compare import verify as run

    return run(acc)


def verify_text(result) -> str:
    """A VerifyResult as the side-by-side table `derive verify` prints."""
    from ..verify.compare import result_text

    return result_text(result)
