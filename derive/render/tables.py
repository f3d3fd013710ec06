"""`derive table`: one row per model, columns from a registry (data), as CSV, a Markdown pipe table or
a booktabs/siunitx LaTeX table. CSV keeps exact integers; Markdown and LaTeX show readable units.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from ..accounting.account import Accounting
from ..errors import UsageError
from .escape import escape_csv, escape_md, escape_tex
from .formatting import GB, fmt_decimal, fmt_int
from .latex import PGFPLOTS_COMPAT, macro_definitions, num, packages_comment


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # Markdown / plain header with its unit
    tex_header: tuple[str, ...]  # LaTeX header lines (may use symbol macros), stacked to keep columns narrow
    value: Callable[[Accounting], int | Fraction | str]
    kind: str  # text | int | gb | pct


def _attention_share(a: Accounting) -> Fraction:
    return a.shares["attention_projections"] + a.shares["attention_scores"]


COLUMNS: dict[str, Column] = {c.key: c for c in (
    Column("model", "model", ("Model",), lambda a: a.config.name, "text"),
    Column("num_layers", "num_layers", (r"$\nlayers$",), lambda a: a.config.num_layers, "int"),
    Column("d_model", "d_model", (r"$\dmodel$",), lambda a: a.config.d_model, "int"),
    Column("num_heads", "num_heads", (r"$\nheads$",), lambda a: a.config.num_heads, "int"),
    Column("d_ff", "d_ff", (r"$\dff$",), lambda a: a.config.d_ff, "int"),
    Column("context_length", "context_length", (r"$\ctxlen$",), lambda a: a.config.context_length, "int"),
    Column("params", "parameters", ("Parameters",), lambda a: a.total_params, "int"),
    Column("memory_fp32", "fp32 weights (GB)", ("fp32", "(GB)"), lambda a: a.memory("fp32").value, "gb"),
    Column("memory_bf16", "bf16 weights (GB)", ("bf16", "(GB)"), lambda a: a.memory("bf16").value, "gb"),
    Column("forward_flops", "forward FLOPs / sequence", ("FLOPs per", "sequence"), lambda a: a.forward_flops, "int"),
    Column("forward_flops_per_token", "forward FLOPs / token", ("FLOPs per", "token"),
           lambda a: Fraction(a.forward_flops, a.seq_len), "int"),
    Column("attention_share", "attention share", ("Attention", "share"), _attention_share, "pct"),
    Column("attention_scores_share", "attention-score share", ("Score", "share"),
           lambda a: a.shares["attention_scores"], "pct"),
    Column("ffn_share", "FFN share", ("FFN", "share"), lambda a: a.shares["ffn"], "pct"),
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
    """Exact integers; every cell through escape_csv (a name like `=1+1` cannot run in a spreadsheet)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in cols])
    for a in accs:
        writer.writerow([escape_csv(c.value(a)) for c in cols])
    return buf.getvalue()


def render_md(accs: list[Accounting], cols: list[Column]) -> str:
    lines = ["| " + " | ".join(c.header for c in cols) + " |",
             "|" + "|".join("---" if c.kind == "text" else "---:" for c in cols) + "|"]
    for a in accs:
        lines.append("| " + " | ".join(escape_md(_human(c.value(a), c.kind)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


# Widths for fitting a table to the text width of a plain 10pt article (345 pt) without compiling it:
# a font's digits are 0.5 em wide and commas/points 0.28 em; other characters are counted as 0.55 em.
TEXT_WIDTH_PT = 345.0 * 0.93  # with a margin for the estimate
FONT_PT = 8.0  # \footnotesize
TABCOLSEP_PT = 4.0
LONG_TABLE_ROWS = 30  # more rows than this: a longtable, which breaks across pages (not inside a float)


def _width(text: str, pt: float = FONT_PT) -> float:
    return sum((0.5 if ch.isdigit() else 0.28 if ch in ",." else 0.55) * pt for ch in text)


def _column_width(col: Column, accs: list[Accounting]) -> float:
    # a header's symbol macro ($\\nlayers$) prints one letter
    header = max(_width(re.sub(r"\\[A-Za-z]+|[${}]", "", line) or "x") for line in col.tex_header)
    return max([header] + [_width(_human(col.value(a), col.kind)) for a in accs]) + 2 * TABCOLSEP_PT


def _chunks(cols: list[Column], accs: list[Accounting], width: float) -> list[list[Column]]:
    """Columns in groups that each fit `width`; every group after the first repeats the first (text) column."""
    first, rest = cols[0], cols[1:]
    base = _column_width(first, accs)
    chunks: list[list[Column]] = [[first]]
    used = base
    for col in rest:
        w = _column_width(col, accs)
        if used + w > width and len(chunks[-1]) > 1:
            chunks.append([first])
            used = base
        chunks[-1].append(col)
        used += w
    return chunks


def _header_cell(col: Column) -> str:
    lines = col.tex_header
    if len(lines) == 1:
        return lines[0]
    align = "l" if col.kind == "text" else "r"
    return rf"\begin{{tabular}}[b]{{@{{}}{align}@{{}}}}" + r" \\ ".join(lines) + r"\end{tabular}"


def _tabular(accs: list[Accounting], cols: list[Column]) -> list[str]:
    spec = "".join("l" if c.kind == "text" else "r" for c in cols)
    env = "longtable" if len(accs) > LONG_TABLE_ROWS else "tabular"
    head = " & ".join(_header_cell(c) for c in cols) + r" \\"
    body = [rf"\begin{{{env}}}{{@{{}}{spec}@{{}}}}", r"\toprule", head, r"\midrule"]
    if env == "longtable":
        body += [r"\endfirsthead", r"\toprule", head, r"\midrule", r"\endhead", r"\bottomrule", r"\endfoot"]
    for a in accs:
        body.append(" & ".join(_tex(c.value(a), c.kind) for c in cols) + r" \\")
    if env == "tabular":
        body.append(r"\bottomrule")
    body.append(rf"\end{{{env}}}")
    return body


def tex_table_body(accs: list[Accounting], cols: list[Column], width: float = TEXT_WIDTH_PT) -> str:
    """The table in \footnotesize, fitted to `width` points: columns too many for one row of the page are
    split into several tables, each repeating the model column; more than LONG_TABLE_ROWS rows break across
    pages (longtable)."""
    parts = ["\\bgroup\\footnotesize\\setlength{\\tabcolsep}{%gpt}\\noindent" % TABCOLSEP_PT]
    for i, chunk in enumerate(_chunks(cols, accs, width)):
        if i:
            parts.append(r"\par\medskip\noindent")
        parts += _tabular(accs, chunk)
    parts.append(r"\egroup")
    return "\n".join(parts)


def render_tex(accs: list[Accounting], cols: list[Column], fragment: bool = False) -> str:
    table = tex_table_body(accs, cols)
    if fragment:
        return f"{packages_comment()}\n{macro_definitions()}\n{table}\n"
    return (
        "\\documentclass[10pt]{article}\n\\usepackage{amsmath}\n\\usepackage{booktabs}\n\\usepackage{tabularx}\n"
        "\\usepackage{longtable}\n\\usepackage{siunitx}\n"
        f"\\usepackage{{pgfplots}}\n\\pgfplotsset{{compat={PGFPLOTS_COMPAT}}}\n{macro_definitions()}\n"
        "\\begin{document}\n\\begin{center}\n"
        f"{table}\n\\end{{center}}\n\nParameters, weight memory (GB = $10^9$ bytes) and forward matmul FLOPs "
        f"of one full-length sequence (batch size 1).\n\\end{{document}}\n"
    )


def render_table(accs: list[Accounting], fmt: str = "md", columns: str | None = None,
                 fragment: bool = False) -> str:
    cols = parse_columns(columns)
    if not columns and len({a.seq_len for a in accs}) > 1:
        # Per-sequence FLOPs and shares of rows at different lengths are not comparable unless each row says its
        # length: the default columns then show context_length (the sequence each row counts).
        cols.insert(1, COLUMNS["context_length"])
    if fmt == "csv":
        return render_csv(accs, cols)
    if fmt == "md":
        return render_md(accs, cols)
    if fmt == "tex":
        return render_tex(accs, cols, fragment)
    raise UsageError(f"--format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
