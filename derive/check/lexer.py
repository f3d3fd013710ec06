"""Reading one `=`-segment as tokens: Markdown/LaTeX/Unicode spellings undone, numbers with their shown
rounding, identifiers, operators. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from .values import _FLOP_RE, NotUnderstood

_MAX_EXPONENT = 4096
_MAX_DIGITS = 1000  # a literal longer than this is no accounting figure (and int() refuses 4,300 digits)

# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------

@dataclass
class _Tok:
    kind: str  # NUM IDENT OP LP RP COMMA OTHER
    text: str
    start: int
    end: int
    value: Fraction | None = None
    approx: int | None = None  # decimals shown when the literal is a rounded one


_NUM_RE = re.compile(
    r"(?:(?:\d{1,3}(?:,\d{3}(?!\d))+|\d{1,3}(?:_\d{3}(?!\d))+|\d+)(?:\.(\d+))?|\.(\d+))"
    r"(?:[eE]([+-]?\d+))?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PER_S_RE = re.compile(r"/(?:s|sec|second)\b")
_OPS = ("//", "**", "*", "/", "+", "-", "^", "@")
_SUFFIXES = {"K": 3, "k": 3, "M": 6, "B": 9, "T": 12}
_ENDS_OPERAND = ("NUM", "IDENT", "RP")
_STARTS_OPERAND = ("NUM", "IDENT", "LP")


def _number_token(m: re.Match[str]) -> tuple[Fraction, int | None]:
    """Exact value of a numeric literal, and its shown rounding (None for integers)."""
    text = m.group(0)
    if len(text) > _MAX_DIGITS:
        raise NotUnderstood(f"a number with {len(text):,} digits is beyond any accounting figure", hard=True)
    mantissa, _, exp = re.split(r"([eE])", text) if "e" in text.lower() else (text, "", "")
    decimals = m.group(1) or m.group(2)
    value = Fraction(mantissa.replace(",", "").replace("_", ""))
    e = int(exp) if exp else 0
    if abs(e) > _MAX_EXPONENT:
        raise NotUnderstood(f"exponent in {text} is too large", hard=True)
    value *= Fraction(10) ** e
    if decimals is None:
        return value, None
    return value, len(decimals) - e


def _tokenize(s: str) -> list[_Tok]:
    """Split an expression; unknown characters become OTHER tokens so prose can be skipped (remembered:
    derivations repeat their segments; tokens are never changed, only read)."""
    return list(_tokens(s))


@lru_cache(maxsize=50_000)
def _tokens(s: str) -> tuple[_Tok, ...]:
    return tuple(_scan(s))


def _scan(s: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        prev_operand = bool(toks) and toks[-1].kind in _ENDS_OPERAND
        if c in "xX" and prev_operand and (i + 1 >= n or not (s[i + 1].isalpha() or s[i + 1] == "_")):
            toks.append(_Tok("OP", "*", i, i + 1))  # `4 x 2,560,000`
            i += 1
            continue
        m = _NUM_RE.match(s, i)
        if m and (c.isdigit() or (c == "." and m.group(2))):
            value, approx = _number_token(m)
            end = m.end()
            suffix = s[end:end + 1]
            if suffix in _SUFFIXES and not (s[end + 1:end + 2].isalnum() or s[end + 1:end + 2] == "_"):
                # `80.4M`, `1.5B`, `124K`: a rounded figure in millions, billions, thousands
                exponent = _SUFFIXES[suffix]
                value *= Fraction(10) ** exponent
                approx = (approx or 0) - exponent
                end += 1
            toks.append(_Tok("NUM", s[i:end], i, end, value, approx))
            i = end
            continue
        m = _IDENT_RE.match(s, i)
        if m:
            end = m.end()
            if _FLOP_RE.fullmatch(m.group(0)):
                per = _PER_S_RE.match(s, end)
                if per:
                    end = per.end()
            word = s[i:end]
            if "/" in word:
                word = word[: word.index("/")] + "/s"
            toks.append(_Tok("IDENT", word, i, end))
            i = end
            continue
        for op in _OPS:
            if s.startswith(op, i):
                toks.append(_Tok("OP", op, i, i + len(op)))
                i += len(op)
                break
        else:
            kind = {"(": "LP", ")": "RP", ",": "COMMA"}.get(c, "OTHER")
            toks.append(_Tok(kind, c, i, i + 1))
            i += 1
    return toks


# --------------------------------------------------------------------------------------------
# Pre-processing and prose in parentheses
# --------------------------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
MAX_SEGMENT = 5000  # characters: a longer `=`-segment is not a step of a hand derivation
_APPROX_MARKS = ("≈", "~=", "≃", "~")


@lru_cache(maxsize=50_000)
def _preprocess(segment: str) -> tuple[str, bool]:
    """Undo Markdown/LaTeX/Unicode spellings; report a leading approximation mark."""
    if len(segment) > MAX_SEGMENT:
        raise NotUnderstood(f"a segment of {len(segment):,} characters is too long to be one step", hard=True)
    s = segment.strip().replace("`", "").replace("$", "")
    s = re.sub(r"^\*+|\*+$", "", s).strip()  # bold/italics around a value: **80,411,200**
    approx = False
    for mark in _APPROX_MARKS:
        if s.startswith(mark):
            s, approx = s[len(mark):].strip(), True
            break
    s = re.sub(r"\\(?:text|mathrm|mathbf|textbf|operatorname)\s*\{([^{}]*)\}", r" \1", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))", s)
    s = re.sub(r"\\(?:times|cdot)", "*", s)
    s = s.replace("\\div", "/").replace("{,}", ",").replace("\\,", "")
    s = re.sub(r"\\(?:left|right)\b", "", s)
    s = re.sub(r"_\{\s*([A-Za-z0-9 ]{1,20}?)\s*\}", lambda m: "_" + m.group(1).replace(" ", "_"), s)  # d_{model}
    s = s.replace("{", "(").replace("}", ")")
    for ch in "×·⋅∙∗":
        s = s.replace(ch, "*")
    s = s.replace("÷", "/").replace("−", "-").replace("–", "-").replace("⌊", " floor(").replace("⌋", ")")
    s = s.replace("⌈", " ceil(").replace("⌉", ")")
    s = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", lambda m: "^(" + m.group(0).translate(_SUPERSCRIPT) + ")", s)
    s = re.sub(r"[.;,:]+$", "", s.rstrip()).strip()  # sentence punctuation after the value
    return s, approx

