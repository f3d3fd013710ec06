"""`derive conventions` as terminal text: every published estimate beside the exact count, and why they differ.

The numbers and closed forms come from derive.accounting.conventions; this module only lays them out.
"""

from __future__ import annotations

from fractions import Fraction

from ..accounting.conventions.facts import PARAM_COUNTS
from ..accounting.conventions.registry import SCOPE_SHORT, SCOPES
from ..accounting.conventions.run import ConventionsAccounting
from .formatting import expr_text, fmt_int


def pct(x: Fraction) -> str:
    return f"{float(x) * 100:.1f}%"


def number(x: Fraction) -> str:
    """An exact measured value as written: 238,300 or 12.5, never 2.383e+05."""
    return fmt_int(int(x)) if x.denominator == 1 else f"{float(x):,}"


def exact_lines(acc: ConventionsAccounting) -> list[tuple[str, int]]:
    e = acc.exact
    return [("forward", e["forward"]), ("forward + backward", e["training"]),
            ("forward + backward + recomputed block forward", e["training+recompute"]),
            ("forward + backward, attention halved (causal)", e["training_causal"])]


def _table(rows: list[tuple[str, ...]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def conventions_text(acc: ConventionsAccounting) -> str:
    """The table, the MFU each convention gives a measured throughput, and each difference term by term."""
    c, m = acc.config, acc.measured
    out = [f"{c.name}: published FLOP conventions beside derive's exact count",
           f"batch_size {acc.batch_size:,}, seq_len {acc.seq_len:,} ({acc.tokens_per_step:,} tokens per step); "
           "FLOPs per step; difference = exact - convention", "",
           "exact matmul FLOPs (1 MAC = 2 FLOPs; attention as the full square; backward = dX and dW per matmul):"]
    width = max(len(label) for label, _ in exact_lines(acc))
    out += [f"  {label:<{width}}  {value:>28,}" for label, value in exact_lines(acc)]
    if m is not None:
        out += ["", f"measured: {number(m.tokens_per_second)} tokens/s on {m.devices:,} device(s) at "
                    f"{number(m.peak_flops)} FLOP/s peak each ({m.hardware})"]
        eu = acc.exact_utilization()
        out.append(f"  exact model FLOPs: MFU {pct(eu['training'])}; causal: {pct(eu['training_causal'])}; "
                   f"with full recomputation (HFU): {pct(eu['training+recompute'])}")
    out.append("")
    head = ("convention", "counts", "per", "FLOPs per step", "/ exact", "exact - convention")
    rows = [head + (("MFU",) if m else ())]
    for r in acc.rows:
        row = (r.convention.key, SCOPE_SHORT[r.convention.scope], r.convention.per, fmt_int(r.flops),
               f"{float(r.ratio):.4f}", fmt_int(r.exact - r.flops))
        mfu = f"{pct(r.utilization)} {r.convention.utilization}" if r.utilization is not None else "n/a (forward)"
        rows.append(row + ((mfu,) if m else ()))
    out += _table(rows, {3, 4, 5, 6})
    out += ["", "differences (exact - convention) in each convention's unit, term by term:"]
    for r in acc.rows:
        conv = r.convention
        out += ["", f"{conv.key}: {conv.title}",
                f"  as written: {conv.as_written} per {conv.per}; compared with the exact {SCOPES[conv.scope]}",
                f"  counts: {conv.counts}; attention: {conv.attention}",
                f"  source: {conv.source}"]
        if conv.params:
            out.append(f"  N = {PARAM_COUNTS[conv.params]} = {fmt_int(acc.value(r.reconciled.facts.n(conv.params)))}")
        out.append(f"  difference per {conv.per} = {expr_text(r.difference)} = "
                   f"{fmt_int(r.exact_per_unit - r.flops_per_unit)}")
        for t in r.terms:
            what = f"{t.row.label} ({t.row.written})" if t.row.written else f"{t.row.label}: {', '.join(t.row.groups)}"
            out.append(f"    {what}: {expr_text(t.difference)} = {fmt_int(t.exact - t.convention)}")
    return "\n".join(out) + "\n"
