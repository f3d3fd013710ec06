"""The transformer-accounting sheet (CS336 assignment 1, transformer_accounting): a template context.

The handout edition (derive.accounting.editions) gives the parts, the models and the context length of the last
part; every sentence that explains a number is chosen from the numbers it explains (explain.py).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping

from ...accounting.account import Accounting, account
from ...accounting.editions import Edition, load_edition
from ...errors import UsageError
from ...model.architectures import GROUP_LABELS
from ...model.config import ModelConfig
from ..formatting import fmt_decimal, tree_lines
from ..prose import Data, Prose
from .common import GENERIC_SHEET, accounting_context, pct, used_symbols
from .explain import architecture_text, conventions_for, family_heading, long_context_text, scaling_text
from .parts import brief_lines, check_detail, edition_view

GPT2_FAMILY = ("gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl")  # the default edition's family (plots)
LONG_CONTEXT = 16_384  # the default edition's part (e)


def trend_sentences(accs: list[Accounting], labels: Mapping[str, str] = GROUP_LABELS) -> list[Prose]:
    """Which shares grow and which shrink from the smallest to the largest model, from the numbers."""
    ordered = sorted(accs, key=lambda a: a.total_params)
    first, last = ordered[0], ordered[-1]
    out = []
    for g in GROUP_LABELS:
        series = [a.shares[g] for a in ordered]
        a, b = series[0], series[-1]
        verb = "grows" if b > a else "shrinks" if b < a else "stays"
        monotone = all(x < y for x, y in zip(series, series[1:])) or all(x > y for x, y in zip(series, series[1:]))
        how = " steadily" if monotone and len(series) > 2 else ""
        out.append(Prose(f"The share of {labels[g]} {verb}{how} from {pct(a)} (", Data(first.config.name),
                         f") to {pct(b)} (", Data(last.config.name), ")."))
    return out


def share_rows(accs: list[Accounting]) -> list[dict[str, Any]]:
    return [{
        "name": a.config.name,
        "config": a.config,
        "params": a.total_params,
        "forward": a.forward_flops,
        "groups": {g: a.groups[g] for g in GROUP_LABELS},
        "shares": {g: pct(a.shares[g]) for g in GROUP_LABELS},
        "share_values": {g: float(a.shares[g]) for g in GROUP_LABELS},
    } for a in accs]


def _check_architecture(configs: list[ModelConfig], edition: Edition) -> None:
    for c in configs:
        if c.arch == edition.arch:
            continue
        if edition.arch.is_assignment:
            raise UsageError(f"--sheet transformer-accounting: {c.name} is not the assignment architecture "
                             f"(use --sheet {GENERIC_SHEET})")
        raise UsageError(f"--sheet transformer-accounting --edition {edition.name}: {c.name} is not the "
                         f"{edition.name} handout's architecture ({architecture_text(edition.arch)}); use --sheet "
                         f"{GENERIC_SHEET}")


def transformer_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any], edition: str | None = None,
                           detail: str = "full") -> dict[str, Any]:
    ed = load_edition(edition)
    problem = ed.transformer
    _check_architecture(configs, ed)
    primary = configs[0] if configs else ed.config(problem.subject, overrides)
    family = configs if len(configs) > 1 else [ed.config(n, overrides) for n in problem.family]
    if primary.name not in {c.name for c in family}:
        family = [*family, primary]
    main = account(primary)
    labels = main.derivation.group_labels
    family_accs = sorted((account(c) for c in family), key=lambda a: a.total_params)
    long_ctx = max(problem.long_context, primary.context_length)
    long = account(primary.replace(context_length=long_ctx, name=f"{primary.name} @ {long_ctx:,}"))
    factor = Fraction(long.forward_flops, main.forward_flops)
    shifts = []
    for g in GROUP_LABELS:
        a, b = main.shares[g], long.shares[g]
        verb = "rises" if b > a else "falls" if b < a else "stays"
        shifts.append(f"The share of {labels[g]} {verb} from {pct(a)} to {pct(b)}.")
    ratio_tokens = Fraction(long_ctx, primary.context_length)
    names, derived = used_symbols([main, long, *family_accs])
    context = {
        "symbol_names": names,
        "derived_dims": derived,
        "title": "Transformer LM resource accounting",
        "main": accounting_context(main),
        "family": share_rows(family_accs),
        "family_heading": family_heading([a.config.name for a in family_accs], problem),
        "trends": trend_sentences(family_accs, labels),
        "scaling": scaling_text(family_accs),
        "long": accounting_context(long),
        "long_context": long_ctx,
        "long_factor": fmt_decimal(factor, 2),
        "long_factor_tokens": fmt_decimal(ratio_tokens, 0),
        "long_text": long_context_text(primary, long_ctx),
        "long_shifts": shifts,
        "group_labels": {g: labels[g] for g in GROUP_LABELS},
        **edition_view(ed, problem.parts, problem.problem, check_detail(detail)),
        **plot_context(primary, family_accs),
        "architecture": None,  # None: the assignment architecture, described by the sheet's own text
        "options": None,
        "brief": {"params_lines": brief_lines(tree_lines(main.params)),
                  "forward_lines": brief_lines(tree_lines(main.forward))},
    }
    if not ed.arch.is_assignment:  # the default sheet's conventions and architecture text are the assignment's
        context["conventions"] = conventions_for(primary)
        context["architecture"] = architecture_text(primary.arch)
        context["options"] = options_listing(primary)
    return context


def options_listing(c: ModelConfig) -> dict[str, Any]:
    """The architecture options as `key : value` lines (what `derive check` reads back from a sheet)."""
    return {k: v for k, v in c.arch_values().items() if v is not None}


def plot_context(primary: ModelConfig, family_accs: list[Accounting]) -> dict[str, Any]:
    """Chart data for parts (d) and (e); the crossover context length is solved symbolically."""
    from ..charts import context_data, shares_data

    return {"shares_plot": shares_data(family_accs), "context_plot": context_data(primary)}
