"""The conventions sheet: every published FLOP estimate beside derive's exact count, with the difference.

Every figure and closed form comes from derive.accounting.conventions; this module only arranges them. The
registry's text is written in the sources' notation (6N + 12LHQT, n_layer, 72 B s L h^2 (...)): it reaches the
templates as render.typeset values (Text, Citation, Formula), printed escaped as they are in Markdown and typeset
with `.tex` and `.html` (derive.render.notation reads that notation).
"""

from __future__ import annotations

from typing import Any, Mapping

import sympy

from ...accounting.conventions.facts import PARAM_COUNTS
from ...accounting.conventions.reconcile import exact_total
from ...accounting.conventions.registry import SCOPE_SHORT, SCOPES
from ...accounting.conventions.run import ConventionsAccounting, conventions_account
from ...model.architectures import EXTRA_GROUP_LABELS, GROUP_LABELS
from ...model.config import ModelConfig, load_config
from .. import latex
from ..environment import TeX
from ..escape import escape_tex
from ..formatting import expr_text
from ..typeset import Citation, Formula, Text
from .common import CONVENTIONS, sheet_text, used_symbols

DEFAULT_CONFIG = "gpt3-175b"  # the shape Megatron's formula is quoted for: its difference is 0 there

SHEET_CONVENTIONS: tuple[str, ...] = (
    *(c for c in CONVENTIONS if "lm_head is untied" not in c),
    "Backward: dX = dY W^T and dW = X^T dY for every matmul, each 2mkn FLOPs, so backward = 2 x forward exactly.",
    "Full recomputation: the block forward once more during backward (not lm_head), what Megatron's 96 counts.",
    ("Difference = exact - convention, in the convention's own unit (per token, per sequence or per step); "
     "a positive difference is FLOPs the convention leaves out."),
    ("MFU is the FLOPs per step times the steps per second over the peak FLOP/s of all devices together; HFU counts "
     "the recomputed FLOPs as well."),
)


# Closed forms are broken for a plain article's 345 pt: latex.equation counts a macro (\dff, \symNumKvHeads) as one
# glyph, and these sums of products of several symbols run wider than the other sheets' formulas.
TEX_WIDTH = 44


def tex_equation(lhs: str, expr: sympy.Expr, value: int) -> TeX:
    """`lhs = expr = value` as a displayed equation, broken at + and - where it is too wide."""
    return TeX(latex.equation(lhs, expr, rf" = \dnum{{{value}}}", width=TEX_WIDTH))


def tex_inline(expr: sympy.Expr) -> TeX:
    """A closed form for a table cell: a fraction over a long sum is written as a coefficient times the sum
    (3 S / h (...)), so TeX can break the line at the sum's + and -."""
    tokens = latex._terms_tex(sympy.sympify(expr), latex.MacroPrinter(), 0)  # width 0: open every such term
    return TeX(" ".join(tokens).replace(r"\Bigl(", "(").replace(r"\Bigr)", ")"))


def _lhs(key: str) -> str:
    return rf"F_{{\text{{{escape_tex(key)}}}}}"


def _group_label(group: str) -> str:
    return {**GROUP_LABELS, **EXTRA_GROUP_LABELS}.get(group, group).replace("feed-forward (SwiGLU)", "feed-forward")


def exact_context(acc: ConventionsAccounting) -> list[dict[str, Any]]:
    rows = []
    for key, label, scope, causal in (
            ("forward", "forward", "forward", False),
            ("training", "forward + backward", "training", False),
            ("training+recompute", "forward + backward + recomputed block forward", "training+recompute", False),
            ("training_causal", "forward + backward, attention halved (causal)", "training", True)):
        expr = exact_total(acc.derivation, scope, causal)
        rows.append({"key": key, "label": label, "value": acc.exact[key], "expr": expr, "text": expr_text(expr),
                     "tex": tex_equation("F", expr, acc.exact[key])})
    return rows


def convention_context(acc: ConventionsAccounting) -> list[dict[str, Any]]:
    out = []
    for row in acc.rows:
        c, r = row.convention, row.reconciled
        terms = [{"label": Text(t.row.label), "written": Formula(t.row.written),
                  "groups": Text(", ".join(_group_label(g) for g in t.row.groups) or "none in derive's count"),
                  "convention": t.convention, "exact": t.exact, "difference": t.exact - t.convention,
                  "diff_expr": t.difference, "diff_text": expr_text(t.difference), "diff_tex": tex_inline(t.difference)}
                 for t in row.terms]
        out.append({
            "key": c.key, "title": Text(c.title), "source": Citation(c.source), "counts": Text(c.counts),
            "attention": Text(c.attention), "as_written": Formula(c.as_written), "per": c.per,
            "scope": Text(SCOPES[c.scope]), "scope_short": SCOPE_SHORT[c.scope], "utilization": Text(c.utilization),
            "notes": [Text(n) for n in c.notes], "expr": r.expr, "text": expr_text(r.expr),
            "n": Text(PARAM_COUNTS[c.params]) if c.params else "",
            "n_value": acc.value(r.facts.n(c.params)) if c.params else None,
            "flops": row.flops, "flops_per_unit": row.flops_per_unit, "exact": row.exact,
            "exact_per_unit": row.exact_per_unit, "difference": row.exact - row.flops,
            "difference_per_unit": row.exact_per_unit - row.flops_per_unit,
            "diff_expr": row.difference, "diff_text": expr_text(row.difference),
            "tex_estimate": tex_equation(_lhs(c.key), r.expr, row.flops_per_unit),
            "tex_difference": tex_equation(rf"F_{{\text{{exact}}}} - {_lhs(c.key)}", row.difference,
                                           row.exact_per_unit - row.flops_per_unit),
            "ratio": f"{float(row.ratio):.4f}", "terms": terms,
        })
    return out


def model_context(acc: ConventionsAccounting) -> dict[str, Any]:
    ranked = sorted(acc.rows, key=lambda r: r.ratio)
    return {"config": acc.config, "batch_size": acc.batch_size, "seq_len": acc.seq_len,
            "tokens": acc.tokens_per_step, "exact": exact_context(acc), "conventions": convention_context(acc),
            "lowest": ranked[0].convention.key, "lowest_ratio": f"{float(ranked[0].ratio):.4f}",
            "highest": ranked[-1].convention.key, "highest_ratio": f"{float(ranked[-1].ratio):.4f}"}


def conventions_sheet(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """One section per config (default: GPT-3 175B) at batch_size 1 and seq_len = context_length."""
    chosen = configs or [load_config(DEFAULT_CONFIG, overrides)]
    accs = [conventions_account(c) for c in chosen]
    names, derived = used_symbols(accs)  # the symbol table lists what this sheet's formulas use
    return {"title": "FLOP conventions reconciled",
            "models": [model_context(a) for a in accs],
            "conventions": list(SHEET_CONVENTIONS),
            "text": {key: Text(value) for key, value in sheet_text("conventions").items()},
            "symbol_names": names | {"batch_size", "seq_len"}, "derived_dims": derived}
