"""Exact evaluation of one `=`-segment of a hand derivation: numbers, symbols, operators, shapes, units.

Standard library only. Understands thousands separators, `*`, `x`, `×`, `^`, `**`, `//`, parentheses,
config symbol names, matmul shapes `(1, 1024, 1600) @ (1600, 1600)` (2 x batch x m x k x n FLOPs),
Markdown/LaTeX/Unicode spellings and trailing units; parenthesised prose is skipped.

    >>> evaluate("2 * 1,024 * 64", {}).value
    Fraction(131072, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

from .lexer import _ENDS_OPERAND, _MAX_EXPONENT, _STARTS_OPERAND, _preprocess, _Tok, _tokenize
from .values import _COUNT_NOUNS, _SCALE_WORDS, NotUnderstood, Number, Quantity, _is_trailing_word, _unit

__all__ = ["evaluate"]

# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------

@dataclass
class _Num:
    value: Fraction
    flops: bool = False


@dataclass
class _Shape:
    dims: tuple[int, ...]


_MAX_BITS = 20_000  # ~10^6000: far beyond any accounting figure, small enough to stay instant


class _Parser:
    """Recursive descent with Python's precedence: + - < * / // @ < unary - < ^ **."""

    def __init__(self, toks: list[_Tok], symbols: Mapping[str, Number]) -> None:
        self.toks, self.pos, self.symbols = toks, 0, symbols

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def is_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "OP" and tok.text in ops

    def expr(self) -> _Num | _Shape:
        left = self.term()
        while self.is_op("+", "-"):
            op = self.take().text
            left = _binop(op, left, self.term())
        return left

    def term(self) -> _Num | _Shape:
        left = self.unary()
        while self.is_op("*", "/", "//", "@"):
            op = self.take().text
            left = _binop(op, left, self.unary())
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
            return _Num(tok.value)
        if tok.kind == "IDENT":
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


def _shape(items: list[_Num | _Shape]) -> _Shape:
    dims = []
    for item in items:
        if isinstance(item, _Shape) or item.value.denominator != 1 or item.value < 1:
            raise NotUnderstood("a shape tuple needs positive whole-number dimensions")
        dims.append(int(item.value))
    return _Shape(tuple(dims))


def _fmt_shape(dims: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _matmul_flops(left: tuple[int, ...], right: tuple[int, ...]) -> Fraction:
    """2 * batch * m * k * n for left (..., m, k) @ right (..., k, n), with numpy broadcasting."""
    lhs = left if len(left) >= 2 else (1,) + left
    rhs = right if len(right) >= 2 else right + (1,)
    m, k = lhs[-2:]
    k2, n = rhs[-2:]
    if k != k2:
        raise NotUnderstood(f"matmul inner dimensions differ: {_fmt_shape(left)} @ {_fmt_shape(right)} "
                            f"has k={k} on the left but {k2} on the right")
    lb, rb = lhs[:-2], rhs[:-2]
    batch = 1
    for i in range(1, max(len(lb), len(rb)) + 1):
        a = lb[-i] if i <= len(lb) else 1
        b = rb[-i] if i <= len(rb) else 1
        if a != b and 1 not in (a, b):
            raise NotUnderstood(f"matmul batch dimensions do not broadcast: {_fmt_shape(left)} @ "
                                f"{_fmt_shape(right)} ({a} vs {b})")
        batch *= max(a, b)
    return Fraction(2 * batch * m * k * n)


def _binop(op: str, a: _Num | _Shape, b: _Num | _Shape) -> _Num | _Shape:
    if isinstance(a, _Shape) or isinstance(b, _Shape):
        if op in ("@", "*") and isinstance(a, _Shape) and isinstance(b, _Shape):
            return _Num(_matmul_flops(a.dims, b.dims), flops=True)
        raise NotUnderstood(f"a shape tuple can only be multiplied with '@' by another shape (got '{op}')")
    if op == "@":
        raise NotUnderstood("'@' needs shape tuples on both sides, e.g. (1, 1024, 1600) @ (1600, 1600)")
    x, y, flops = a.value, b.value, a.flops or b.flops
    if op == "+":
        return _Num(x + y, flops)
    if op == "-":
        return _Num(x - y, flops)
    if op == "*":
        return _Num(x * y, flops)
    if op in ("/", "//"):
        if y == 0:
            raise NotUnderstood("division by zero")
        return _Num(Fraction(x // y) if op == "//" else x / y, flops)
    # power
    if y.denominator != 1:
        raise NotUnderstood(f"fractional exponent {y} has no exact value")
    if abs(y) > _MAX_EXPONENT:
        raise NotUnderstood(f"exponent {y} is too large")
    if x == 0 and y < 0:
        raise NotUnderstood("division by zero (0 to a negative power)")
    size = max(abs(x.numerator).bit_length(), x.denominator.bit_length())
    if size * abs(int(y)) > _MAX_BITS:
        raise NotUnderstood(f"a power with exponent {y} is too large a number")
    return _Num(x ** int(y), flops)


def _adjacent_operands(toks: list[_Tok]) -> bool:
    return any(a.kind in _ENDS_OPERAND and b.kind in _STARTS_OPERAND for a, b in zip(toks, toks[1:]))


def _parses(toks: list[_Tok], symbols: Mapping[str, Number]) -> bool:
    try:
        p = _Parser(toks, symbols)
        p.expr()
        return p.peek() is None
    except NotUnderstood:
        return False


def _strip_prose(toks: list[_Tok], text: str, symbols: Mapping[str, Number]) -> tuple[list[_Tok], list[str]]:
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
        inner, inner_stripped = _strip_prose(toks[i + 1:j], text, symbols)
        juxtaposed = bool(out) and out[-1].kind in _ENDS_OPERAND
        if juxtaposed:
            prose = not _parses(inner, symbols)
        else:
            prose = (not inner or any(t.kind == "OTHER" for t in inner) or _adjacent_operands(inner)
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

def evaluate(segment: str, symbols: Mapping[str, Number] | None = None) -> Quantity:
    """Exact value of one `=`-segment, with its unit and shown rounding; NotUnderstood if not arithmetic."""
    try:
        return _evaluate(segment, symbols or {})
    except RecursionError:
        raise NotUnderstood("parentheses nested too deeply", segment) from None


def _evaluate(segment: str, symbols: Mapping[str, Number]) -> Quantity:
    text, approx_mark = _preprocess(segment)
    try:
        toks, stripped = _strip_prose(_tokenize(text), text, symbols)
    except NotUnderstood as exc:
        exc.segment = segment
        raise
    if not toks:
        raise NotUnderstood("no expression" if not stripped else "only a remark in parentheses", segment)
    try:
        parser = _Parser(toks, symbols)
        val = parser.expr()
        rest = toks[parser.pos:]
        if isinstance(val, _Shape):
            raise NotUnderstood("a shape tuple on its own has no value (use '@' for a matmul)")
        scale, family, written = Fraction(1), "FLOPs" if val.flops else None, None
        k = 0
        if k < len(rest) and rest[k].kind == "IDENT" and rest[k].text in _SCALE_WORDS:
            scale *= _SCALE_WORDS[rest[k].text]
            k += 1
        if k < len(rest) and rest[k].kind == "IDENT" and _unit(rest[k].text):
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
        if approx is None and approx_mark:
            digits = body[0].text.replace(",", "").replace("_", "")
            approx = -(len(digits) - len(digits.rstrip("0"))) if "e" not in digits.lower() else 0
    return Quantity(value=val.value * scale, unit=family, approx_digits=approx, unit_written=written,
                    scale=scale, stripped=tuple(stripped))
