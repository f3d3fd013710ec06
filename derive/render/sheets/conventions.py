"""The conventions sheet: every published FLOP estimate beside derive's exact count, with the difference.

Every figure and closed form comes from derive.accounting.conventions; this module only arranges them.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...accounting.conventions.facts import PARAM_COUNTS
from ...accounting.conventions.reconcile import exact_total
from ...accounting.conventions.registry import SCOPE_SHORT, SCOPES
from ...accounting.conventions.run import ConventionsAccounting, conventions_account
from ...model.architectures import EXTRA_GROUP_LABELS, GROUP_LABELS
from ...model.config import ModelConfig, load_config
from ..formatting import expr_text
from .common import CONVENTIONS, used_symbols

DEFAULT_CONFIG = "gpt3-175b"  # the shape Megatron's formula is quoted for: its difference is 0 there

SHEET_CONVENTIONS: tuple[str, ...] = (
    *(c for c in CONVENTIONS if "lm_head is untied" not in c),
    "Backward: dX = dY W^T and dW = X^T dY for every matmul, each 2mkn FLOPs, so backward = 2 x forward exactly.",
    "Full recomputation: the block forward once more during backward (not lm_head), what Megatron's 96 counts.",
    "Difference = exact - convention, in the convention's own unit (per token, per sequence or per step); "
    "a positive difference is FLOPs the convention leaves out.",
    "MFU = FLOPs per step x steps per second / (devices x peak FLOP/s); HFU counts recomputed FLOPs as well.",
)


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
        rows.append({"key": key, "label": label, "value": acc.exact[key], "expr": expr, "text": expr_text(expr)})
    return rows


def convention_context(acc: ConventionsAccounting) -> list[dict[str, Any]]:
    out = []
    for row in acc.rows:
        c, r = row.convention, row.reconciled
        terms = [{"label": t.row.label, "written": t.row.written,
                  "groups": ", ".join(_group_label(g) for g in t.row.groups) or "none in derive's count",
                  "convention": t.convention, "exact": t.exact, "difference": t.exact - t.convention,
                  "diff_expr": t.difference, "diff_text": expr_text(t.difference)} for t in row.terms]
        out.append({
            "key": c.key, "title": c.title, "source": c.source, "counts": c.counts, "attention": c.attention,
            "as_written": c.as_written, "per": c.per, "scope": SCOPES[c.scope], "scope_short": SCOPE_SHORT[c.scope], "utilization": c.utilization,
            "notes": c.notes, "expr": r.expr, "text": expr_text(r.expr),
            "n": PARAM_COUNTS[c.params] if c.params else "", "n_value": acc.value(r.facts.n(c.params)) if c.params
            else None,
            "flops": row.flops, "flops_per_unit": row.flops_per_unit, "exact": row.exact,
            "exact_per_unit": row.exact_per_unit, "difference": row.exact - row.flops,
            "difference_per_unit": row.exact_per_unit - row.flops_per_unit,
            "diff_expr": row.difference, "diff_text": expr_text(row.difference),
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
            "symbol_names": names | {"batch_size", "seq_len"}, "derived_dims": derived}
