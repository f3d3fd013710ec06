"""What every sheet shares: the conventions text and the context built from one Accounting.

Every figure comes from an Accounting; these functions only arrange them for the templates.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

import yaml

from ...accounting.account import DTYPE_BYTES, Accounting
from ...errors import RenderError
from ...resources import templates_dir
from ..formatting import GB, GIB, expr_latex, expr_text, fmt_decimal, fmt_int, tree_lines

DEFAULT_SHEET = "transformer-accounting"
GENERIC_SHEET = "model-accounting"

CONVENTIONS: tuple[str, ...] = (
    "1 multiply-accumulate = 2 FLOPs: an (m x k) @ (k x n) matmul costs 2mkn FLOPs, times any batch dimensions.",
    "Only matrix multiplies are counted; element-wise work (RMSNorm, RoPE, SiLU, softmax, residuals) is not.",
    "The embedding lookup is indexing, not a matmul: 0 FLOPs.",
    "Attention scores (Q K^T) and the weighted sum (softmax(.) V) are counted as the full square, "
    "as PyTorch's FlopCounterMode does, even though the mask is causal.",
    "RoPE cos/sin tables are non-trainable buffers: listed separately, never added to the parameter count.",
    "lm_head is untied from the token embedding, so both are counted.",
    "GB = 10^9 bytes and GiB = 2^30 bytes; both are shown.",
)


SHEET_TEXT_FILE = "data/sheets.yaml"


@lru_cache(maxsize=None)
def _all_sheet_text() -> dict[str, dict[str, str]]:
    path = templates_dir() / SHEET_TEXT_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RenderError(f"{path}: cannot read the sheets' text ({type(exc).__name__})") from None
    return data if isinstance(data, dict) else {}


def sheet_text(name: str) -> dict[str, str]:
    """The prose a sheet prints in every format (templates/data/sheets.yaml): one source for md, tex, html."""
    return dict(_all_sheet_text().get(name) or {})


def conditional_text(name: str) -> dict[str, str]:
    """Sentences sheet `name` prints only when its numbers call for them (sheets.yaml, `conditional`)."""
    return dict((_all_sheet_text().get("conditional") or {}).get(name) or {})


def pct(x: Fraction) -> str:
    return f"{float(x) * 100:.1f}%"


def bytes_summary(n: int) -> dict[str, str]:
    return {"bytes": fmt_int(n), "gb": fmt_decimal(Fraction(n, GB)), "gib": fmt_decimal(Fraction(n, GIB))}


def memory_context(acc: Accounting) -> list[dict[str, Any]]:
    rows = []
    for dtype in DTYPE_BYTES:
        node = acc.memory(dtype)
        rows.append({"dtype": dtype, "bytes_per_param": DTYPE_BYTES[dtype], "value": node.value,
                     **bytes_summary(node.value)})
    return rows


def ranking_sentence(acc: Accounting) -> str:
    ranked = sorted(acc.groups, key=lambda g: acc.groups[g], reverse=True)
    top = ranked[0]
    rest = ", ".join(f"{acc.group_label(g)} ({pct(acc.shares[g])})" for g in ranked[1:])
    return (f"The {acc.group_label(top)} matmuls need the most FLOPs: {fmt_int(acc.groups[top])} of "
            f"{fmt_int(acc.forward_flops)} ({pct(acc.shares[top])}); then {rest}.")


def matmul_rows(acc: Accounting) -> list[dict[str, Any]]:
    """Each distinct matmul with how often a forward pass runs it (num_layers times for block matmuls)."""
    rows = []
    for leaf, mult in acc.derivation.forward.leaves_with_multiplier():
        node = acc.forward.find(leaf.key)
        times = int(mult.xreplace({k: v for k, v in acc.subs.items()})) if mult != 1 else 1
        rows.append({
            "title": leaf.title, "description": leaf.description, "kind": leaf.kind,
            "shapes": " @ ".join("(" + ", ".join(str(v) for v in sh) + ")" for sh in node.shape_values),
            "flops": node.value, "times": times, "total": node.value * times,
            "share": pct(Fraction(node.value * times, acc.forward_flops)) if acc.forward_flops else "0%",
        })
    return rows


def accounting_context(acc: Accounting) -> dict[str, Any]:
    """Everything a sheet may show about one config."""
    d = acc.derivation
    return {
        "acc": acc,
        "config": acc.config,
        "batch_size": acc.batch_size,
        "seq_len": acc.seq_len,
        "params_lines": tree_lines(acc.params),
        "buffers_lines": tree_lines(acc.buffers),
        "forward_lines": tree_lines(acc.forward),
        "total_params": acc.total_params,
        "total_buffers": acc.buffers.value,
        "forward_flops": acc.forward_flops,
        "params_closed_text": expr_text(d.params.expr),
        "params_closed_tex": expr_latex(d.params.expr),
        "forward_closed_text": expr_text(d.forward.expr),
        "forward_closed_tex": expr_latex(d.forward.expr),
        "memory": memory_context(acc),
        "matmuls": matmul_rows(acc),
        "groups": [{"key": g, "label": acc.group_label(g), "flops": acc.groups[g], "share": pct(acc.shares[g])}
                   for g in acc.derivation.group_labels],
        "ranking": ranking_sentence(acc),
    }


def used_symbols(accs: list[Accounting]) -> tuple[set[str], list[Any]]:
    """The symbols a sheet's formulas use (for its symbol table) and the derived sizes (d_kv) its trees use."""
    return tree_symbols([step for acc in accs for step in (acc.derivation.params, acc.derivation.forward,
                                                            acc.derivation.buffers, acc.derivation.active_params)])


def tree_symbols(steps: list[Any]) -> tuple[set[str], list[Any]]:
    """The symbols the closed forms of `steps` use and the derived sizes their lines print (None steps skipped)."""
    from ...model.config import INT_KEYS

    names: set[str] = set(INT_KEYS)
    derived: dict[str, Any] = {}
    for step in steps:
        if step is None:
            continue
        names |= {s.name for s in step.expr.free_symbols}
        for node in step.walk():
            for dim in (*node.factors, *(x for shape in node.shapes for x in shape)):
                if dim.name not in names and not dim.expr.is_Integer and dim.name != "d_k":
                    derived.setdefault(dim.name, dim)
    derived = {k: v for k, v in derived.items() if k not in names}
    return names, list(derived.values())
