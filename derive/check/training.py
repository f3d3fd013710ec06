"""Training quantities as candidates, from derive.accounting.training as it is: peak memory with AdamW (its
terms, a * B + b, the largest batch per budget), activations (both activation sets), AdamW FLOPs, backward
and step FLOPs, the Kaplan and PaLM estimates, and training time on every listed accelerator.

Only the assignment architecture has a training accounting (derive train refuses others); for any other
model this adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


from ..accounting.hardware import hardware_table, parse_budget
from ..accounting.series import crossover
from ..accounting.training.derivation import SECONDS_PER_DAY, Conventions, training
from ..accounting.training.optimizer import ADAMW_OPS, stages
from ..accounting.training.run import givens, train_account
from ..errors import DeriveError
from ..model.steps import substitute
from .candidates import Candidate, Setting, tree_candidates


@dataclass(frozen=True)
class Givens:
    """The training run a document is about: the problem's givens unless the document states others."""

    steps: int
    batch: int
    hardware: str
    mfu: Fraction
    budgets: tuple[str, ...]


def default_givens() -> Givens:
    g = givens()
    return Givens(int(g["steps"]), int(g["batch_size"]), str(g["hardware"]), Fraction(str(g["mfu"])),
                  tuple(str(b) for b in g["budgets"]))


def _c(value, family: str, tree: str, roles: set[str], label: str, setting: Setting, expr=None,
       rank: int = 0, titles: tuple[str, ...] = ()) -> Candidate:
    return Candidate(Fraction(value), family, tree, frozenset(roles), label, setting, expr_value=expr, rank=rank,
                     titles=frozenset(titles))


def training_candidates(setting: Setting, g: Givens) -> list[Candidate]:
    """Every training figure of derive train and the adamw-accounting sheet for this model."""
    cfg = setting.config
    try:
        t = train_account(cfg, batch_size=g.batch, steps=g.steps, hardware=g.hardware, mfu=g.mfu)
    except DeriveError:
        return []
    one = train_account(cfg, batch_size=1, steps=g.steps, hardware=g.hardware, mfu=g.mfu)
    d = t.derivation
    run = Setting(cfg, g.batch, cfg.context_length)
    single = Setting(cfg, 1, cfg.context_length)
    out: list[Candidate] = []
    # memory tree (bytes) at the run's batch and for one sequence; its terms carry training roles
    roles = {"memory.parameters": "weights", "memory.gradients": "gradients", "memory.adamw_m": "adamw_m",
             "memory.adamw_v": "adamw_v", "memory.activations": "activations"}
    for acc, st in ((t, run), (one, single)):
        for c in tree_candidates(acc.memory, "memory", st, "bytes", shares=False):
            c.roles = frozenset(roles.get(k, "peak_memory") for k in c.keys)
            c.tree = "train_memory"
            out.append(c)
        for c in tree_candidates(acc.activations, "activations", st, "count", shares=False):
            if c.keys == ("activations",):
                c.roles = frozenset({"activations"})
            out.append(c)
        out.append(_c(acc.backward.value, "FLOPs", "backward", {"backward"}, "backward pass FLOPs", st))
        out += [c for c in tree_candidates(acc.backward, "backward", st, "FLOPs", shares=False) if c.rank < 2]
        out.append(_c(acc.forward.value, "FLOPs", "forward", {"root"}, "forward pass FLOPs", st))
        out.append(_c(acc.step_flops, "FLOPs", "step", {"step"}, "step FLOPs (forward + backward)", st,
                      d.step_flops, titles=("step_flops", "f_step")))
        out.append(_c(acc.train_step_flops, "FLOPs", "train_step", {"train_step"},
                      "training step FLOPs (forward + backward + AdamW)", st, d.train_step_flops,
                      titles=("train_step_flops",)))
        out.append(_c(Fraction(acc.backward.value, acc.forward.value), "ratio", "ratio", {"backward"},
                      "backward / forward", st))
        for key, value in acc.approximations().items():
            out.append(_c(value, "FLOPs", "estimate", {key}, f"{key} estimate of forward + backward", st))
            out.append(_c(Fraction(value, acc.step_flops), "ratio", "estimate", {key}, f"{key} estimate / exact",
                          st))
            out.append(_c(acc.step_flops - value, "FLOPs", "estimate", {key}, f"exact - {key} estimate", st))
    a, b = t.linear
    out.append(_c(a, "bytes", "train_memory", {"activations", "per_example"}, "a: bytes per sequence", single,
                  titles=("a",)))
    out.append(_c(b, "bytes", "train_memory", {"fixed"}, "b: fixed bytes (parameters, gradients, m, v)", single,
                  titles=("b",)))
    budgets = list(dict.fromkeys(g.budgets))
    for text in budgets:
        try:
            budget = parse_budget(text)
        except DeriveError:
            continue
        top = t.max_batch(budget)
        out.append(_c(budget.bytes, "bytes", "budget", {"budget"}, f"budget {budget.text}", run))
        out.append(_c(top, "count", "max_batch", {"max_batch"}, f"largest batch in {budget.text}", run,
                      titles=("batch_size_max", "b_max")))
        out.append(_c(budget.bytes - b, "bytes", "budget", {"budget"}, f"{budget.text} - b", run, rank=2))
        out.append(_c(Fraction(budget.bytes - b, a), "ratio", "max_batch", {"max_batch"},
                      f"({budget.text} - b) / a", run, rank=2))
        for k in range(1, min(top + 2, 64) + 1):
            out.append(_c(a * k + b, "bytes", "train_memory", {"peak_memory"}, f"peak memory at batch_size {k}",
                          Setting(cfg, k, cfg.context_length), rank=1))
    # AdamW: FLOPs per parameter (per operation, per stage, in all), FLOPs of a step per stage
    out += tree_candidates(t.optimizer, "optimizer", run, "FLOPs", shares=False)
    tree_roots = {"optimizer": "optimizer", "backward": "backward", "activations": "activations"}
    for c in out:
        if len(c.keys) == 1 and c.keys[0] in tree_roots:
            c.roles = frozenset({tree_roots[c.keys[0]]})  # a training tree's total is not the model's total
    per_param = stages()
    stage_roles = {"first moment": "adamw_m", "second moment": "adamw_v", "bias correction": "bias_correction",
                   "update": "update", "weight decay": "weight_decay"}
    for fam in ("count", "FLOPs"):  # `14 FLOPs per parameter` and a bare 14 in a FLOPs/parameter column
        out.append(_c(sum(per_param.values()), fam, "optimizer", {"per_parameter"}, "AdamW FLOPs per parameter",
                      run))
        for stage, n in per_param.items():
            out.append(_c(n, fam, "optimizer", {stage_roles.get(stage, stage), "per_parameter"},
                          f"AdamW {stage} FLOPs per parameter", run, rank=1))
        for op in ADAMW_OPS:
            out.append(_c(op.flops, fam, "optimizer", {stage_roles.get(op.stage, op.stage), "per_parameter"},
                          f"AdamW {op.formula}: FLOPs per element", run, rank=2))
    out.append(_c(Fraction(t.optimizer.value, t.train_step_flops), "ratio", "optimizer", {"optimizer"},
                  "AdamW share of a training step", run))
    # the problem's list with the whole SwiGLU (problem-swiglu), and its difference from the problem's list
    full = training(Conventions(activations="problem-swiglu"))
    full_value = substitute(full.activations.expr, one.subs)
    out.append(_c(full_value, "count", "activations", {"activations"}, "activations (problem-swiglu set), one sequence",
                  single, full.activations.expr, rank=1))
    out.append(_c(full_value - one.activations.value, "count", "activations", {"activations"},
                  "activations problem-swiglu - problem set, one sequence", single,
                  full.activations.expr - d.activations.expr, rank=1))
    # time: total FLOPs, throughput, seconds and days, on the given hardware and on every listed one
    out.append(_c(g.steps, "count", "givens", {"steps"}, "training steps", run, rank=1))
    out.append(_c(t.total_flops, "FLOPs", "time", {"total_flops"}, "steps x step FLOPs", run,
                  titles=("total_flops",)))
    out.append(_c(g.mfu, "ratio", "givens", {"mfu"}, "MFU", run, rank=1))
    out.append(_c(SECONDS_PER_DAY, "count", "givens", {"seconds_per_day"}, "seconds per day", run, rank=2))
    for hw in hardware_table().values():
        mine = hw.key == t.hardware.key
        seconds = Fraction(t.total_flops) / (hw.peak_flops * t.mfu)
        with_opt = Fraction(g.steps * t.train_step_flops) / (hw.peak_flops * t.mfu)
        rank = 0 if mine else 1
        out.append(_c(hw.peak_flops, "FLOP/s", "givens", {"hardware"}, f"{hw.name} peak", run, rank=rank))
        out.append(_c(hw.peak_flops * t.mfu, "FLOP/s", "time", {"throughput"}, f"{hw.name} peak x MFU", run,
                      rank=rank, titles=("throughput",) if mine else ()))
        out.append(_c(seconds, "s", "time", {"time"}, f"training time on {hw.name}", run, rank=rank,
                      titles=("seconds", "days", "time", "training_time") if mine else ()))
        out.append(_c(with_opt, "s", "time", {"time"}, f"training time on {hw.name} with the AdamW update",
                      run, rank=rank + 1))
    try:
        cross = crossover(cfg)
        out.append(_c(cross.value, "count", "crossover", {"crossover"},
                      "seq_len where attention-score FLOPs overtake the FFN's", single, cross.expr,
                      titles=("seq_len", "crossover")))
    except (ValueError, KeyError, TypeError):
        pass
    return out
