"""The transformer-accounting sheet (CS336 assignment 1, transformer_accounting (a)-(e)): a template context."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping

from ...accounting.account import Accounting, account
from ...errors import UsageError
from ...model.architectures import GROUP_LABELS
from ...model.config import ModelConfig, load_config
from ..formatting import fmt_decimal
from ..prose import Data, Prose
from .common import GENERIC_SHEET, accounting_context, pct, used_symbols

GPT2_FAMILY = ("gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl")
LONG_CONTEXT = 16_384  # part (e) of the problem asks about this context length


def trend_sentences(accs: list[Accounting]) -> list[Prose]:
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
        out.append(Prose(f"The share of {GROUP_LABELS[g]} {verb}{how} from {pct(a)} (", Data(first.config.name),
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


def transformer_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for c in configs:
        if not c.arch.is_assignment:
            raise UsageError(f"--sheet transformer-accounting: {c.name} is not the assignment architecture "
                             f"(use --sheet {GENERIC_SHEET})")
    primary = configs[0] if configs else load_config("gpt2-xl", overrides)
    family = configs if len(configs) > 1 else [load_config(n, overrides) for n in GPT2_FAMILY]
    if primary.name not in {c.name for c in family}:
        family = [*family, primary]
    main = account(primary)
    family_accs = sorted((account(c) for c in family), key=lambda a: a.total_params)
    long_ctx = max(LONG_CONTEXT, primary.context_length)
    long = account(primary.replace(context_length=long_ctx, name=f"{primary.name} @ {long_ctx:,}"))
    factor = Fraction(long.forward_flops, main.forward_flops)
    shifts = []
    for g in GROUP_LABELS:
        a, b = main.shares[g], long.shares[g]
        verb = "rises" if b > a else "falls" if b < a else "stays"
        shifts.append(f"The share of {GROUP_LABELS[g]} {verb} from {pct(a)} to {pct(b)}.")
    ratio_tokens = Fraction(long_ctx, primary.context_length)
    names, derived = used_symbols([main, long, *family_accs])
    return {
        "symbol_names": names,
        "derived_dims": derived,
        "title": "Transformer LM resource accounting",
        "main": accounting_context(main),
        "family": share_rows(family_accs),
        "trends": trend_sentences(family_accs),
        "long": accounting_context(long),
        "long_context": long_ctx,
        "long_factor": fmt_decimal(factor, 2),
        "long_factor_tokens": fmt_decimal(ratio_tokens, 0),
        "long_shifts": shifts,
        "group_labels": GROUP_LABELS,
        **plot_context(primary, family_accs),
    }


def plot_context(primary: ModelConfig, family_accs: list[Accounting]) -> dict[str, Any]:
    """Chart data for parts (d) and (e); the crossover context length is solved symbolically."""
    from ..charts import context_data, shares_data

    return {"shares_plot": shares_data(family_accs), "context_plot": context_data(primary)}
