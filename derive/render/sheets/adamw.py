"""The adamw-accounting sheet (CS336 assignment 1, adamwAccounting / adamw_accounting (a)-(d)): a template context.

Every figure comes from the symbolic TrainingDerivation; this module only arranges them. The handout edition
gives the givens: the d_ff that (a) assumes, the activation list, the budgets, steps, batch, hardware, MFU and
the unit of the training time (derive.accounting.editions).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping

import sympy

from ...accounting.account import account
from ...accounting.editions import TIME_UNITS, AdamwProblem, load_edition
from ...accounting.hardware import Hardware, hardware_table, parse_budget
from ...accounting.training.activations import ACTIVATION_SETS
from ...accounting.training.derivation import FP32_BYTES, SECONDS_PER_DAY, Conventions, max_batch_expr, training
from ...accounting.training.optimizer import ADAMW_OPS, flops_per_parameter, stages
from ...accounting.training.run import TrainAccounting, train_account
from ...errors import UsageError
from ...model import symbols as sy
from ...model.config import ModelConfig
from ...model.steps import substitute
from ..formatting import GB, GIB, expr_latex, expr_text, fmt_decimal, tree_lines
from ..latex import expr_tex
from .adamw_assumed import assumed_instantiation, rule_view
from .common import conditional_text, sheet_text, used_symbols
from .explain import architecture_words
from .transformer import options_listing
from .parts import check_detail, edition_view

D_FF_RULE = {sy.d_ff: 4 * sy.d}  # the 2024 and 2025 problems: d_ff = 4 x d_model


def problem_form(expr: sympy.Expr, d_ff: sympy.Expr = D_FF_RULE[sy.d_ff]) -> sympy.Expr:
    """In the problem's symbols: seq_len = context_length, d_ff as the problem assumes, collected by batch_size."""
    return sympy.collect(sympy.expand(sympy.sympify(expr).subs(sy.S, sy.T).subs({sy.d_ff: d_ff})), sy.B)


def sym(expr: sympy.Expr) -> dict[str, Any]:
    """A formula in every form a template prints: text (md), tex (derive's macros), latex (plain), expr (MathML)."""
    return {"text": expr_text(expr), "tex": expr_tex(expr), "latex": expr_latex(expr), "expr": expr}


def activation_rows(name: str) -> list[dict[str, Any]]:
    act = ACTIVATION_SETS[name]
    rows = []
    for scope, entries in (("per block", act.block), ("once", act.final)):
        for a in entries:
            expr = sympy.Mul(*(f.expr for f in a.factors))
            rows.append({"scope": scope, "title": a.title, "description": a.description, **sym(expr)})
    return rows


def memory_rows(t: TrainAccounting, d_ff: sympy.Expr) -> list[dict[str, Any]]:
    tree = t.derivation.memory_tree()
    rows = []
    for leaf in tree.children:
        node = t.memory.find(leaf.key)
        rows.append({"title": leaf.title, **sym(problem_form(leaf.expr, d_ff)), "general": expr_text(leaf.expr),
                     "value": node.value})
    return rows


def budget_rows(a: int, b: int, budgets: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """memory = a * batch_size + b against each budget: the largest batch, and the memory there and one above."""
    rows = []
    for text in budgets:
        budget = parse_budget(text)
        exact = Fraction(budget.bytes - b, a)
        top = max(int(max_batch_expr(sympy.Integer(a), sympy.Integer(b), budget.bytes)), 0)
        rows.append({"text": budget.text, "formula": budget.formula, "formula_tex": budget.formula_tex,
                     "bytes": budget.bytes, "free": budget.bytes - b, "exact": fmt_decimal(exact, 4),
                     "max_batch": top, "memory_at_max": a * top + b, "memory_at_next": a * (top + 1) + b})
    return rows


def approximation_rows(t: TrainAccounting, d_ff: sympy.Expr) -> list[dict[str, Any]]:
    tokens = sy.B * sy.S
    exact = t.derivation.step_flops
    labels = {"kaplan": "6N per token (Kaplan et al.; N = all trainable parameters)",
              "palm": "6N + 12 L h d_k S per token (PaLM; nanoGPT estimate_mfu)"}
    values = t.approximations()
    rows = []
    for key, expr in t.derivation.approximations(tokens).items():
        diff = sympy.factor(problem_form(exact - expr, d_ff))
        rows.append({"key": key, "label": labels[key], **sym(problem_form(expr, d_ff)), "value": values[key],
                     "diff_text": expr_text(diff), "diff_tex": expr_tex(diff), "diff_expr": diff,
                     "diff": t.step_flops - values[key],
                     "ratio": fmt_decimal(Fraction(values[key], t.step_flops), 4)})
    return rows


def time_context(t: TrainAccounting, unit: str = "days") -> dict[str, Any]:
    """Training time at the problem's MFU on its hardware, and on every accelerator in hardware.yaml. `unit` is
    what the problem asks for (days or hours); both are printed."""
    effective = t.hardware.peak_flops * t.mfu
    per_unit = TIME_UNITS[unit]
    table = hardware_table()
    hardware: list[Hardware] = ([] if t.hardware.key in table else [t.hardware]) + list(table.values())
    rows = []
    for hw in hardware:
        seconds = Fraction(t.total_flops) / (hw.peak_flops * t.mfu)
        rows.append({"key": hw.key, "name": hw.name, "peak": hw.peak_flops,
                     "days": fmt_decimal(seconds / SECONDS_PER_DAY, 1), "hours": fmt_decimal(seconds / 3600, 1)})
    return {
        "steps": t.steps, "step_flops": t.step_flops, "total_flops": t.total_flops,
        "hardware": t.hardware, "mfu": fmt_decimal(t.mfu, 2), "mfu_pct": f"{float(t.mfu) * 100:g}%",
        "effective": fmt_decimal(effective, 0), "seconds": fmt_decimal(t.seconds(), 0),
        "seconds_per_day": SECONDS_PER_DAY, "days": fmt_decimal(t.days(), 2),
        "days_with_optimizer": fmt_decimal(t.days(include_optimizer=True), 2),
        "unit": unit, "seconds_per_unit": per_unit,
        "in_unit": fmt_decimal(t.seconds() / per_unit, 2),
        "in_unit_with_optimizer": fmt_decimal(t.seconds(include_optimizer=True) / per_unit, 2),
        "hardware_rows": rows,
    }


def _check_architecture(config: ModelConfig, problem: AdamwProblem, edition: str) -> None:
    allowed = ACTIVATION_SETS[problem.activations].arch
    if config.arch != allowed:
        raise UsageError(f"--sheet adamw-accounting --edition {edition}: {config.name} is not the {edition} "
                         f"handout's architecture, which its activation list describes")


def adamw_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any], edition: str | None = None,
                     detail: str = "full") -> dict[str, Any]:
    ed = load_edition(edition)
    problem = ed.adamw
    config = configs[0] if configs else ed.config(problem.model, overrides)
    _check_architecture(config, problem, ed.name)
    rule = problem.d_ff
    d_ff = rule.expr(sy.d)
    conv = Conventions(activations=problem.activations)
    options = dict(batch_size=problem.batch_size, steps=problem.steps, budget=problem.budgets[0],
                   hardware=problem.hardware.key, mfu=problem.mfu, conventions=conv)
    t = _train_account(config, problem, options)
    one = _train_account(config, problem, {**options, "batch_size": 1})
    d = t.derivation
    full = training(Conventions(activations="problem-swiglu"))
    act_problem = problem_form(d.activations.expr, d_ff)
    act_full = problem_form(full.activations.expr, d_ff)
    a_sym, b_sym = (problem_form(x, d_ff) for x in d.memory_linear())
    opt = d.optimizer
    assumed = assumed_instantiation(t, config, rule)  # None when (a)'s d_ff is this config's own
    a, b = (assumed["a"], assumed["b"]) if assumed else t.linear
    params = assumed["params"] if assumed else t.total_params
    rv = rule_view(rule, config)
    if assumed:  # (d) at (a)'s d_ff as well, beside the config's own
        step = substitute(problem_form(d.step_flops, d_ff).subs(sy.B, t.batch_size), t.subs)
        seconds = Fraction(t.steps * step) / (t.hardware.peak_flops * t.mfu)
        assumed["time_in_unit"] = fmt_decimal(seconds / TIME_UNITS[problem.time_unit], 2)
        assumed["step_flops"] = step
    same = len({r["max_batch"] for r in budget_rows(a, b, problem.budgets)}) == 1
    return {
        "title": "AdamW training accounting",
        "config": config,
        "d_ff_is_4d": config.d_ff == 4 * config.d_model,
        "d_ff_rule": rv,
        "assumed": assumed,
        "architecture_words": None if config.arch.is_assignment else architecture_words(config.arch),
        "options": None if config.arch.is_assignment else options_listing(config),
        "conventions": [*conv.lines(),
                        f"every tensor in float32 ({FP32_BYTES} bytes per element); GB = 10^9 bytes, GiB = 2^30 bytes",
                        f"d_ff = {rv['words']} in the symbolic forms, as the problem assumes",
                        "AdamW: 1 FLOP per element-wise add, multiply, divide or square root; "
                        "per-step scalars (bias correction) are not counted per parameter"],
        "activation_set": problem.activations,
        "activation_rows": activation_rows(problem.activations),
        "show_full_set": config.arch.ffn == "swiglu" and problem.activations != "problem-swiglu",
        "full_rows": activation_rows("problem-swiglu"),
        "full_description": ACTIVATION_SETS["problem-swiglu"].description,
        "act_problem": sym(act_problem),
        "act_full": sym(act_full),
        "act_diff": sym(sympy.factor(act_full - act_problem)),
        "act_diff_value": (substitute(full.activations.expr - d.activations.expr, one.subs)
                           if config.arch.is_assignment else None),
        "params_sym": sym(problem_form(d.params.expr, d_ff)),
        "memory_rows": memory_rows(t, d_ff),
        "memory_total": sym(problem_form(d.memory_tree().expr, d_ff)),
        "a_sym": sym(a_sym), "b_sym": sym(b_sym), "a": a, "b": b,
        "params": params,
        "config_params": t.total_params,
        "b_factor": b_factor(b, params),
        "bytes_per_element": FP32_BYTES,
        "backward_ratio": fmt_ratio(Fraction(one.backward.value, one.forward.value)),
        "activation_lines": tree_lines(one.activations),
        "activation_tree": one.activations,
        "budgets": budget_rows(a, b, problem.budgets),
        "budgets_note": (conditional_text("adamw-accounting")["budgets_same"] if same
                         else sheet_text("adamw-accounting")["budgets_note"]),
        "gb": GB, "gib": GIB,
        "adamw_ops": ADAMW_OPS,
        "adamw_stages": stages(),
        "adamw_per_param": flops_per_parameter(),
        "optimizer_lines": tree_lines(t.optimizer),
        "optimizer_tree": t.optimizer,
        "optimizer_sym": sym(problem_form(opt.expr, d_ff)),
        "optimizer_flops": t.optimizer.value,
        "batch_size": t.batch_size,
        "seq_len": t.seq_len,
        "forward_flops": t.forward.value,
        "backward_flops": t.backward.value,
        "backward_lines": tree_lines(one.backward),
        "backward_tree": one.backward,
        "backward_one": one.backward.value,
        "forward_one": one.forward.value,
        "step_flops": t.step_flops,
        "train_step_flops": t.train_step_flops,
        "step_sym": sym(problem_form(d.step_flops, d_ff)),
        "approximations": approximation_rows(t, d_ff),
        "time": time_context(t, problem.time_unit),
        "optimizer_share": f"{t.optimizer.value / t.train_step_flops * 100:.4f}%",
        "symbol_names": used_symbols([account(config)])[0] | {"batch_size", "seq_len"},
        "derived_dims": [],
        **edition_view(ed, problem.parts, problem.problem, check_detail(detail)),
    }


def _train_account(config: ModelConfig, problem: AdamwProblem, options: dict[str, Any]) -> TrainAccounting:
    """train_account with the edition's givens; an edition's own hardware (not in hardware.yaml) is used as is."""
    if problem.hardware.key in hardware_table():
        return train_account(config, **options)
    t = train_account(config, **{**options, "hardware": None})
    return TrainAccounting(t.config, t.batch_size, t.steps, t.budget, problem.hardware, t.mfu, t.derivation)


def b_factor(b: int, params: int) -> int:
    """b = (parameters + gradients + AdamW moments) * bytes: a whole multiple of P."""
    if b % params:
        raise ValueError(f"fixed memory {b} is not a multiple of the parameter count {params}")
    return b // params


def fmt_ratio(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.6f}"
