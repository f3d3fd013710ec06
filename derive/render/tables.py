"""`derive table`: one row per model, columns from a registry (data), as CSV, a Markdown pipe table or
a booktabs/siunitx LaTeX table. CSV keeps exact integers; Markdown and LaTeX show readable units.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from ..accounting.account import Accounting
from ..errors import UsageError
from .environment import escape_tex
from .formatting import GB, fmt_decimal, fmt_int
from .latex import PGFPLOTS_COMPAT, macro_definitions, num, packages_comment


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # Markdown / plain header with its unit
    tex_header: str  # LaTeX header (may use symbol macros)
    value: Callable[[Accounting], int | Fraction | str]
    kind: str  # text | int | gb | pct


def _attention_share(a: Accounting) -> Fraction:
    return a.shares["attention_projections"] + a.shares["attention_scores"]


COLUMNS: dict[str, Column] = {c.key: c for c in (
    Column("model", "model", "Model", lambda a: a.config.name, "text"),
    Column("num_layers", "num_layers", r"$\nlayers$", lambda a: a.config.num_layers, "int"),
    Column("d_model", "d_model", r"$\dmodel$", lambda a: a.config.d_model, "int"),
    Column("num_heads", "num_heads", r"$\nheads$", lambda a: a.config.num_heads, "int"),
    Column("d_ff", "d_ff", r"$\dff$", lambda a: a.config.d_ff, "int"),
    Column("context_length", "context_length", r"$\ctxlen$", lambda a: a.config.context_length, "int"),
    Column("params", "parameters", "Parameters", lambda a: a.total_params, "int"),
    Column("memory_fp32", "fp32 weights (GB)", "fp32 (GB)", lambda a: a.memory("fp32").value, "gb"),
    Column("memory_bf16", "bf16 weights (GB)", "bf16 (GB)", lambda a: a.memory("bf16").value, "gb"),
    Column("forward_flops", "forward FLOPs / sequence", "FLOPs/seq.", lambda a: a.forward_flops, "int"),
    Column("forward_flops_per_token", "forward FLOPs / token", "FLOPs/token",
           lambda a: Fraction(a.forward_flops, a.seq_len), "int"),
    Column("attention_share", "attention share", "Attn.\\ share", _attention_share, "pct"),
    Column("attention_scores_share", "attention-score share", "Scores share",
           lambda a: a.shares["attention_scores"], "pct"),
    Column("ffn_share", "FFN share", "FFN share", lambda a: a.shares["ffn"], "pct"),
)}
DEFAULT_COLUMNS = ("model", "params", "memory_fp32", "memory_bf16", "forward_flops", "forward_flops_per_token",
                   "attention_share")
FORMATS = ("md", "csv", "tex")


def parse_columns(spec: str | None) -> list[Column]:
    if not spec:
        return [COLUMNS[k] for k in DEFAULT_COLUMNS]
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    for k in keys:
        if k not in COLUMNS:
            raise UsageError(f"--columns: unknown column {k!r} (known: {', '.join(COLUMNS)})")
    if not keys:
        raise UsageError("--columns: give at least one column")
    return [COLUMNS[k] for k in keys]


def _exact(v: int | Fraction | str) -> str:
    """CSV: integers exact; a non-integer ratio as a decimal with 6 places."""
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else f"{float(v):.6f}"
    return str(v)


def _human(v: int | Fraction | str, kind: str) -> str:
    if kind == "text":
        return str(v)
    if kind == "gb":
        return fmt_decimal(Fraction(v, GB))
    if kind == "pct":
        return f"{float(v) * 100:.1f}%"
    if isinstance(v, Fraction) and v.denominator != 1:
        return f"{float(v):,.1f}"
    return fmt_int(int(v))


def _tex(v: int | Fraction | str, kind: str) -> str:
    if kind == "text":
        return escape_tex(str(v))
    if kind == "gb":
        return rf"\dnum{{{fmt_decimal(Fraction(v, GB)).replace(',', '')}}}"
    if kind == "pct":
        return rf"\dnum{{{float(v) * 100:.1f}}}\,\%"
    if isinstance(v, Fraction) and v.denominator != 1:
        return rf"\dnum{{{float(v):.1f}}}"
    return num(int(v))


def render_csv(accs: list[Accounting], cols: list[Column]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in cols])
    for a in accs:
        writer.writerow([_exact(c.value(a)) for c in cols])
    return buf.getvalue()


def render_md(accs: list[Accounting], cols: list[Column]) -> str:
    lines = ["| " + " | ".join(c.header for c in cols) + " |",
             "|" + "|".join("---" if c.kind == "text" else "---:" for c in cols) + "|"]
    for a in accs:
        lines.append("| " + " | ".join(_human(c.value(a), c.kind).replace("|", r"\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def render_tex(accs: list[Accounting], cols: list[Column], fragment: bool = False) -> str:
    spec = "".join("l" if c.kind == "text" else "r" for c in cols)
    body = [r"\begin{tabular}{@{}" + spec + "@{}}", r"\toprule",
            " & ".join(c.tex_header for c in cols) + r" \\", r"\midrule"]
    for a in accs:
        body.append(" & ".join(_tex(c.value(a), c.kind) for c in cols) + r" \\")
    body += [r"\bottomrule", r"\end{tabular}"]
    table = "\n".join(body)
    if fragment:
        return f"{packages_comment()}\n{macro_definitions()}\n{table}\n"
    return (
        "\\documentclass[10pt]{article}\n\\usepackage[margin=2.2cm]{geometry}\n"
        "\\usepackage{amsmath}\n\\usepackage{booktabs}\n\\usepackage{tabularx}\n\\usepackage{siunitx}\n"
        f"\\usepackage{{pgfplots}}\n\\pgfplotsset{{compat={PGFPLOTS_COMPAT}}}\n{macro_definitions()}\n"
        "\\begin{document}\n\\begin{table}[ht]\n\\centering\n\\small\n"
        f"{table}\n\\caption{{Parameters, weight memory (GB = $10^9$ bytes) and forward matmul FLOPs "
        f"of one full-length sequence (batch size 1).}}\n\\end{{table}}\n\\end{{document}}\n"
    )


def render_table(accs: list[Accounting], fmt: str = "md", columns: str | None = None,
                 fragment: bool = False) -> str:
    cols = parse_columns(columns)
    if fmt == "csv":
        return render_csv(accs, cols)
    if fmt == "md":
        return render_md(accs, cols)
    if fmt == "tex":
        return render_tex(accs, cols, fragment)
    raise UsageError(f"--format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
