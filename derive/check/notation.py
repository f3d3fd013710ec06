"""Notations of hand derivations that are not plain arithmetic: formula letters written together (`8nd^2`,
`2Vd_model`), shapes joined by a product sign (`(1,024 x 64) * (64 x 1,024)` is a matmul), and scientific
notation as a rounded figure (`4.25 x 10^9`). Standard library only.
"""

from __future__ import annotations

import re
from typing import Mapping

from .lexer import _Tok
from .values import Number

FORMULA_LETTERS = set("dhnVTLBSDHNPAEF")  # single letters formulas juxtapose (`8nd^2`, `2Vd`, `BTd`)


_SUFFIXES = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
_MATMUL = re.compile(r"^\s*\(([^()]+)\)\s*(?:\*|x|×|@)\s*\(([^()]+)\)(\s*(?:[A-Za-z/]+)?\s*)$")
_TIMES = re.compile(r"\s*(?:\*|×|(?<=[\w)])\s*x\s*(?=[\w(]))\s*")


def _as_matmul(text: str) -> str | None:
    """`(1,024 x 64) * (64 x 1,024)` -> `(1,024, 64) @ (64, 1,024)`: two shapes joined by a product sign."""
    m = _MATMUL.match(text)
    if m is None:
        return None
    groups = []
    for group in (m.group(1), m.group(2)):
        if re.search(r",\s", group) or re.search(r"[-+/^]", group):
            return None  # already a tuple, or arithmetic
        parts = [p.strip() for p in _TIMES.split(group)]
        if not 2 <= len(parts) <= 4 or not all(parts):
            return None
        groups.append(parts)
    return f"({', '.join(groups[0])}) @ ({', '.join(groups[1])}){m.group(3)}"


def _symbols_in(word: str, symbols: Mapping[str, Number]) -> list[str] | None:
    """`Vd_model` -> [`V`, `d_model`]: a word that is several symbols written together (longest first)."""
    if len(word) > 24 or "_" not in word:
        return None
    for k in range(len(word) - 1, 0, -1):
        head, tail = word[:k], word[k:]
        if head in symbols and (head in FORMULA_LETTERS or "_" in head or len(head) > 1):
            rest = [tail] if tail in symbols else _symbols_in(tail, symbols) if "_" in tail else (
                list(tail) if all(c in symbols and c in FORMULA_LETTERS for c in tail) else None)
            if rest:
                return [head, *rest]
        if all(c in FORMULA_LETTERS and c in symbols for c in head) and tail in symbols:
            return [*head, tail]
    return None


def _split_letters(toks: list[_Tok], symbols: Mapping[str, Number]) -> list[_Tok]:
    """`nd` -> `n d` in a formula, when `nd` is no symbol but each of its letters is one of the formula
    letters (an English word such as `add` or `and` is never split); `Vd_model` -> `V d_model`."""
    out: list[_Tok] = []
    for tok in toks:
        word = tok.text
        parts = _symbols_in(word, symbols) if tok.kind == "IDENT" and word not in symbols else None
        if parts:
            pos = tok.start
            for part in parts:
                out.append(_Tok("IDENT", part, pos, pos + len(part)))
                pos += len(part)
            continue
        if (tok.kind == "IDENT" and word not in symbols and 2 <= len(word) <= 6 and word.isalpha()
                and all(c in symbols and c in FORMULA_LETTERS for c in word)
                and (len(word) == 2 or any(c.isupper() for c in word) or not set(word) & set("aeiou"))):
            out.extend(_Tok("IDENT", c, tok.start + k, tok.start + k + 1) for k, c in enumerate(word))
        else:
            out.append(tok)
    return out


def _scientific(body: list[_Tok]) -> bool:
    """NUM * 10 ^ NUM (or `10^(NUM)`) with a decimal mantissa."""
    kinds = [(t.kind, t.text) for t in body]
    if len(body) == 5:
        exp_ok = body[4].kind == "NUM"
    elif len(body) == 7:
        exp_ok = body[4].kind == "LP" and body[5].kind == "NUM" and body[6].kind == "RP"
    else:
        return False
    return (exp_ok and kinds[0][0] == "NUM" and body[0].approx is not None and kinds[1] == ("OP", "*")
            and kinds[2] == ("NUM", "10") and kinds[3][1] in ("^", "**") and body[-1 if len(body) == 5 else 5].value
            is not None and body[-1 if len(body) == 5 else 5].value.denominator == 1)
