"""Training at scale as candidates: one device of a run with a precision ledger, data/tensor/pipeline/expert
parallelism, ZeRO and a micro-batch (derive train's options, the training-at-scale sheet), from
derive.accounting.training as it is.

The run is the one the document states (`precision | bf16-mixed`, `dp = 8, ZeRO stage 1`, `tp = 8, sequence
parallel`, `pp = 8`, `256 sequences of 2,048 tokens per step; micro-batch 1`, the activation set and the
recomputation); without such a setup nothing is added. The candidates are every integer of `derive train --json`
for that run (model states per device and by kind, activations per layer and per device, each pipeline stage,
step FLOPs, largest batch, fewest devices...), the trees behind them (model states, activations of the most
loaded device, the tensors one block keeps), the model states at each ZeRO stage, the bytes per layer of
Korthikanti et al.'s Table 2 settings, memory per device as a x micro_batch + b with the largest micro-batch's
arithmetic, and the run's time on every accelerator derive knows. Each is titled by the sheet's sections, so a
figure in a section about the run is read as the run's (derive.check.explain.titled).
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

import sympy

from ..accounting.training.derivation import Conventions
from ..accounting.training.parallel import DP, TP
from ..accounting.training.precision import PRECISIONS
from ..accounting.training.run import make_setup, train_account, train_report
from ..accounting.training.saved_memory import block_step
from ..accounting.training.states import adafactor_elements, stage_params, states_tree
from ..errors import DeriveError
from ..model.steps import evaluate
from .candidates import Candidate, Setting, name_key, report_integers, tree_candidates
from .training import known_hardware

SECTION = "section_"  # prefix of a title compared with the claim's headings (derive.check.explain.titled)
SECTIONS = ("setup", "bytes_per_parameter", "model_states_per_device", "activations_per_layer",
            "memory_per_device", "step_flops_time_and_mfu")
TABLE2 = ("no parallelism", "tensor parallel", "tensor + sequence parallel", "tensor parallel + selective "
          "recomputation", "tensor + sequence parallel + selective recomputation", "full recomputation")
_INT = r"(\d[\d,]*)"


def _int(m: re.Match | None, group: int = 1) -> int | None:
    return int(m.group(group).replace(",", "")) if m else None


def scale_setup(text: str) -> dict | None:
    """The run a document states (keys of derive.accounting.training.run.make_setup, plus batch, activations,
    recompute), or None when it states no parallel setup (no dp/tp/pp degree)."""
    degree = {k: _int(re.search(rf"\b{k}\s*=\s*{_INT}", text)) for k in ("dp", "tp", "pp", "ep", "etp")}
    if degree["dp"] is None and degree["tp"] is None and degree["pp"] is None:
        return None
    m = re.search(r"\bprecision\b[\s|:]*`?([a-z0-9-]+)", text, re.IGNORECASE)
    precision = m.group(1).lower() if m and m.group(1).lower() in PRECISIONS else "bf16-mixed"
    zero = _int(re.search(r"\bZeRO(?:\s+stage)?[\s-]*(\d)\b", text))
    tp_line = re.search(r"\btp\s*=\s*\d+[^\n|]*", text)
    sp = bool(tp_line and re.search(r"sequence parallel", tp_line.group(0), re.IGNORECASE))
    batch = re.search(rf"{_INT} sequences of {_INT} tokens per step", text)
    micro = _int(re.search(rf"micro-batch(?:es)?(?: of)?\s*{_INT}", text))
    acts = re.search(r"\bactivations\s*\|\s*([a-z][\w-]*)", text)
    rec = re.search(r"\brecomputation\s*\|\s*(none|selective|full)\b", text)
    setup = dict(precision=precision, dp=degree["dp"], zero=zero if degree["dp"] else None, tp=degree["tp"] or 1,
                 sp=sp and (degree["tp"] or 1) > 1, pp=degree["pp"] or 1, ep=degree["ep"] or 1, etp=degree["etp"],
                 micro_batch=micro)
    return {"setup": setup, "batch": _int(batch), "activations": acts.group(1) if acts else "",
            "recompute": rec.group(1) if rec else "selective"}


def _c(value, family: str, roles: set[str], label: str, setting: Setting, expr=None, rank: int = 0,
       titles: tuple[str, ...] = ()) -> Candidate:
    return Candidate(Fraction(value), family, "scale", frozenset(roles), label, setting,
                     expr_value=None if expr is None else sympy.sympify(expr), rank=rank,
                     titles=frozenset(name_key(t) for t in titles if t) | {SECTION + s for s in SECTIONS})


def _family(path: str) -> str:
    if "flops" in path:
        return "FLOPs"
    if path.startswith("memory.") and not re.search(r"(stage|in_flight|parameters)$", path) \
            or "bytes" in path:
        return "bytes"
    return "count"


def scale_candidates(setting: Setting, run: dict) -> list[Candidate]:
    """Every figure of derive train for the run the document states (module docstring); [] if derive refuses it."""
    cfg = setting.config
    try:
        setup = make_setup(**run["setup"])
        conv = Conventions(activations=run["activations"], recompute=run["recompute"])
        t = train_account(cfg, batch_size=run["batch"], conventions=conv, setup=setup)
        report = train_report(t)
        s = t.scale
        peak = s.peak
    except (DeriveError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return []
    st = Setting(cfg, s.micro_batch, cfg.context_length)
    out: list[Candidate] = []
    for path, value in report_integers(report):
        leaf = re.sub(r"\[\d+\]", "", path.rsplit(".", 1)[-1])
        out.append(_c(value, _family(path), {leaf}, f"derive train: {path}", st, titles=(leaf,)))
    for tree, fam in ((peak.states, "bytes"), (peak.activations, "bytes"), (peak.params, "count")):
        for c in tree_candidates(tree, "scale", st, fam, shares=False):
            out.append(_c(c.value, fam, set(c.roles), c.label, st, rank=1, titles=tuple(c.titles)))
    values = s._values()
    for name, step in s.per_layer().items():  # the tensors one block keeps, per micro-batch
        for c in tree_candidates(evaluate(step, values), "scale", st, "bytes", shares=False):
            out.append(_c(c.value, "bytes", set(c.roles), f"{c.label} ({name}, per layer)", st, rank=1,
                          titles=tuple(c.titles)))
    for z in range(4):  # model states of the most loaded device at each ZeRO stage
        p = dataclasses.replace(t.parallel, zero=z)
        params = stage_params(t.derivation.model, peak.stage, p)
        ada = adafactor_elements(params) if t.optimizer_kind.factored else None
        tree = states_tree(params, t.precision, t.optimizer_kind, p, ada)
        out.append(_c(evaluate(tree, {**values, DP: t.parallel.dp}).value, "bytes", {"model_states"},
                      f"model states per device at ZeRO stage {z}", st, rank=1, titles=(f"zero_stage_{z}",)))
        out.append(_c(z, "count", {"zero_stage"}, f"ZeRO stage {z}", st, rank=2))
    out += _table2(t, st)
    a, b = s.linear(peak)
    out.append(_c(a, "bytes", {"per_micro_batch"}, "memory per device: bytes per micro-batch sequence", st))
    out.append(_c(b, "bytes", {"fixed"}, "memory per device: fixed bytes", st))
    budget = t.budget.bytes
    out.append(_c(budget - b, "bytes", {"budget"}, f"{t.budget.text} - fixed bytes", st, rank=2))
    if a:
        out.append(_c(Fraction(budget - b, a), "ratio", {"max_batch"}, f"({t.budget.text} - fixed) / per sequence",
                      st, rank=2))
    tm = report.get("time", {})
    for hw in known_hardware().values():
        flops = Fraction(tm.get("step_flops", t.step_flops)) * t.steps
        seconds = flops / (hw.peak_flops * s.parallel.devices * t.mfu)
        out.append(_c(seconds, "s", {"time"}, f"training time on {s.parallel.devices} x {hw.name}", st, rank=1,
                      titles=("time", "seconds", "days")))
        out.append(_c(hw.peak_flops, "FLOP/s", {"hardware"}, f"{hw.name} peak", st, rank=1))
    return out


def _table2(t, st: Setting) -> list[Candidate]:
    """Bytes per layer of one block for Korthikanti et al.'s Table 2 settings (no parallelism, tensor, + sequence
    parallel, each with selective recomputation, full recomputation), at this run's tp and at tp 1."""
    base = t.scale.layout
    dense = t.config.ffn != "moe"
    out: list[Candidate] = []
    experts = dict.fromkeys(((base.split.ep, base.split.etp), (False, False)))  # "no parallelism": no ep either
    for tp, (ep, etp) in ((tp, e) for tp in dict.fromkeys((t.parallel.tp, 1)) for e in experts):
        values = {**t.scale._values(), TP: tp}
        for split_tp in (False, True):
            for sp in (False, True):
                for recompute in ("none", "selective", "full"):
                    split = dataclasses.replace(base.split, tp=split_tp, sp=sp, ep=ep, etp=etp)
                    try:
                        step = block_step(dataclasses.replace(base, split=split, recompute=recompute), dense)
                        value = evaluate(step, values).value
                    except (ValueError, KeyError, TypeError, ZeroDivisionError):
                        continue
                    out.append(_c(value, "bytes", {"activations_per_layer"},
                                  f"bytes per layer (tp {tp}, {'sequence parallel, ' if sp else ''}recompute "
                                  f"{recompute})", st, rank=2, titles=TABLE2))
    return out
