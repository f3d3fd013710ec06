"""The training-at-scale sheet: one training setup of one config, every figure per device with its closed form.

`derive train CONFIG [options] --sheet FORMAT` renders it for the options given; `derive sheet --sheet
training-at-scale [CONFIG]` for a default setup (GPT-3 175B as Korthikanti et al. 2022 train it: bf16, TP 8 with
sequence parallelism, PP 8, selective recomputation, the paper's activation accounting; any other config: bf16
mixed precision, ZeRO-1 over 8 data-parallel ranks, the full set, selective recomputation). Every number comes
from derive.accounting.training; this module arranges them.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any, Mapping

import sympy

from ...accounting.training.parallel import DP, EP, ETP, MICROBATCHES, PARALLEL_SYMBOLS, PP, TP, Parallel
from ...accounting.training.precision import ledger
from ...accounting.training.report import simplified
from ...accounting.training.run import TrainAccounting, make_setup, train_account, train_report
from ...accounting.training.saved_memory import RECOMPUTE_MODES, block_step
from ...accounting.training.states import RULES, expert_elements, stage_params, states_tree
from ...accounting.account import account
from ...model.config import ModelConfig, load_config
from ...model.steps import evaluate
from ..formatting import GB, GIB, expr_text, fmt_decimal
from ..latex import expr_tex
from .common import used_symbols

DEFAULT_CONFIG = "gpt3-175b"
# Korthikanti et al. 2022, Table 3 (175B): t = 8, p = 8, global batch 256 (here 8 data-parallel ranks, ZeRO-1).
DEFAULT_SETUP = dict(precision="bf16-mixed", dp=8, zero=1, tp=8, sp=True, pp=8, micro_batch=1)
DEFAULT_BATCH, DEFAULT_HARDWARE = 256, "a100-bf16"
OTHER_SETUP = dict(precision="bf16-mixed", dp=8, zero=1, micro_batch=1)
_SHOWN = {TP: sympy.Symbol("t"), PP: sympy.Symbol("p"), DP: sympy.Symbol("N_d"), EP: sympy.Symbol("e"),
          ETP: sympy.Symbol("t_e"), MICROBATCHES: sympy.Symbol("m")}


def sym(expr: sympy.Expr) -> dict[str, Any]:
    """A formula for every format: text (parallel degrees by their option names), LaTeX and MathML (by the
    papers' letters: t, p, N_d, e, t_e, m)."""
    shown = sympy.sympify(expr).xreplace(_SHOWN)
    return {"text": expr_text(expr), "tex": expr_tex(shown), "expr": shown, "expanded": sympy.expand(shown)}


def _gb(n: int) -> dict[str, Any]:
    return {"bytes": n, "gb": fmt_decimal(Fraction(n, GB)), "gib": fmt_decimal(Fraction(n, GIB))}


def _values(t: TrainAccounting) -> dict:
    return t.scale._values()


def layer_rows(t: TrainAccounting) -> list[dict[str, Any]]:
    """The tensors one block keeps per micro-batch: what, dtype, shape (bytes x dims), bytes."""
    values = {k: sympy.Integer(v) for k, v in _values(t).items()}
    step = t.scale.per_layer()["block"]
    rows = []
    for leaf in step.children:
        size, *dims = leaf.factors
        rows.append({"title": leaf.title, "description": leaf.description, "dtype": leaf.note or "elements",
                     "bytes_per_element": int(size.expr), "shape": " x ".join(d.name for d in dims) or "1",
                     "shape_tex": r" \times ".join(d.latex for d in dims) or "1",
                     "value": int(leaf.expr.xreplace(values))})
    return rows


def table2_rows(t: TrainAccounting) -> list[dict[str, Any]]:
    """Korthikanti et al.'s Table 2 rows for this config's own blocks: the per-layer bytes with no parallelism,
    tensor parallelism, + sequence parallelism, + selective recomputation, and full recomputation, at this run's
    tp (symbolic in tp). Each row is this run with only its parallelism and recomputation changed, laid out as
    `derive train` lays out that setting (scale.layout_for): "no parallelism" and "full recomputation" are tp 1,
    ep 1 (their layout decided at tp 1, where a single key/value head per device is another matter), the tensor
    parallel rows this run's tp, ep and etp with sequence parallelism off or on."""
    if t.scale.activation_set not in ("full", "korthikanti"):
        return []
    run = t.parallel
    alone = Parallel()
    cases = [("no parallelism", alone, "none"),
             ("tensor parallel", dataclasses.replace(run, sp=False), "none"),
             ("tensor + sequence parallel", dataclasses.replace(run, sp=True), "none"),
             ("tensor parallel + selective recomputation", dataclasses.replace(run, sp=False), "selective"),
             ("tensor + sequence parallel + selective recomputation", dataclasses.replace(run, sp=True),
              "selective"),
             ("full recomputation", alone, "full")]
    rows = []
    dense = t.config.ffn != "moe"
    for label, p, recompute in cases:
        layout = t.scale.layout_for(dataclasses.replace(p, sp=p.sp and p.tp > 1), recompute)
        if p is not alone:  # a run without tensor parallelism still shows the rows' forms in tp (at t = 1)
            layout = dataclasses.replace(layout, split=dataclasses.replace(layout.split, tp=True, sp=p.sp))
        step = block_step(layout, dense)
        values = {**_values(t), **p.values()}
        rows.append({"label": label, **sym(simplified(step.expr)), "value": evaluate(step, values).value})
    return rows


def zero_rows(t: TrainAccounting) -> list[dict[str, Any]]:
    """Model states of the most loaded device for ZeRO stages 0-3 over this run's dp."""
    st = t.scale.peak.stage
    rows = []
    for z in range(4):
        p = dataclasses.replace(t.parallel, zero=z)
        params = stage_params(t.derivation.model, st, p)
        ada = None
        if t.optimizer_kind.factored:
            from ...accounting.training.states import adafactor_elements

            ada = adafactor_elements(params)
        tree = states_tree(params, t.precision, t.optimizer_kind, p, ada)
        rows.append({"stage": z, **sym(tree.expr), "value": evaluate(tree, {**_values(t), DP: t.parallel.dp}).value})
    return rows


def state_row(leaf) -> dict[str, Any]:
    """One model-state leaf (bytes per element x elements of a class, ZeRO-sharded or not) in compact form:
    `2 * ceil(dense parameters / dp)`, in LaTeX `2 \\lceil P_dense / N_d \\rceil`."""
    size, count = leaf.step.factors
    cls = "experts" if leaf.step.key.endswith(".experts") else "dense"
    what = r"P_{\mathrm{" + cls + "}}" if "factored" not in count.name else r"F"
    if count.name.startswith("ceil("):
        degree = r"N_d" if count.name.endswith("/ dp)") else r"N_d t / (e\,t_e)"
        tex = rf"{size.expr} \left\lceil {what} / {degree} \right\rceil"
    else:
        tex = rf"{size.expr}\, {what}"
    return {"title": leaf.step.title, "description": leaf.step.description, "text": f"{size.expr} * {count.name}",
            "tex": tex, "value": leaf.value}


def _shown_time(tm: dict[str, Any]) -> dict[str, str]:
    """Durations and utilizations as the sheet prints them (floats: they are rendered, never computed with)."""
    out = {"seconds": f"{tm['seconds']:,.0f}", "days": f"{tm['days']:,.2f}", "hfu": f"{tm['hfu'] * 100:.1f}%"}
    if "measured" in tm:
        m = tm["measured"]
        out.update(step_time=f"{m['step_time_seconds']:,.4g}", tokens_per_second=f"{m['tokens_per_second']:,.0f}",
                   measured_mfu=f"{m['mfu'] * 100:.1f}%")
    return out


def scale_context(t: TrainAccounting) -> dict[str, Any]:
    """The sheet's context for one TrainAccounting (its report, and the closed forms behind each figure)."""
    report = train_report(t, expr_text)
    s, mem = report["setup"], report["memory"]
    peak = t.scale.peak
    a, b = t.linear
    layer = t.scale.per_layer()["block"]
    states = [state_row(leaf) for leaf in peak.states.children]
    experts = expert_elements(peak.params.step)
    classes = [{"name": "dense", **sym(sympy.expand(peak.params.step.expr - experts)), "lhs": r"P_{\mathrm{dense}}"}]
    if experts != 0:
        classes.append({"name": "experts", **sym(experts), "lhs": r"P_{\mathrm{experts}}"})
    names, derived = used_symbols([account(t.config)])
    return {
        "title": "Training at scale",
        "config": t.config,
        "report": report,
        "setup": s,
        "conventions": [*t.derivation.conventions.lines(),
                        f"precision {t.precision.key}: {t.precision.title}; activations in {t.precision.activations}"
                        "-byte elements (the compute dtype), fp32 where the implementation computes in fp32",
                        f"recomputation: {RECOMPUTE_MODES[s['recompute']]}",
                        "tensor parallelism as Megatron-LM shards each matrix; ZeRO shards over the data-parallel "
                        "ranks with ceil(elements / N_d) per rank; pipeline: 1F1B, stage i holds min(p - i, m) "
                        "micro-batches",
                        "mixtures of experts: routing balanced, k B S (token, expert) pairs per device",
                        "GB = 10^9 bytes and GiB = 2^30 bytes"],
        "ledger": [{"kind": k, "what": w, "bytes": n} for k, w, n in ledger(t.precision, t.optimizer_kind)],
        "bytes_per_parameter": report["precision"]["bytes_per_parameter"],
        "precision": t.precision, "optimizer": t.optimizer_kind,
        "rules": list(RULES.items()),
        "params": {**sym(peak.params.step.expr), "value": peak.params.value},
        "states": states, "classes": classes, "states_total": {**sym(peak.states.step.expr), **_gb(peak.states.value)},
        "zero_rows": zero_rows(t),
        "layer_rows": layer_rows(t), "layer": {**sym(simplified(layer.expr)), "value": mem["activations_per_layer"]},
        "table2": table2_rows(t),
        "stages": mem["stages"], "peak_stage": mem["peak_stage"],
        "activations_total": _gb(mem["activations_per_device"]), "total": _gb(mem["total_per_device"]),
        "linear": {"a": a, "b": b}, "budget": t.budget, "largest": report["largest_batch"],
        "largest_exact": fmt_decimal(Fraction(t.budget.bytes - b, a), 4) if a else "",
        # The fixed part alone exceeds the budget: no micro-batch fits, and floor((budget - b) / a) is negative.
        "over_budget": b > t.budget.bytes,
        "fewest": report["fewest_devices"], "time": report["time"], "hardware": t.hardware,
        "mfu_pct": f"{float(t.mfu) * 100:g}%",
        "shown": _shown_time(report["time"]),
        "degrees": [(str(k), PARALLEL_SYMBOLS[k][0], PARALLEL_SYMBOLS[k][1]) for k in PARALLEL_SYMBOLS],
        "symbol_names": names | {"batch_size", "seq_len"} | {str(x) for x in sympy.sympify(layer.expr).free_symbols},
        "derived_dims": derived,
    }


def training_at_scale(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`derive sheet --sheet training-at-scale [CONFIG]`: the default setup of the config (module docstring)."""
    from ...accounting.training.derivation import Conventions

    if configs:
        config = configs[0]
        setup, batch, conv = make_setup(**OTHER_SETUP), 8, Conventions(activations="", recompute="selective")
    else:
        config = load_config(DEFAULT_CONFIG, overrides)
        setup, batch = make_setup(**DEFAULT_SETUP), DEFAULT_BATCH
        conv = Conventions(activations="korthikanti", recompute="selective")
    t = train_account(config, batch_size=batch, hardware=DEFAULT_HARDWARE, conventions=conv, setup=setup)
    return scale_context(t)


def sheet_files(t: TrainAccounting, fmt: str, out_dir) -> list:
    """[(path, text)] of the sheet of `t` in `fmt` (md, tex, html or all); UsageError for another format."""
    from ...errors import UsageError
    from ..environment import FORMATS, SUFFIXES, render
    from ..charts import plot_files
    from ..publish import file_stem
    from .common import CONVENTIONS, sheet_text

    formats = list(FORMATS) if fmt == "all" else [fmt]
    if any(f not in FORMATS for f in formats):
        raise UsageError(f"--sheet: unknown format {fmt!r} (known: {', '.join(FORMATS)}, all)")
    stem = file_stem("training-at-scale", [t.config])
    context = {"conventions": CONVENTIONS, "text": sheet_text("training-at-scale"), **scale_context(t),
               "sheet": "training-at-scale", "fragment": False, "plot_files": plot_files(stem),
               "plots_available": True}
    return [(out_dir / f"{stem}{SUFFIXES[f]}", render("training-at-scale", f, context)) for f in formats]


__all__ = ["Parallel", "scale_context", "sheet_files", "training_at_scale"]
