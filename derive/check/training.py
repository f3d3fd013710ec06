"""Training quantities as candidates, from derive.accounting.training as it is: peak memory with AdamW (its
terms, a * B + b, the largest batch per budget), activations (both activation sets), AdamW FLOPs, backward
and step FLOPs, the Kaplan and PaLM estimates, and training time on every listed accelerator.

Only the assignment architecture has a training accounting (derive train refuses others); for any other
model this adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy

from ..accounting.hardware import hardware_table, parse_budget
from ..accounting.series import crossover
from ..accounting.editions import edition_names, load_edition
from ..accounting.training.activations import ACTIVATION_SETS
from ..accounting.training.derivation import SECONDS_PER_DAY, Conventions, training
from ..accounting.training.optimizer import ADAMW_OPS, stages
from ..accounting.training.run import givens, train_account
from ..errors import DeriveError
from ..model import symbols as sy
from ..model.steps import substitute
from .candidates import Candidate, Setting, name_key, tree_candidates


@dataclass(frozen=True)
class Givens:
    """The training run a document is about: the problem's givens unless the document states others."""

    steps: int
    batch: int
    hardware: str
    mfu: Fraction
    budgets: tuple[str, ...]
    sets: tuple[str, ...] = ()  # the activation sets the document names, the one it counts first
    named_hardware: tuple[str, ...] = ()  # keys of the accelerators the document names
    d_ff_ratio: Fraction | None = None  # `d_ff = 8/3 x d_model`: the rule its symbolic forms assume


# The training-memory terms' roles (the words that name them)
MEMORY_ROLES = {"memory.parameters": "weights", "memory.gradients": "gradients", "memory.adamw_m": "adamw_m",
                "memory.adamw_v": "adamw_v", "memory.activations": "activations"}


def default_givens() -> Givens:
    g = givens()
    return Givens(int(g["steps"]), int(g["batch_size"]), str(g["hardware"]), Fraction(str(g["mfu"])),
                  tuple(str(b) for b in g["budgets"]))


def _c(value, family: str, tree: str, roles: set[str], label: str, setting: Setting, expr=None,
       rank: int = 0, titles: tuple[str, ...] = ()) -> Candidate:
    return Candidate(Fraction(value), family, tree, frozenset(roles), label, setting, expr_value=expr, rank=rank,
                     titles=frozenset(titles))


def known_hardware() -> dict:
    """Every accelerator derive knows: configs/hardware.yaml and each shipped edition's own (the 2026
    handout's H100 at 495 TFLOP/s TF32), by key."""
    table = dict(hardware_table())
    for name in edition_names():
        try:
            hw = load_edition(name).adamw.hardware
        except DeriveError:
            continue
        table.setdefault(hw.key, hw)
    return table


def activation_sets(cfg, named: tuple[str, ...]) -> list[str]:
    """The activation sets that can count this model, those the document names first: a handout's list
    only for the architecture it describes (every shipped edition's list is registered by loading it); empty
    when none fits and the document names none."""
    for name in edition_names():
        try:
            load_edition(name)
        except DeriveError:
            continue
    fits = [n for n, s in ACTIVATION_SETS.items() if s.arch == cfg.arch]
    return [n for n in named if n in fits] + [n for n in fits if n not in named]


def training_candidates(setting: Setting, g: Givens) -> list[Candidate]:
    """Every training figure of derive train and the adamw-accounting sheet for this model."""
    cfg = setting.config
    sets = activation_sets(cfg, g.sets)
    if not sets:  # no handout list for this architecture and none named: no training figures (as before)
        return []
    conv = Conventions(activations=sets[0])
    try:
        t = train_account(cfg, batch_size=g.batch, steps=g.steps, hardware=g.hardware, mfu=g.mfu, conventions=conv)
    except DeriveError:
        return []
    one = train_account(cfg, batch_size=1, steps=g.steps, hardware=g.hardware, mfu=g.mfu, conventions=conv)
    d = t.derivation
    run = Setting(cfg, g.batch, cfg.context_length)
    single = Setting(cfg, 1, cfg.context_length)
    out: list[Candidate] = []
    # memory tree (bytes) at the run's batch and for one sequence; its terms carry training roles
    roles = MEMORY_ROLES
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
        forms = acc.derivation.approximations(sy.B * sy.S)
        for key, value in acc.approximations().items():
            out.append(_c(value, "FLOPs", "estimate", {key}, f"{key} estimate of forward + backward", st,
                          forms.get(key)))
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
        for k in sorted({*range(1, min(top + 2, 64) + 1), top, top + 1} - {0}):  # and the largest batch's
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
    # the other handout lists for this architecture (the 2025 sheet compares problem-swiglu), and their
    # difference from the set counted
    for other in sets[1:3]:
        if other not in ACTIVATION_SETS or d.activations is None:
            continue
        alt = training(Conventions(activations=other))
        alt_value = substitute(alt.activations.expr, one.subs)
        out.append(_c(alt_value, "count", "activations", {"activations"}, f"activations ({other} set), one sequence",
                      single, alt.activations.expr, rank=1))
        out.append(_c(alt_value - one.activations.value, "count", "activations", {"activations"},
                      f"activations {other} - {sets[0]} set, one sequence", single,
                      alt.activations.expr - d.activations.expr, rank=1))
    if g.d_ff_ratio is not None and g.d_ff_ratio * cfg.d_model != cfg.d_ff:
        out += assumed_candidates(t, one, g, single, run)
    # time: total FLOPs, throughput, seconds and days, on the given hardware and on every listed one
    out.append(_c(g.steps, "count", "givens", {"steps"}, "training steps", run, rank=1))
    out.append(_c(t.total_flops, "FLOPs", "time", {"total_flops"}, "steps x step FLOPs", run,
                  titles=("total_flops",)))
    out.append(_c(g.mfu, "ratio", "givens", {"mfu"}, "MFU", run, rank=1))
    out.append(_c(SECONDS_PER_DAY, "count", "givens", {"seconds_per_day"}, "seconds per day", run, rank=2))
    for hw in known_hardware().values():
        mine = hw.key in g.named_hardware if g.named_hardware else hw.key == t.hardware.key
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


def assumed_candidates(t, one, g: Givens, single: Setting, run: Setting) -> list[Candidate]:
    """The figures at the document's d_ff rule when it is not the config's own d_ff (the 2026 handout's
    d_ff = 8/3 d_model, 4,266.67 for GPT-2 XL, not rounded): each activation of one sequence over the
    layers, their total, the parameters, a, b, the step FLOPs and the training time, each with its closed
    form in d_model (the adamw-accounting sheet's `assumed` block, derive.render.sheets.adamw_assumed)."""
    d = t.derivation
    rule = {sy.d_ff: sympy.Rational(g.d_ff_ratio.numerator, g.d_ff_ratio.denominator) * sy.d}
    where = f"with d_ff = {g.d_ff_ratio} d_model"

    def form(expr) -> sympy.Expr:
        return sympy.expand(sympy.sympify(expr).subs(sy.S, sy.T).xreplace(rule))

    def value(expr, subs) -> Fraction:
        v = sympy.nsimplify(form(expr).xreplace({k: v for k, v in subs.items() if k != sy.d_ff}))
        return Fraction(int(v.p), int(v.q)) if v.is_Rational else Fraction(0)

    out: list[Candidate] = []
    total = Fraction(0)
    for leaf, mult in d.activations.leaves_with_multiplier():
        v = value(mult * leaf.expr, one.subs)
        total += v
        c = _c(v, "count", "activations", {leaf.key.rsplit(".", 1)[-1]}, f"{leaf.title} x {mult} {where}", single,
               form(mult * leaf.expr), rank=1, titles=(name_key(leaf.title),))
        c.scope = "all" if mult != 1 else ""
        out.append(c)
    out.append(_c(total, "count", "activations", {"activations"}, f"activations {where}, one sequence", single,
                  form(d.activations.expr), rank=1))
    params = value(d.params.expr, one.subs)
    out.append(_c(params, "count", "params", {"root"}, f"total parameters {where}", single, form(d.params.expr),
                  rank=1))
    a_expr, b_expr = d.memory_linear()
    a, b = value(a_expr, one.subs), value(b_expr, one.subs)
    out.append(_c(a, "bytes", "train_memory", {"activations", "per_example"}, f"a {where}", single, form(a_expr),
                  titles=("a",)))
    out.append(_c(b, "bytes", "train_memory", {"fixed"}, f"b {where}", single, form(b_expr), titles=("b",)))
    tree = d.memory_tree()
    for node in (tree, *tree.children):
        out.append(_c(value(node.expr, one.subs), "bytes", "train_memory", {MEMORY_ROLES.get(node.key, "peak_memory")},
                      f"{node.title} {where}", single, form(node.expr), rank=1,
                      titles=tuple(name_key(x) for x in (node.title, node.total_title) if x)))
    out.append(_c(value(d.optimizer.expr, one.subs), "FLOPs", "optimizer", {"optimizer"}, f"AdamW FLOPs {where}",
                  run, form(d.optimizer.expr), rank=1))
    step = value(d.step_flops, t.subs)
    out.append(_c(step, "FLOPs", "step", {"step"}, f"step FLOPs {where}", run, rank=1))
    table = known_hardware()
    for key in g.named_hardware or (t.hardware.key,):
        hw = table[key]
        seconds = Fraction(g.steps) * step / (hw.peak_flops * t.mfu)
        out.append(_c(seconds, "s", "time", {"time"}, f"training time on {hw.name} {where}", run, rank=1))
    for budget_text in g.budgets:
        try:
            budget = parse_budget(budget_text)
        except DeriveError:
            continue
        if a:
            top = (budget.bytes - b) // a
            out.append(_c(top, "count", "max_batch", {"max_batch"}, f"largest batch in {budget.text} {where}", run,
                          rank=1, titles=("batch_size_max", "b_max")))
            out.append(_c(Fraction(budget.bytes - b, a), "ratio", "max_batch", {"max_batch"},
                          f"({budget.text} - b) / a {where}", run, rank=2))
            for k in sorted({*range(1, min(int(top) + 2, 64) + 1), int(top), int(top) + 1} - {0}):
                out.append(_c(a * k + b, "bytes", "train_memory", {"peak_memory"},
                              f"peak memory at batch_size {k} {where}", Setting(run.config, k, run.seq), rank=1))
    return out
