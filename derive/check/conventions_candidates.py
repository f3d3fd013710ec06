"""FLOP conventions as candidates: each published estimate (6N, Kaplan's C_forward, Chinchilla's appendix, PaLM's
6N + 12LHQT, nanoGPT, Megatron's 72Bslh^2 and 96Bslh^2, torchtitan, MaxText) beside derive's exact count, from
derive.accounting.conventions as it is.

For one model at one input shape the candidates are: the exact matmul FLOPs of a step per scope (forward,
training, training + recompute, attention halved for the causal mask) and the backward/recompute parts; for each
convention its estimate per step and in its own unit (per token, per sequence, per step), the exact count in that
unit, the difference (exact - convention) and the ratio (convention / exact), and each term of its reconciliation
(the convention's term, the exact FLOPs of the groups it covers, their difference); and N as each source counts
it. Each carries its closed form, so a formula written for it is compared symbolically.

They are built only for a document that names a convention (its text mentions one of the registry's keys or the
words people use for them), so a plain model sheet pays nothing for them.
"""

from __future__ import annotations

import re
from fractions import Fraction

import sympy

from ..accounting.conventions.facts import PARAM_COUNTS
from ..accounting.conventions.reconcile import exact_total
from ..accounting.conventions.registry import CONVENTIONS, PER
from ..accounting.conventions.run import conventions_account
from ..errors import DeriveError
from .candidates import Candidate, Setting, name_key

SECTION = "convention_"  # prefix of a title read from the claim's section or first cell, not its label
# the words that say a document is about FLOP conventions (the registry's keys are added below)
_WORDS = re.compile(r"\b(?:conventions?|6N|MFU|HFU|Kaplan|Chinchilla|PaLM|Megatron|MaxText|torchtitan|nanoGPT)\b",
                    re.IGNORECASE)
# the exact count of each scope as derive's conventions sheet names it: (key, scope, causal, names)
EXACT_SCOPES = (
    ("forward", "forward", False, ("forward",)),
    ("training", "training", False, ("training", "forward + backward")),
    ("training+recompute", "training+recompute", False,
     ("training+recompute", "training with recompute", "forward + backward + recomputed block forward")),
    ("forward_causal", "forward", True, ("forward_causal", "forward causal")),
    ("training_causal", "training", True,
     ("training_causal", "training causal", "forward + backward, attention halved (causal)")),
)


def names_conventions(text: str) -> bool:
    """The document speaks of FLOP conventions (a convention's key or a word people use for one)."""
    if _WORDS.search(text):
        return True
    keys = "|".join(re.escape(k) for k in CONVENTIONS)
    return bool(re.search(rf"(?<![\w-])(?:{keys})(?![\w-])", text, re.IGNORECASE)) if keys else False


def section_title(key: str) -> str:
    """The title a convention's candidates carry: a claim in a section (or a table row) headed by the
    convention's key (`#### kaplan-6n: Kaplan et al. 2020`, `| kaplan | ...`) is about that convention
    (derive.check.explain.titled)."""
    return f"{SECTION}{name_key(key)}"


def _c(value, family: str, roles: set[str], label: str, setting: Setting, expr=None, rank: int = 0,
       titles: tuple[str, ...] = (), tree: str = "conventions") -> Candidate:
    return Candidate(Fraction(value), family, tree, frozenset(roles), label, setting,
                     expr_value=None if expr is None else sympy.sympify(expr), rank=rank,
                     titles=frozenset(name_key(t) for t in titles if t))


def conventions_candidates(setting: Setting) -> list[Candidate]:
    """Every figure of `derive conventions` and the conventions sheet for this model at this shape (FLOPs,
    ratios, parameter counts); empty when derive has no conventions accounting for it."""
    cfg = setting.config
    try:
        acc = conventions_account(cfg, setting.batch, min(setting.seq, cfg.context_length))
        rows = acc.rows
    except (DeriveError, ValueError, KeyError, ZeroDivisionError):
        return []
    d = acc.derivation
    out: list[Candidate] = []
    for key, scope, causal, names in EXACT_SCOPES:
        expr = exact_total(d, scope, causal)
        out.append(_c(acc.value(expr), "FLOPs", {key}, f"exact matmul FLOPs of a step ({key})", setting, expr,
                      titles=names + (key,)))
    forward = exact_total(d, "forward")
    training = exact_total(d, "training")
    recompute = exact_total(d, "training+recompute")
    out.append(_c(acc.value(training - forward), "FLOPs", {"backward"}, "exact backward FLOPs of a step", setting,
                  training - forward, rank=1, titles=("backward",)))
    out.append(_c(acc.value(recompute - training), "FLOPs", {"recompute"}, "recomputed block forward FLOPs",
                  setting, recompute - training, rank=1, titles=("recompute",)))
    for row in rows:
        c, r = row.convention, row.reconciled
        unit = PER[c.per]
        name = (c.key, c.title, section_title(c.key))
        mine = (section_title(c.key),)
        out.append(_c(row.flops, "FLOPs", {c.key}, f"{c.key} estimate per step", setting,
                      sympy.expand(r.expr * unit), titles=name))
        if c.per != "step":
            out.append(_c(row.flops_per_unit, "FLOPs", {c.key}, f"{c.key} estimate per {c.per}", setting, r.expr,
                          titles=name + (f"estimate per {c.per}",)))
            out.append(_c(row.exact_per_unit, "FLOPs", {c.key}, f"exact FLOPs per {c.per} ({c.scope})", setting,
                          r.exact, rank=1, titles=(f"exact per {c.per}",) + mine))
            out.append(_c(row.exact_per_unit - row.flops_per_unit, "FLOPs", {c.key},
                          f"exact - {c.key} per {c.per}", setting, row.difference, rank=1,
                          titles=(f"difference per {c.per}",) + mine))
        out.append(_c(row.exact - row.flops, "FLOPs", {c.key}, f"exact - {c.key} per step", setting,
                      sympy.expand(row.difference * unit) if c.per != "step" else row.difference, rank=1,
                      titles=("difference per step",) + mine))
        out.append(_c(row.exact, "FLOPs", {c.key}, f"exact FLOPs per step ({c.scope})", setting,
                      sympy.expand(r.exact * unit), rank=1, titles=mine))
        out.append(_c(row.ratio, "ratio", {c.key}, f"{c.key} estimate / exact", setting, rank=1, titles=mine))
        if row.utilization is not None:
            out.append(_c(row.utilization, "ratio", {c.key, "mfu"}, f"{c.key} {c.utilization}", setting, rank=1,
                          titles=mine))
        for t in row.terms:
            groups = ", ".join(t.row.groups)
            term = f"{c.key} term {t.row.label!s}"
            out.append(_c(t.convention, "FLOPs", {c.key}, f"{term} (convention, per {c.per})", setting,
                          t.row.convention, rank=2, titles=mine))
            out.append(_c(t.exact, "FLOPs", {c.key}, f"{term}: exact FLOPs of {groups} per {c.per}", setting,
                          t.row.exact, rank=2, titles=mine))
            out.append(_c(t.exact - t.convention, "FLOPs", {c.key}, f"{term}: exact - convention per {c.per}",
                          setting, t.difference, rank=2, titles=mine))
        if c.params:
            n_expr = r.facts.n(c.params)
            out.append(_c(acc.value(n_expr), "count", {f"n_{c.params}"}, f"N: {PARAM_COUNTS[c.params]}",
                          setting, n_expr, rank=1, titles=("n",) + mine))
    return out


# a heading that introduces statements of convention (`Conventions`, `Conventions of the exact count`, `Units
# and notation`), not one that only mentions them (`Every convention beside it`, `FLOP conventions reconciled`:
# sections of figures, which are claims)
_STATEMENTS = re.compile(r"^\W*(?:[\d.]+\s+)?(?:[\w-]+\s+){0,2}?(?:conventions?|notation)\s*"
                         r"(?:$|[:(,]|(?:of|and|used|for|in|we)\b)", re.IGNORECASE)


def statement_lines(doc, lines: set[int]) -> set[int]:
    """Of the lines read as a conventions section, those under a heading that introduces statements of
    convention (the others are figures about conventions: claims to check)."""
    keep: set[int] = set()
    stack: list[tuple[int, bool]] = []  # (level, statements) of the headings above
    for line in doc.lines:
        if line.heading_level is not None:
            while stack and stack[-1][0] >= line.heading_level:
                stack.pop()
            stack.append((line.heading_level, bool(_STATEMENTS.search(line.text.strip()))))
            continue
        if line.number in lines and any(s for _, s in stack):
            keep.add(line.number)
    return keep
