"""The adamw-accounting sheet (CS336 assignment 1, adamwAccounting (a)-(d)): a template context.

Every figure comes from the symbolic TrainingDerivation; this module only arranges them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping

import sympy

from ...accounting.hardware import hardware_table, parse_budget
from ...accounting.training.activations import ACTIVATION_SETS, DEFAULT_ACTIVATIONS
from ...accounting.training.derivation import FP32_BYTES, SECONDS_PER_DAY, Conventions, training
from ...accounting.training.optimizer import ADAMW_OPS, flops_per_parameter, stages
from ...accounting.training.run import TrainAccounting, givens, train_account
from ...model import symbols as sy
from ...accounting.account import account
from ...model.config import ModelConfig, load_config
from ...model.steps import substitute
from ..formatting import GB, GIB, expr_latex, expr_text, fmt_decimal, tree_lines
from ..latex import expr_tex
from .common import used_symbols

D_FF_RULE = {sy.d_ff: 4 * sy.d}  # the problem: d_ff = 4 x d_model


def problem_form(expr: sympy.Expr) -> sympy.Expr:
    """In the problem's symbols: seq_len = context_length, d_ff = 4 d_model, collected by batch_size."""
    return sympy.collect(sympy.expand(sympy.sympify(expr).subs(sy.S, sy.T).subs(D_FF_RULE)), sy.B)


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


def memory_rows(t: TrainAccounting) -> list[dict[str, Any]]:
    tree = t.derivation.memory_tree()
    rows = []
    for leaf in tree.children:
        node = t.memory.find(leaf.key)
        rows.append({"title": leaf.title, **sym(problem_form(leaf.expr)), "general": expr_text(leaf.expr),
                     "value": node.value})
    return rows


def budget_rows(t: TrainAccounting, budgets: list[str]) -> list[dict[str, Any]]:
    a, b = t.linear
    rows = []
    for text in budgets:
        budget = parse_budget(text)
        exact = Fraction(budget.bytes - b, a)
        rows.append({"text": budget.text, "formula": budget.formula, "formula_tex": budget.formula_tex,
                     "bytes": budget.bytes, "free": budget.bytes - b, "exact": fmt_decimal(exact, 4),
                     "max_batch": t.max_batch(budget),
                     "memory_at_max": a * t.max_batch(budget) + b,
                     "memory_at_next": a * (t.max_batch(budget) + 1) + b})
    return rows


def approximation_rows(t: TrainAccounting) -> list[dict[str, Any]]:
    tokens = sy.B * sy.S
    exact = t.derivation.step_flops
    labels = {"kaplan": "6N per token (Kaplan et al.; N = all trainable parameters)",
              "palm": "6N + 12 L h d_k S per token (PaLM; nanoGPT estimate_mfu)"}
    values = t.approximations()
    rows = []
    for key, expr in t.derivation.approximations(tokens).items():
        diff = sympy.factor(problem_form(exact - expr))
        rows.append({"key": key, "label": labels[key], **sym(problem_form(expr)), "value": values[key],
                     "diff_text": expr_text(diff), "diff_tex": expr_tex(diff), "diff_expr": diff,
                     "diff": t.step_flops - values[key],
                     "ratio": fmt_decimal(Fraction(values[key], t.step_flops), 4)})
    return rows


def time_context(t: TrainAccounting) -> dict[str, Any]:
    effective = t.hardware.peak_flops * t.mfu
    rows = []
    for hw in hardware_table().values():
        seconds = Fraction(t.total_flops) / (hw.peak_flops * t.mfu)
        rows.append({"key": hw.key, "name": hw.name, "peak": hw.peak_flops,
                     "days": fmt_decimal(seconds / SECONDS_PER_DAY, 1)})
    return {
        "steps": t.steps, "step_flops": t.step_flops, "total_flops": t.total_flops,
        "hardware": t.hardware, "mfu": fmt_decimal(t.mfu, 2), "mfu_pct": f"{float(t.mfu) * 100:g}%",
        "effective": fmt_decimal(effective, 0), "seconds": fmt_decimal(t.seconds(), 0),
        "seconds_per_day": SECONDS_PER_DAY, "days": fmt_decimal(t.days(), 2),
        "days_with_optimizer": fmt_decimal(t.days(include_optimizer=True), 2),
        "hardware_rows": rows,
    }


def adamw_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    config = configs[0] if configs else load_config("gpt2-xl", overrides)
    g = givens()
    conv = Conventions()
    t = train_account(config)
    one = train_account(config, batch_size=1)
    d = t.derivation
    full = training(Conventions(activations="problem-swiglu"))
    act_problem = problem_form(d.activations.expr)
    act_full = problem_form(full.activations.expr)
    a_sym, b_sym = (problem_form(x) for x in d.memory_linear())
    a, b = t.linear
    opt = d.optimizer
    return {
        "title": "AdamW training accounting",
        "config": config,
        "d_ff_is_4d": config.d_ff == 4 * config.d_model,
        "conventions": [*conv.lines(),
                        f"every tensor in float32 ({FP32_BYTES} bytes per element); GB = 10^9 bytes, GiB = 2^30 bytes",
                        "d_ff = 4 x d_model in the symbolic forms, as the problem assumes",
                        "AdamW: 1 FLOP per element-wise add, multiply, divide or square root; "
                        "per-step scalars (bias correction) are not counted per parameter"],
        "activation_set": DEFAULT_ACTIVATIONS,
        "activation_rows": activation_rows(DEFAULT_ACTIVATIONS),
        "full_rows": activation_rows("problem-swiglu"),
        "full_description": ACTIVATION_SETS["problem-swiglu"].description,
        "act_problem": sym(act_problem),
        "act_full": sym(act_full),
        "act_diff": sym(sympy.factor(act_full - act_problem)),
        "act_diff_value": substitute(full.activations.expr - d.activations.expr, one.subs),
        "params_sym": sym(problem_form(d.params.expr)),
        "memory_rows": memory_rows(t),
        "memory_total": sym(problem_form(d.memory_tree().expr)),
        "a_sym": sym(a_sym), "b_sym": sym(b_sym), "a": a, "b": b,
        "params": t.total_params,
        "b_factor": b_factor(b, t.total_params),
        "bytes_per_element": FP32_BYTES,
        "backward_ratio": fmt_ratio(Fraction(one.backward.value, one.forward.value)),
        "activation_lines": tree_lines(one.activations),
        "activation_tree": one.activations,
        "budgets": budget_rows(t, g["budgets"]),
        "gb": GB, "gib": GIB,
        "adamw_ops": ADAMW_OPS,
        "adamw_stages": stages(),
        "adamw_per_param": flops_per_parameter(),
        "optimizer_lines": tree_lines(t.optimizer),
        "optimizer_tree": t.optimizer,
        "optimizer_sym": sym(problem_form(opt.expr)),
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
        "step_sym": sym(problem_form(d.step_flops)),
        "approximations": approximation_rows(t),
        "time": time_context(t),
        "optimizer_share": f"{t.optimizer.value / t.train_step_flops * 100:.4f}%",
        "symbol_names": used_symbols([account(config)])[0] | {"batch_size", "seq_len"},
        "derived_dims": [],
    }



def b_factor(b: int, params: int) -> int:
    """b = (parameters + gradients + AdamW moments) * bytes: a whole multiple of P."""
    if b % params:
        raise ValueError(f"fixed memory {b} is not a multiple of the parameter count {params}")
    return b // params


def fmt_ratio(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.6f}"
