"""The at-scale part of `derive train --json`: setup, precision ledger, memory per device, the largest micro-batch,
the fewest devices, step FLOPs under the chosen convention, time and MFU. Exact integers; floats only for
durations and utilizations; closed forms as text (`text` prints them: derive.render.formatting.expr_text)."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

import sympy

from ...model.saved import SETS
from .activations import ACTIVATION_SETS
from .parallel import PARALLEL_SYMBOLS
from .derivation import SECONDS_PER_DAY
from .precision import ledger
from .saved_memory import RECOMPUTE_MODES
from ..hardware import positive_number
from .timing import convention_line

if TYPE_CHECKING:
    from .run import TrainAccounting


def simplified(expr: sympy.Expr) -> sympy.Expr:
    """A closed form to print: expanded, its terms grouped by the parallel degrees that divide them, each group
    factored (Korthikanti's sbh(34 + 5as/h) reads as such; a term over ep alone, such as the experts' group
    offsets, no longer puts every other term over ep too: `2 b s (...) / (etp tp) + 8 n_experts / ep`)."""
    expanded = sympy.expand(expr)
    if expanded == 0:
        return sympy.Integer(0)
    degrees = set(PARALLEL_SYMBOLS)
    groups: dict[sympy.Expr, list[sympy.Expr]] = {}
    for term in sympy.Add.make_args(expanded):
        _, den = sympy.fraction(term)
        key = sympy.Mul(*(f for f in sympy.Mul.make_args(den) if f.free_symbols & degrees))
        groups.setdefault(key, []).append(term)
    return sympy.Add(*(sympy.factor(sympy.Add(*terms)) for terms in groups.values()))


def setup_report(t: "TrainAccounting") -> dict[str, Any]:
    p, c = t.parallel, t.derivation.conventions
    return {
        "precision": t.precision.key, "optimizer": t.optimizer_kind.key,
        "activations": c.activations,
        "activations_description": SETS.get(c.activations) or ACTIVATION_SETS[c.activations].description,
        "recompute": c.recompute, "recompute_description": RECOMPUTE_MODES[c.recompute],
        "dp": p.dp, "zero": p.zero, "tp": p.tp, "sp": p.sp, "pp": p.pp, "ep": p.ep, "etp": p.expert_tp,
        "devices": p.devices, "micro_batch": t.micro_batch, "microbatches": t.microbatches,
        "global_batch": t.batch_size, "flops": t.setup.flops, "window": t.setup.window,
        "schedule": "1F1B (non-interleaved)" if p.pp > 1 else "none (one pipeline stage)",
    }


def memory_report(t: "TrainAccounting", text: Callable[[sympy.Expr], str]) -> dict[str, Any]:
    s = t.scale
    peak = s.peak
    values = s._values()
    per_layer = {}
    for name, step in s.per_layer().items():
        node_value = int(step.expr.xreplace({k: sympy.Integer(v) for k, v in values.items()}))
        per_layer[name] = {"bytes": node_value, "formula": text(simplified(step.expr))}
    main = per_layer.get("block") or next(iter(per_layer.values()))
    states = {node.key.split(".")[1]: 0 for node in peak.states.children}
    for node in peak.states.children:
        states[node.key.split(".")[1]] += node.value
    return {
        "model_states_per_device": peak.states.value,
        "activations_per_layer": main["bytes"],
        "activations_per_layer_formula": main["formula"],
        "activations_per_layer_by_block": per_layer,
        "activations_per_device": peak.activations.value,
        "total_per_device": peak.total,
        "peak_stage": peak.stage.index,
        "total_at_micro_batch_1": s.at_one(peak),  # the linear form a B + b holds from 2 sequences on
        "model_states": states,
        "parameters_per_device": peak.params.value,
        "stages": [{"stage": m.stage.index, "in_flight": m.in_flight, "parameters": m.params.value,
                    "model_states": m.states.value, "activations": m.activations.value, "total": m.total}
                   for m in s.stage_memory],
    }


def time_report(t: "TrainAccounting") -> dict[str, Any]:
    tm = t.timing
    seconds = tm.seconds(t.mfu)
    out: dict[str, Any] = {
        "convention": tm.convention, "counts": convention_line(tm.convention),
        "step_flops": tm.flops, "recompute_flops": tm.recompute, "steps": tm.steps, "devices": tm.devices,
        "hardware": t.hardware.key, "peak_flops_per_device": tm.peak, "mfu": float(t.mfu),
        "hfu": float(tm.hfu(t.mfu)), "seconds": float(seconds), "days": float(seconds / SECONDS_PER_DAY),
    }
    setup = t.setup
    if setup.measured_step_time is not None:
        step = positive_number(setup.measured_step_time, "--measured-step-time")
        mfu = tm.mfu_from_step_time(step)
        out["measured"] = {"step_time_seconds": float(step), "mfu": float(mfu), "hfu": float(tm.hfu(mfu)),
                           "tokens_per_second": float(Fraction(tm.tokens) / step)}
    elif setup.tokens_per_second is not None:
        tps = positive_number(setup.tokens_per_second, "--tokens-per-second")
        mfu = tm.mfu_from_throughput(tps)
        out["measured"] = {"tokens_per_second": float(tps), "mfu": float(mfu), "hfu": float(tm.hfu(mfu)),
                           "step_time_seconds": float(Fraction(tm.tokens) / tps)}
    return out


def scale_report(t: "TrainAccounting", report: dict[str, Any], text: Callable[[sympy.Expr], str] = str
                 ) -> dict[str, Any]:
    """`report` (the homework's keys) with the at-scale keys added."""
    largest, bound = t.scale.largest_micro_batch(t.budget.bytes)
    report["setup"] = setup_report(t)
    report["precision"] = {"key": t.precision.key, "title": t.precision.title, "source": t.precision.source,
                           "bytes_per_parameter": sum(b for _, _, b in ledger(t.precision, t.optimizer_kind)),
                           "ledger": [{"kind": k, "what": w, "bytes_per_parameter": b}
                                      for k, w, b in ledger(t.precision, t.optimizer_kind)],
                           "optimizer_source": t.optimizer_kind.source}
    report["memory"].update(memory_report(t, text))
    report["largest_batch"] = largest
    report["largest_batch_bound_by_stage"] = bound.stage.index
    micro = t.setup.micro_batch or 1
    report["fewest_devices"] = {"budget": t.budget.text, "micro_batch": micro,
                                **t.scale.fewest_devices(t.budget.bytes, micro)}
    report["time"] = time_report(t)
    if t.optimizer_kind.key != "adamw":  # the element-wise FLOP count is written for AdamW only
        report["optimizer_flops"] = None
        report["train_step_flops"] = t.step_flops
        report["days_with_optimizer"] = None
    return report
