"""The inference-accounting sheet: KV cache, prefill, decode, bytes moved and rooflines, and the memory budget
of each config for one request. A template context; every figure comes from derive.accounting.inference.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import sympy

from ...accounting.inference.report import (
    after_generate,
    general_notes,
    infer_report,
    model_notes,
)
from ...accounting.inference.roofline import CROSSOVER, CROSSOVER_TERMS
from ...accounting.inference.run import INFER_DEFAULTS, InferAccounting, infer_account
from ...model.config import ModelConfig, load_config
from ..formatting import expr_text, fmt_decimal, tree_lines
from ..inference import duration, rate, significant, size
from .common import bytes_summary, tree_symbols

SHEET_NAME = "inference-accounting"
DEFAULT_CONFIG = "llama-2-7b"
TITLE = "Inference accounting"
# Sizes whose definition is a whole parameter count: the trees that use them say what they hold.
LISTED_IN_TREES = ("resident_parameters", "expert_parameters")


def sym(expr: sympy.Expr) -> dict[str, Any]:
    """A closed form as every format prints it: text (Markdown), expr (LaTeX and MathML via the templates), with
    the factors its terms share taken out (sympy's factor_terms: the same expression, shorter lines)."""
    shown = sympy.factor_terms(expr)
    return {"text": expr_text(shown), "expr": shown}


def _pass_row(name: str, r) -> dict[str, Any]:
    return {"name": name, "flops": r.flops, "bytes": r.bytes, "intensity": significant(float(r.intensity)),
            "compute": duration(r.compute_seconds), "memory": duration(r.memory_seconds),
            "seconds": duration(r.seconds), "bound": r.bound}


def _crossover(acc: InferAccounting, step: int) -> dict[str, Any]:
    root, terms = acc.crossover(step)
    out = {"step": step, "W_0": int(terms["W_0"]), "f": int(terms["f"]), "q": int(terms["q"]),
           "intensity": significant(float(Fraction(terms["f"], terms["q"]))) if terms["q"] else "-",
           "never": root is None}
    if root is not None:
        out.update(value=significant(float(root)), batch=root.__ceil__())
    return out


def _factor(tree, key: str, index: int = 0) -> int | None:
    """One factor's value of a node of an evaluated tree (None when the tree has no such node)."""
    try:
        return tree.find(key).factor_values[index]
    except KeyError:
        return None


def model_context(acc: InferAccounting) -> dict[str, Any]:
    """Everything the sheet shows for one config and request."""
    d, hw, steps = acc.derivation, acc.hardware, acc.steps
    report = infer_report(acc, expr_text)
    passes = [_pass_row("prefill", acc.prefill_roofline)]
    if steps:
        passes += [_pass_row("decode step i = 1", acc.step_roofline(1)),
                   _pass_row(f"decode step i = {steps:,}", acc.step_roofline(steps))]
    after = after_generate(acc)
    return {
        "acc": acc, "config": acc.config, "report": report, "notes": model_notes(acc),
        "request": {"batch_size": acc.batch_size, "prompt": acc.prompt, "generate": acc.generate,
                    "steps": steps, "dtype": acc.dtype, "kv_dtype": acc.kv_dtype},
        "stores": d.stores,
        "kv_per_token": sym(d.kv_per_token_closed), "kv_per_token_lines": tree_lines(acc.kv_per_token),
        "kv_per_token_tree": acc.kv_per_token,
        "kv_cache": sym(d.kv_cache.expr), "kv_cache_tree": acc.kv_cache, "kv_cache_lines": tree_lines(acc.kv_cache),
        "kv_size": size(acc.kv_cache.value), "after_size": size(after.value),
        "kv_expanded": sym(d.kv_expanded.expr) if d.kv_expanded is not None else None,
        "kv_expanded_value": acc.kv_expanded.value if acc.kv_expanded is not None else None,
        "layers": report["kv_cache"]["layers"],
        "prefill": sym(d.prefill.expr), "prefill_tree": acc.prefill, "prefill_lines": tree_lines(acc.prefill),
        "full_forward": acc.full_forward, "logits_saving": sym(d.logits_saving),
        "logits_saving_value": acc.logits_saving,
        "step": sym(d.decode_step.expr),
        "step_tree": acc.decode_step(1) if steps else None,
        "step_lines": tree_lines(acc.decode_step(1)) if steps else [],
        "first_step": report["decode"]["first_step"], "last_step": report["decode"]["last_step"],
        "decode": sym(d.decode_total_display[0]), "decode_flops": acc.decode.value,
        "key_sums": [{"symbol": sym(symbol), "definition": sym(definition),
                      "value": int(definition.xreplace({k: sympy.Integer(v) for k, v in acc.subs.items()}))}
                     for symbol, definition in d.decode_total_display[1]],
        "prefill_bytes": sym(d.prefill_bytes_display), "step_bytes": sym(d.step_bytes_display),
        "resident": _factor(acc.prefill_bytes, "prefill_bytes.weights.resident"),
        "expert": _factor(acc.prefill_bytes, "prefill_bytes.weights.experts", -2),
        "prefill_bytes_lines": tree_lines(acc.prefill_bytes), "prefill_bytes_tree": acc.prefill_bytes,
        "step_bytes_lines": tree_lines(acc.step_bytes(1)) if steps else [],
        "step_bytes_tree": acc.step_bytes(1) if steps else None,
        "hardware": {"key": hw.key, "name": hw.name, "dtype": hw.dtype, "peak": rate(hw.peak_flops, "FLOP/s"),
                     "bandwidth": rate(hw.bandwidth, "B/s"), "ridge": significant(float(hw.ridge)),
                     "source": hw.source, "bandwidth_source": hw.bandwidth_source,
                     "memory": bytes_summary(hw.memory_bytes)},
        "passes": passes,
        "decode_seconds": duration(acc.decode_seconds),
        "generation_seconds": duration(acc.prefill_roofline.seconds + acc.decode_seconds),
        "tokens_per_second": (significant(float(acc.batch_size * steps / acc.decode_seconds))
                              if steps and acc.decode_seconds else "-"),
        "crossover": sym(CROSSOVER), "crossover_terms": CROSSOVER_TERMS,
        "crossovers": [_crossover(acc, s) for s in sorted({1, steps})] if steps else [],
        "budget": {**report["budget"], "summary": bytes_summary(acc.budget.bytes),
                   "free_summary": bytes_summary(max(acc.free_bytes, 0)),
                   "weights_summary": bytes_summary(acc.weights.value), "formula": acc.budget.formula,
                   "formula_tex": acc.budget.formula_tex,
                   "kv_fraction": fmt_decimal(Fraction(acc.kv_cache.value * 100, acc.budget.bytes), 1)},
    }


def inference_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any], **options: Any
                         ) -> dict[str, Any]:
    """One section per config (default: Llama-2-7B) for the request in `options` (derive infer's options)."""
    chosen = configs or [load_config(DEFAULT_CONFIG, overrides)]
    accs = [infer_account(c, **options) for c in chosen]
    d = [a.derivation for a in accs]
    names, derived = tree_symbols([t for x in d for t in (x.kv_per_token, x.kv_cache, x.kv_expanded, x.prefill,
                                                          x.decode_step, x.prefill_bytes, x.step_bytes)])
    derived = [dim for dim in derived if dim.name not in LISTED_IN_TREES]
    return {"title": TITLE, "models": [model_context(a) for a in accs], "conventions": general_notes(),
            "symbol_names": names | {"peak_flops", "mem_bandwidth"}, "derived_dims": derived}


def sheet_files(configs: list[ModelConfig], options: Mapping[str, Any], formats: list[str], out_dir: Path,
                fragment: bool = False) -> list[tuple[Path, str | bytes]]:
    """The sheet's files for one request (nothing written): names carry the options that differ from the
    defaults, so sheets of different requests do not replace each other."""
    from .. import publish

    named = {k: v for k, v in options.items() if v is not None and INFER_DEFAULTS.get(k) != v}
    return publish.sheet_files(SHEET_NAME, configs, None, formats, out_dir, fragment, options=named)
