"""Claims in sentences: a number presented as a result, with a unit (`about 7.9 GB`, `4.51 TFLOPs`), a scale
(`roughly 1.5 billion`, `124M`), a count noun (`2,127,057,600 trainable parameters`), a ratio (`33x more`, `33.13
times the total`), a percentage, or after `is` / `about` / `≈`; never a given (`1,024 tokens`, `at 50% MFU`,
`in 80 GB`, `48 layers`).
"""

from __future__ import annotations

import re
from typing import Mapping

from .arith import evaluate
from .claims import MAX_CLAIMS_PER_LINE, Claim
from .values import NotUnderstood, Number, Quantity

_NUMBER = re.compile(r"(?<![\w.,^/])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:e[+-]?\d+)?(?![\d_]|,\d)")
_UNIT_AFTER = re.compile(r"\s*(?:(thousand|million|billion|trillion)\s+)?"
                         r"([KMGTP]i?B|bytes?|[kKMGTPE]?FLOP(?:s|/s)?|[kmgtpe]?flops?|seconds?|secs?|s|min(?:ute)?s?|"
                         r"hours?|hrs?|h|days?|weeks?|years?)\b(?!/)")
_COUNT_AFTER = re.compile(r"\s*(?:(thousand|million|billion|trillion|[KMBT])\b\s*)?"
                          r"((?:trainable |total |active |learnable |non-embedding |model )*"
                          r"(?:parameters?|params|weights|elements|activations|entries|values))\b", re.IGNORECASE)
_SCALE_ONLY = re.compile(r"\s*(thousand|million|billion|trillion)\b|(?<=\d)([KMBT])\b(?!\s*(?:[=*/]|tokens|steps))")
_RATIO_AFTER = re.compile(r"\s*(?:x|×|times)\s+(?:more|larger|bigger|higher|greater|smaller|fewer|less|lower|faster|"
                          r"slower|the|as|that|than|what|of|increase|growth|longer|shorter|over)\b|"
                          r"(?:x|×)(?=\s*(?:[.,;)]|$))", re.IGNORECASE)
_GIVEN_AFTER = re.compile(r"\s*(?:tokens?|sequences?|steps?|layers?|blocks?|heads?|experts?|gpus?|examples?|"
                          r"samples?|iterations?|epochs?|dims?|dimensions?|query|key|per token|per sequence|x\s+\w+_)\b",
                          re.IGNORECASE)
_GIVEN_BEFORE = re.compile(r"(?:\bat|\bof|\bfor|\bover|\bto|\bwith|\bin|\bwithin|\bunder|\bbudget|\bfrom|\bbatch|"
                           r"\bsize|\blength|\bcontext|\bstep|\b[a-z_]+_[a-z_]+|\bx|[(,])\s*$", re.IGNORECASE)
_RESULT_BEFORE = re.compile(r"(?:\bis|\bare|\bwas|\bwere|\bequals?|\bgives?|\btotals?|\bneeds?|\bcosts?|\btakes?|"
                            r"\bhas|\bhave|≈|~|\babout|\broughly|\bapproximately|\baround|\bnearly|\balmost|\bsome|"
                            r"\bcomes to|\bof about|\bonly|\bjust)\s*$", re.IGNORECASE)
_SCIENTIFIC = re.compile(r"\s*(?:\*|×|x)\s*10\s*\^\s*\(?\s*([+-]?\d{1,3})\s*\)?")
_APPROX_BEFORE = re.compile(r"(?:≈|~|\babout|\broughly|\bapproximately|\baround|\bnearly|\balmost)\s*$",
                            re.IGNORECASE)



def prose_claims(number: int, text: str, scope: Mapping[str, Number], context: tuple[str, ...],
                 parent: str | None) -> list[Claim]:
    """Numbers presented as results in a sentence: with a unit, a scale word, `%`, `x more`, or after
    `is`/`about`/`≈`; never a given (`1,024 tokens`, `at 50%`, `in 80 GB`, `48 layers`)."""
    out: list[Claim] = []
    if len(text) > 5000:
        return out
    consumed = 0
    for m in _NUMBER.finditer(text):
        if m.start() < consumed:
            continue
        before, after = text[:m.start()], text[m.end():]
        literal = m.group(0)
        sci = _SCIENTIFIC.match(after)
        if sci and m.group(2):  # `4.51 x 10^12 FLOPs`
            literal = f"{literal} * 10^{sci.group(1)}"
            after = after[sci.end():]
            consumed = m.end() + sci.end()
        approx = bool(_APPROX_BEFORE.search(before))
        q: Quantity | None = None
        kind = "prose"
        noun = None
        if after.startswith("%") or after.startswith(r"\%"):
            if re.search(r"\bat\s*$", before) or re.match(r"%\s*(?:mfu|utili[sz]ation|of peak)", after, re.I):
                continue
            q = _quantity(literal + "%")
            kind = "ratio"
        elif _GIVEN_AFTER.match(after) and not _COUNT_AFTER.match(after):
            continue
        elif _RATIO_AFTER.match(after) is not None:
            if re.search(r"(?:repeated|applied|\(x|x)\s*$", before, re.I):
                continue
            q = _ratio(literal)
            kind = "ratio"
        elif (u := _UNIT_AFTER.match(after)) is not None:
            if _GIVEN_BEFORE.search(before) and u.group(2) and re.match(r"[KMGTP]i?B|bytes?", u.group(2)):
                continue
            if re.search(r"\bat\s*$", before):
                continue
            q = _quantity(f"{'~ ' if approx else ''}{literal} {u.group(1) or ''} {u.group(2)}")
        elif (c := _COUNT_AFTER.match(after)) is not None:
            scale = {"K": "thousand", "M": "million", "B": "billion", "T": "trillion"}.get(c.group(1), c.group(1))
            q = _quantity(f"{'~ ' if approx else ''}{literal} {scale or ''}")
            noun = c.group(2)
        elif (s := _SCALE_ONLY.match(after)) is not None:
            scale = s.group(1) or {"K": "thousand", "M": "million", "B": "billion", "T": "trillion"}[s.group(2)]
            q = _quantity(f"{'~ ' if approx else ''}{literal} {scale}")
        elif _RESULT_BEFORE.search(before) and (m.group(2) or len(literal) >= 4) and not _GIVEN_AFTER.match(after):
            q = _quantity(f"{'~ ' if approx else ''}{literal}")
        if q is None:
            continue
        words = (before[-120:] + " " + after[:80]).strip()
        out.append(Claim(number, text.strip(), words, kind, (literal,), [q], [], q, context=context,
                         parent=parent, noun=noun))
        if len(out) >= MAX_CLAIMS_PER_LINE:
            break
    return out


def _quantity(text: str) -> Quantity | None:
    try:
        return evaluate(text)
    except NotUnderstood:
        return None


def _ratio(literal: str) -> Quantity | None:
    q = _quantity(literal)
    if q is None:
        return None
    approx = q.approx_digits if q.approx_digits is not None else 0
    return Quantity(q.value, "ratio", approx, "x", q.scale)
