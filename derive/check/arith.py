"""Exact evaluation of one `=`-segment of a hand derivation: numbers, symbols, operators, shapes, units.

Standard library only. Understands thousands separators, `*`, `x`, `×`, `^`, `**`, `//`, parentheses,
config symbol names, matmul shapes `(1, 1024, 1600) @ (1600, 1600)` (2 x batch x m x k x n FLOPs),
Markdown/LaTeX/Unicode spellings and trailing units; parenthesised prose is skipped.

    >>> evaluate("2 * 1,024 * 64", {}).value
    Fraction(131072, 1)
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Mapping

from .lexer import _ENDS_OPERAND, _STARTS_OPERAND, _preprocess, _Tok, _tokenize
from .notation import _SUFFIXES, _as_matmul, _scientific, _split_letters
from .ops import _FUNCTIONS, _binop, _Num, _Shape, _shape
from .values import (
    _COUNT_NOUNS,
    _SCALE_WORDS,
    NotUnderstood,
    Number,
    Quantity,
    _is_trailing_word,
    _unit,
)

__all__ = ["evaluate"]

# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------

MAX_DEPTH = 50  # parentheses nested deeper than this are not a hand derivation


def _depth(text: str) -> int:
    depth = best = 0
    for c in text:
        if c == "(":
            depth += 1
            best = max(best, depth)
        elif c == ")":
            depth -= 1
    return best


class _Parser:
    """Recursive descent with Python's precedence: + - < * / // @ < unary - < ^ **.

    `implicit`: juxtaposition multiplies (`6 d_model d_ff`, `L(8nd^2 + 4n^2 d)`), as in a formula."""

    def __init__(self, toks: list[_Tok], symbols: Mapping[str, Number], implicit: bool = False) -> None:
        self.toks, self.pos, self.symbols, self.implicit = toks, 0, symbols, implicit

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def is_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "OP" and tok.text in ops

    def _operand_next(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        # `2 d_model`, `L(8nd^2)`, `d_model d_ff` multiply; `vocab_size 50,257` (a listing) does not
        return tok.kind == "LP" or (tok.kind == "IDENT" and (tok.text in self.symbols or tok.text in _FUNCTIONS))

    def expr(self) -> _Num | _Shape:
        left = self.term()
        while self.is_op("+", "-"):
            op = self.take().text
            left = _binop(op, left, self.term())
        return left

    def term(self) -> _Num | _Shape:
        left = self.unary()
        while True:
            if self.is_op("*", "/", "//", "@"):
                op = self.take().text
                left = _binop(op, left, self.unary())
            elif self.implicit and self._operand_next():
                left = _binop("*", left, self.power())
            else:
                return left

    def unary(self) -> _Num | _Shape:
        if self.is_op("-", "+"):
            op = self.take().text
            val = self.unary()
            if isinstance(val, _Shape):
                raise NotUnderstood("a sign in front of a shape tuple")
            return _Num(-val.value, val.flops) if op == "-" else val
        return self.power()

    def power(self) -> _Num | _Shape:
        base = self.atom()
        if isinstance(base, _Shape) and self.is_op("@", "*"):  # binds tighter: 48 * (a, b) @ (b, c)
            op = self.take().text
            return _binop(op, base, self.atom())
        if self.is_op("^", "**"):
            self.take()
            return _binop("^", base, self.unary())
        return base

    def atom(self) -> _Num | _Shape:
        tok = self.peek()
        if tok is None:
            raise NotUnderstood("the expression ends where a number was expected")
        self.pos += 1
        if tok.kind == "NUM":
            assert tok.value is not None
            if tok.approx is not None and not tok.text[-1].isdigit():  # `80.4M` in a sum: a rounded figure
                return _Num(tok.value, False, Fraction(1, 2) * Fraction(10) ** (-tok.approx))
            return _Num(tok.value)
        if tok.kind == "IDENT":
            nxt = self.peek()
            if tok.text in _FUNCTIONS and nxt is not None and nxt.kind == "LP":
                arg = self.atom()
                if isinstance(arg, _Shape):
                    raise NotUnderstood(f"{tok.text}() of a shape tuple")
                return _Num(_FUNCTIONS[tok.text](arg.value), arg.flops, arg.err)
            if tok.text in self.symbols:
                return _Num(Fraction(self.symbols[tok.text]))
            if _is_trailing_word(tok.text):
                raise NotUnderstood(f"unit '{tok.text}' where a number was expected")
            raise NotUnderstood(f"unknown symbol '{tok.text}'")
        if tok.kind == "LP":
            first = self.expr()
            if self.peek() is not None and self.peek().kind == "COMMA":
                items = [first]
                while self.peek() is not None and self.peek().kind == "COMMA":
                    self.take()
                    if self.peek() is not None and self.peek().kind == "RP":
                        break  # `(1600,)`
                    items.append(self.expr())
                self.expect_rp()
                return _shape(items)
            self.expect_rp()
            return first
        raise NotUnderstood(f"unexpected '{tok.text}'")

    def expect_rp(self) -> None:
        tok = self.peek()
        if tok is None or tok.kind != "RP":
            raise NotUnderstood("unbalanced parenthesis" if tok is None else f"unexpected '{tok.text}'")
        self.take()


def _adjacent_operands(toks: list[_Tok]) -> bool:
    return any(a.kind in _ENDS_OPERAND and b.kind in _STARTS_OPERAND for a, b in zip(toks, toks[1:]))


def _parses(toks: list[_Tok], symbols: Mapping[str, Number], implicit: bool = False) -> bool:
    try:
        p = _Parser(toks, symbols, implicit)
        p.expr()
        return p.peek() is None
    except NotUnderstood:
        return False


def _is_restatement(inner: list[_Tok]) -> bool:
    """A lone number or name in parentheses after a number (`(2.1B)`, `(L)`) restates it."""
    return len(inner) == 1 and inner[0].kind in ("NUM", "IDENT") and not _is_trailing_word(inner[0].text)


def _is_factor(inner: list[_Tok], tight: bool, symbols: Mapping[str, Number]) -> bool:
    """Whether a group right after a number multiplies it: `4(P + P + 2P + A)`, `2 (d_model + 1)`.

    Written against the number (`4(...)`), any arithmetic is a factor; after a space only a sum or
    difference over names is (`1,024 (2^10)`, `3,200 (2 d_model)` restate the number; `(2.1B)`,
    `(decimal)`, `(as 2 layers per block)` are remarks).  Names need not be known: the product is
    then not evaluated rather than read as the bare number; a lone name against a number only when it is
    a symbol (`2(a)` is a part label)."""
    if not inner or any(t.kind not in ("NUM", "IDENT", "OP", "LP", "RP") for t in inner):
        return False
    names = [t.text for t in inner if t.kind == "IDENT"]
    if any(_is_trailing_word(n) or not (len(n) <= 2 or "_" in n or n in _FUNCTIONS) for n in names):
        return False  # words, not symbols
    if not _parses(inner, {n: 1 for n in names if n not in _FUNCTIONS}, implicit=True):
        return False
    if tight:
        return len(inner) > 1 or inner[0].text in symbols
    depth, top_sum = 0, False
    for t in inner:
        depth += {"LP": 1, "RP": -1}.get(t.kind, 0)
        top_sum |= depth == 0 and t.kind == "OP" and t.text in "+-"
    return top_sum and bool(names)


def _strip_prose(toks: list[_Tok], text: str, symbols: Mapping[str, Number],
                 implicit: bool = False) -> tuple[list[_Tok], list[str]]:
    """Drop parenthesised remarks like `(as 2 layers per block)`, keeping arithmetic groups.

    A group right after an operand (juxtaposed) is a remark unless it is pure arithmetic (then
    it is left for the parser to reject as implicit multiplication).  A group where an operand
    is expected is a remark only when it reads as words: odd characters, two operands side by
    side, or a lone unknown word.
    """
    out: list[_Tok] = []
    stripped: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind != "LP":
            out.append(tok)
            i += 1
            continue
        depth, j = 0, i
        while j < len(toks):
            depth += {"LP": 1, "RP": -1}.get(toks[j].kind, 0)
            if depth == 0:
                break
            j += 1
        if j == len(toks):  # unbalanced: let the parser report it
            out.extend(toks[i:])
            break
        inner, inner_stripped = _strip_prose(toks[i + 1:j], text, symbols, implicit)
        juxtaposed = bool(out) and out[-1].kind in _ENDS_OPERAND
        after_number = juxtaposed and out[-1].kind == "NUM"
        if after_number and _is_factor(inner, out[-1].end == tok.start, symbols):
            out.append(_Tok("OP", "*", tok.start, tok.start))  # `4(P + P + 2P + A)`: a product
            prose = False
        elif after_number and out[-1].end < tok.start and _is_restatement(inner):
            prose = True  # `2,127,057,600 (2.1B)`, `48 (L)`: the number said again
        elif juxtaposed:
            prose = not _parses(inner, symbols, implicit)
        else:
            prose = (not inner or any(t.kind == "OTHER" for t in inner) or (_adjacent_operands(inner) and not implicit)
                     or (len(inner) == 1 and inner[0].kind == "IDENT" and inner[0].text not in symbols))
        if prose:
            stripped.append(text[tok.start:toks[j].end])
        else:
            out.append(tok)
            out.extend(inner)
            out.append(toks[j])
            stripped.extend(inner_stripped)
        i = j + 1
    return out, stripped


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------

_CACHE: dict[tuple, Quantity | NotUnderstood] = {}
_CACHE_SIZE = 50_000
_IDENTS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def evaluate(segment: str, symbols: Mapping[str, Number] | None = None, implicit: bool = False,
             shapes: bool = True) -> Quantity:
    """Exact value of one `=`-segment, with its unit and shown rounding; NotUnderstood if not arithmetic.

    `implicit`: read it as a formula, where juxtaposition multiplies (`2 d_model vocab_size`).
    `shapes`: `(1,024 x 1,600) x (1,600 x 1,024)` is a matmul of two shapes (2mkn FLOPs), not a product.
    Results are remembered per segment and the values of the symbols it names (derivations repeat
    `1,600 * 1,600` many times)."""
    symbols = symbols or {}
    names = set(_IDENTS.findall(segment)) if len(segment) <= 5000 else set()
    key = (segment, implicit, shapes, tuple(sorted((k, symbols[k]) for k in names if k in symbols)),
           tuple(sorted((c, symbols[c]) for k in names if len(k) <= 6 for c in set(k) if c in symbols))
           if implicit else ())
    hit = _CACHE.get(key)
    if hit is None:
        try:
            hit = _evaluate(segment, symbols, implicit, shapes)
        except NotUnderstood as exc:
            hit = exc
        except RecursionError:
            hit = NotUnderstood("parentheses nested too deeply", segment, hard=True)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = hit
    if isinstance(hit, NotUnderstood):
        raise NotUnderstood(hit.reason, hit.segment, hit.hard)
    return hit


def _evaluate(segment: str, symbols: Mapping[str, Number], implicit: bool = False,
              shapes: bool = True) -> Quantity:
    text, approx_mark = _preprocess(segment)
    if _depth(text) > MAX_DEPTH:
        raise NotUnderstood(f"parentheses nested more than {MAX_DEPTH} deep", segment, hard=True)
    matmul = _as_matmul(text) if shapes else None
    if matmul is not None:
        try:
            return _evaluate(matmul, symbols, implicit, shapes=False)
        except NotUnderstood:
            pass  # not two shapes after all (inner sizes differ): read it as written
    try:
        toks = _tokenize(text)
        if implicit:
            toks = _split_letters(toks, symbols)
        toks, stripped = _strip_prose(toks, text, symbols, implicit)
    except NotUnderstood as exc:
        exc.segment = segment
        raise
    if not toks:
        raise NotUnderstood("no expression" if not stripped else "only a remark in parentheses", segment)
    try:
        parser = _Parser(toks, symbols, implicit)
        val = parser.expr()
        rest = toks[parser.pos:]
        if isinstance(val, _Shape):
            raise NotUnderstood("a shape tuple on its own has no value (use '@' for a matmul)")
        scale, family, written = Fraction(1), "FLOPs" if val.flops else None, None
        k = 0
        scaled = False
        if k < len(rest) and rest[k].kind == "IDENT" and rest[k].text in _SCALE_WORDS:
            scale *= _SCALE_WORDS[rest[k].text]
            k, scaled = k + 1, True
        elif (k < len(rest) and rest[k].kind == "IDENT" and rest[k].text in _SUFFIXES and parser.pos > 0
              and toks[parser.pos - 1].kind == "NUM"
              and (toks[parser.pos - 1].end == rest[k].start
                   or (k + 1 < len(rest) and rest[k + 1].text.lower() in _COUNT_NOUNS))):
            scale *= _SUFFIXES[rest[k].text]  # `1.5B`, `124M`: written against the number, a scale, not bytes
            k, scaled = k + 1, True
        percent = k < len(rest) and rest[k].kind == "OTHER" and rest[k].text == "%" and family is None
        if percent:
            family, written = "ratio", "%"
            scale *= Fraction(1, 100)
            k += 1
        elif k < len(rest) and rest[k].kind == "IDENT" and _unit(rest[k].text):
            fam, unit_scale = _unit(rest[k].text)  # type: ignore[misc]
            if family is not None and fam != family:
                raise NotUnderstood(f"a matmul gives FLOPs, not {rest[k].text}")
            family, written = fam, rest[k].text
            scale *= unit_scale
            k += 1
        elif k < len(rest) and rest[k].kind == "IDENT" and rest[k].text.lower() in _COUNT_NOUNS:
            k += 1
        if k < len(rest):
            bad = rest[k]
            if bad.kind == "IDENT" and bad.text not in symbols and not _is_trailing_word(bad.text):
                raise NotUnderstood(f"unexpected word '{bad.text}'")
            raise NotUnderstood(f"unexpected '{bad.text}'")
    except NotUnderstood as exc:
        exc.segment = segment
        raise
    body = [t for t in toks[: parser.pos]]
    while body and body[0].kind == "OP" and body[0].text in "+-":
        body = body[1:]
    approx: int | None = None
    if len(body) == 1 and body[0].kind == "NUM":
        approx = body[0].approx
        if approx is None and (percent or scaled):
            approx = 0  # `56%`, `124 million`: shown to whole percent, whole millions
        elif approx is None and approx_mark:
            digits = body[0].text.replace(",", "").replace("_", "")
            approx = -(len(digits) - len(digits.rstrip("0"))) if "e" not in digits.lower() else 0
    elif _scientific(body):  # `4.25 x 10^9`: rounded like 4.25e9
        exponent = body[4].value if body[3].text in ("^", "**") and len(body) == 5 else body[5].value
        approx = (body[0].approx or 0) - int(exponent)
    error = val.err * scale if approx is None else Fraction(0)
    return Quantity(value=val.value * scale, unit=family, approx_digits=approx, unit_written=written,
                    scale=scale, stripped=tuple(stripped), error=error)
