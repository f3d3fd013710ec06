"""Read hand-written accounting derivations and check their arithmetic exactly.

This module is self-contained (standard library only) and knows nothing of the rest of derive:
it turns a plain-text or Markdown answer into labelled lines of `=`-chains, evaluates every
segment of a chain with exact rationals, and says which consecutive segments disagree.

    >>> doc = parse_document("vocab_size : 50,257\\nq: 4 * 2,560,000 = 10,240,000\\n")
    >>> doc.config, check_chain(doc.lines[1], doc.config).ok
    ({'vocab_size': 50257}, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Mapping, Union

__all__ = [
    "NotUnderstood", "Quantity", "Line", "Document", "PairCheck", "ChainResult",
    "parse_document", "parse_line", "evaluate", "check_chain", "check_document", "agree",
    "alternate_unit_match",
]

Number = Union[int, Fraction]


class NotUnderstood(Exception):
    """A segment is not arithmetic we can evaluate; `reason` is meant for the user."""

    def __init__(self, reason: str, segment: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segment = segment

    def __repr__(self) -> str:
        return f"NotUnderstood({self.reason!r})"


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------

_BYTE_UNITS: dict[str, int] = {
    "B": 1, "byte": 1, "bytes": 1, "Byte": 1, "Bytes": 1,
    "KB": 10**3, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50,
}
# Decimal <-> binary twins, so a caller can explain "GB vs GiB".
_ALTERNATE: dict[str, str] = {
    "KB": "KiB", "kB": "KiB", "MB": "MiB", "GB": "GiB", "TB": "TiB", "PB": "PiB",
    "KiB": "KB", "MiB": "MB", "GiB": "GB", "TiB": "TB", "PiB": "PB",
}
_FLOP_RE = re.compile(r"([kmgtpe]?)(flops?)((?:/s|/sec|/second)?)", re.IGNORECASE)
_FLOP_PREFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_SCALE_WORDS = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
# Nouns that may follow a count without changing it ("= 80,411,200 parameters").
_COUNT_NOUNS = {"param", "params", "parameter", "parameters", "weights", "elements", "entries",
                "values", "activations"}


def _unit(word: str) -> tuple[str, int] | None:
    """(family, base units per written unit) for a unit word, else None."""
    if word in _BYTE_UNITS:
        return "bytes", _BYTE_UNITS[word]
    m = _FLOP_RE.fullmatch(word)
    if m:
        return ("FLOP/s" if m.group(3) else "FLOPs"), _FLOP_PREFIX[m.group(1).upper()]
    return None


def _is_trailing_word(word: str) -> bool:
    return _unit(word) is not None or word in _SCALE_WORDS or word.lower() in _COUNT_NOUNS


# --------------------------------------------------------------------------------------------
# Quantity
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quantity:
    """A segment's value in base units (bytes / FLOPs / plain), with the rounding it shows.

    `approx_digits` counts decimals of the written number in its written unit (7.95 GB -> 2);
    it may be negative for `1.2e9` (-8) or `~ 8,500,000,000` (-8). None means exact.
    `scale` is base units per written unit (10**9 for GB, 10**9 for "billion"), so the shown
    rounding is +-0.5 * 10**-approx_digits * scale around `value`.
    """

    value: Fraction
    unit: str | None = None
    approx_digits: int | None = None
    unit_written: str | None = None
    scale: Fraction = Fraction(1)
    stripped: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return self.approx_digits is None

    @property
    def written_value(self) -> Fraction:
        """The number as written, in the written unit."""
        return self.value / self.scale

    def bounds(self) -> tuple[Fraction, Fraction]:
        """[lo, hi) in base units that the written rounding allows; (v, v) when exact."""
        if self.approx_digits is None:
            return self.value, self.value
        half = Fraction(1, 2) * Fraction(10) ** (-self.approx_digits) * self.scale
        return self.value - half, self.value + half

    def __str__(self) -> str:
        v = self.written_value if self.unit_written else self.value
        if v.denominator == 1:
            text = f"{v.numerator:,}"
        elif self.approx_digits is not None and 0 <= self.approx_digits <= 30 and abs(v) < 10**300:
            text = f"{float(v):.{self.approx_digits}f}"
        else:
            try:
                text = f"{float(v):.6g}"
            except OverflowError:
                text = str(v)
        if self.unit_written:
            text += f" {self.unit_written}"
        elif self.unit:
            text += f" {self.unit}"
        return text


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
_ENDS_OPERAND = ("NUM", "IDENT", "RP")
_STARTS_OPERAND = ("NUM", "IDENT", "LP")


def _number_token(m: re.Match[str]) -> tuple[Fraction, int | None]:
    """Exact value of a numeric literal, and its shown rounding (None for integers)."""
    text = m.group(0)
    mantissa, _, exp = re.split(r"([eE])", text) if "e" in text.lower() else (text, "", "")
    decimals = m.group(1) or m.group(2)
    value = Fraction(mantissa.replace(",", "").replace("_", ""))
    e = int(exp) if exp else 0
    if abs(e) > _MAX_EXPONENT:
        raise NotUnderstood(f"exponent in {text} is too large")
    value *= Fraction(10) ** e
    if decimals is None:
        return value, None
    return value, len(decimals) - e


def _tokenize(s: str) -> list[_Tok]:
    """Split an expression; unknown characters become OTHER tokens so prose can be skipped."""
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
            toks.append(_Tok("NUM", m.group(0), i, m.end(), value, approx))
            i = m.end()
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
# Parser
# --------------------------------------------------------------------------------------------

@dataclass
class _Num:
    value: Fraction
    flops: bool = False


@dataclass
class _Shape:
    dims: tuple[int, ...]


_MAX_EXPONENT = 4096
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


# --------------------------------------------------------------------------------------------
# Pre-processing and prose in parentheses
# --------------------------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_APPROX_MARKS = ("≈", "~=", "≃", "~")


def _preprocess(segment: str) -> tuple[str, bool]:
    """Undo Markdown/LaTeX/Unicode spellings; report a leading approximation mark."""
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
    s = s.replace("{", "(").replace("}", ")")
    for ch in "×·⋅∙∗":
        s = s.replace(ch, "*")
    s = s.replace("÷", "/").replace("−", "-").replace("–", "-")
    s = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", lambda m: "^(" + m.group(0).translate(_SUPERSCRIPT) + ")", s)
    s = re.sub(r"[.;,:]+$", "", s.rstrip()).strip()  # sentence punctuation after the value
    return s, approx


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


# --------------------------------------------------------------------------------------------
# Comparing segments
# --------------------------------------------------------------------------------------------

def _intervals_agree(a: Quantity, b: Quantity) -> bool:
    (alo, ahi), (blo, bhi) = a.bounds(), b.bounds()
    if a.exact and b.exact:
        return a.value == b.value
    if a.exact:
        return blo <= a.value < bhi
    if b.exact:
        return alo <= b.value < ahi
    return max(alo, blo) < min(ahi, bhi)


def _in_unit_of(plain: Quantity, ref: Quantity) -> Quantity:
    """Read a unitless number as being in `ref`'s written unit (7.947 = 7.95 GiB)."""
    return replace(plain, value=plain.value * ref.scale, scale=plain.scale * ref.scale,
                   unit=ref.unit, unit_written=ref.unit_written)


def agree(a: Quantity, b: Quantity) -> str | None:
    """How two segments agree ('exact', 'rounding', 'written unit'), or None if they do not.

    A plain number agrees with a quantity in base units (8,533,396,224 = 8,533,396,224 bytes)
    or in the other side's written unit (7.947 = 7.95 GiB); bytes never equal FLOPs.
    """
    if a.unit and b.unit and a.unit != b.unit:
        return None
    if _intervals_agree(a, b):
        return "exact" if a.exact and b.exact else "rounding"
    if a.unit is None and b.unit_written and _intervals_agree(_in_unit_of(a, b), b):
        return "written unit"
    if b.unit is None and a.unit_written and _intervals_agree(a, _in_unit_of(b, a)):
        return "written unit"
    return None


def alternate_unit_match(left: Quantity, right: Quantity) -> str | None:
    """The decimal/binary twin unit (e.g. 'GiB' for a written 'GB') under which the pair would agree."""
    for q, other, q_is_right in ((right, left, True), (left, right, False)):
        alt = _ALTERNATE.get(q.unit_written or "")
        if not alt:
            continue
        new_scale = q.scale / _BYTE_UNITS[q.unit_written] * _BYTE_UNITS[alt]  # type: ignore[index]
        q2 = replace(q, value=q.written_value * new_scale, scale=new_scale, unit_written=alt)
        if agree(other, q2) if q_is_right else agree(q2, other):
            return alt
    return None


# --------------------------------------------------------------------------------------------
# Lines and documents
# --------------------------------------------------------------------------------------------

_IDENT_FULL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEP_RE = re.compile(r"(≈|~=|(?<![=<>!])=(?![=>]))")
_CONFIG_CONTEXT = re.compile(r"config|setting|hyper|assum|given|setup|spec", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One non-blank line: its label, enclosing headings, and `=`-separated segments."""

    number: int
    indent: int
    name: str | None
    context: tuple[str, ...]
    segments: tuple[str, ...]
    text: str
    is_heading: bool = False
    heading_level: int | None = None  # Markdown '#' level
    is_config: bool = False
    is_claim: bool = False

    @property
    def defines(self) -> str | None:
        """`d_k` for a bare chain `d_k = d_model // num_heads = 64`: a symbol later lines may use."""
        if self.name is None and len(self.segments) >= 2:
            head = self.segments[0].replace("`", "").strip(" *")
            if _IDENT_FULL.fullmatch(head):
                return head
        return None


@dataclass
class Document:
    """A parsed answer: the configuration listing and every line in order."""

    config: dict[str, int]
    lines: list[Line]

    @property
    def claims(self) -> list[Line]:
        return [line for line in self.lines if line.is_claim]


def _normalise(label: str) -> str:
    s = label.replace("`", "").replace("*", "").replace("$", "").strip().rstrip(":").strip()
    return re.sub(r"\s+", "_", s.lower())


def _split_segments(rest: str) -> tuple[str, ...]:
    """Split on `=` (not `==`, `<=`, `>=`, `!=`, `=>`); `≈`/`~=` also split and stay on the right part."""
    parts = _SEP_RE.split(rest)
    segs = [parts[0]]
    for sep, part in zip(parts[1::2], parts[2::2]):
        segs.append(("≈ " + part.strip()) if sep in ("≈", "~=") else part)
    segs = [s.strip() for s in segs]
    if segs == [""]:
        return ()
    return tuple(segs)


def _wordy(segment: str) -> bool:
    """Two words side by side outside parentheses (a sentence, not a formula or a unit)."""
    try:
        text, _ = _preprocess(segment)
        toks, _ = _strip_prose(_tokenize(text), text, {})
    except (NotUnderstood, RecursionError):
        return False
    return any(a.kind == "IDENT" and b.kind == "IDENT" and not _is_trailing_word(b.text)
               for a, b in zip(toks, toks[1:]))


@dataclass
class _Raw:
    number: int
    indent: int
    eff_indent: float
    level: int | None
    name: str | None
    segments: tuple[str, ...]
    text: str
    heading: bool


def _read_line(number: int, raw: str) -> _Raw | None:
    text = raw.rstrip("\n").rstrip("\r")
    expanded = text.expandtabs(4)
    body = expanded.strip()
    if not body or re.fullmatch(r"[-*_=]{3,}", body):
        return None
    indent = len(expanded) - len(expanded.lstrip())
    body = re.sub(r"^(?:>\s*)+", "", body)
    level = None
    m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", body)
    if m:
        level, body = len(m.group(1)), m.group(2)
    listed = False
    m = re.match(r"^(?:[-*+]|\d+[.)])\s+", body)
    if m:
        body, listed = body[m.end():], True
    body = body.replace("`", "")
    body = re.sub(r"\*\*([^*]+?)\s*:\s*\*\*", r"**\1**:", body)  # **q_proj:** -> **q_proj**:
    eff = indent + (0.5 if listed else 0.0)
    if re.fullmatch(r"\*\*[^*]+\*\*\s*:?", body):  # a bold line on its own
        return _Raw(number, indent, eff, level, _normalise(body), (), text, True)
    first_sep = _SEP_RE.search(body)
    colon = body.find(":")
    name = None
    rest = body
    if colon > 0 and (first_sep is None or colon < first_sep.start()) and _normalise(body[:colon]):
        name, rest = _normalise(body[:colon]), body[colon + 1:]
    if level is not None and first_sep is None:
        return _Raw(number, indent, eff, level, _normalise(body), (), text, True)
    segments = _split_segments(rest)
    return _Raw(number, indent, eff, level if not segments else None, name, segments, text,
                heading=name is not None and not segments)


def parse_line(text: str, number: int = 1) -> Line:
    """One line on its own (no context, no config): handy for checking a single chain."""
    raw = _read_line(number, text)
    if raw is None:
        return Line(number, 0, None, (), (), text)
    return _finish(raw, (), {}, is_config=False)


def _finish(raw: _Raw, context: tuple[str, ...], symbols: Mapping[str, Number], is_config: bool) -> Line:
    claim = False
    if not raw.heading and not is_config and raw.segments:
        prose = any(_wordy(s) for s in raw.segments[:-1]) or (raw.name is None and _wordy(raw.segments[0]))
        if not prose:
            for seg in raw.segments:
                try:
                    evaluate(seg, symbols)
                    claim = True
                    break
                except NotUnderstood:
                    continue
    return Line(number=raw.number, indent=raw.indent, name=raw.name, context=context,
                segments=raw.segments, text=raw.text, is_heading=raw.heading,
                heading_level=raw.level if raw.heading else None, is_config=is_config, is_claim=claim)


def _config_value(raw: _Raw) -> int | None:
    """The integer of a `key : 50,257` listing line, else None."""
    if raw.heading or raw.name is None or len(raw.segments) != 1 or not _IDENT_FULL.fullmatch(raw.name):
        return None
    text, approx = _preprocess(raw.segments[0])
    try:
        toks = _tokenize(text)
    except NotUnderstood:
        return None
    if approx or len(toks) != 1 or toks[0].kind != "NUM" or toks[0].approx is not None:
        return None
    value = toks[0].value
    return int(value) if value is not None and value.denominator == 1 else None


def parse_document(text: str) -> Document:
    """Lines with labels, heading context and segments; config from `key : int` listing lines.

    Context follows indentation (a list item counts as half a column deeper than a plain line
    at the same indent) nested inside Markdown heading levels.  A `key : int` line is config
    while no chain has been seen yet, or anywhere under a heading that mentions config/settings.
    """
    raws: list[tuple[_Raw, tuple[str, ...]]] = []
    stack: list[tuple[str, float, str]] = []  # (kind 'md'|'ind', level-or-indent, name)
    fenced = False
    for number, raw_text in enumerate(text.splitlines(), start=1):
        if re.match(r"^\s*(```|~~~)", raw_text):
            fenced = not fenced
            continue
        raw = _read_line(number, raw_text)
        if raw is None:
            continue
        if raw.heading and raw.level is not None:
            while stack and (stack[-1][0] == "ind" or stack[-1][1] >= raw.level):
                stack.pop()
            raws.append((raw, tuple(n for _, _, n in stack)))
            stack.append(("md", raw.level, raw.name or ""))
            continue
        while stack and stack[-1][0] == "ind" and stack[-1][1] >= raw.eff_indent:
            stack.pop()
        raws.append((raw, tuple(n for _, _, n in stack)))
        if raw.heading:
            stack.append(("ind", raw.eff_indent, raw.name or ""))
    config: dict[str, int] = {}
    config_lines: set[int] = set()
    chain_seen = False
    for raw, context in raws:
        value = _config_value(raw)
        if value is not None and (not chain_seen or any(_CONFIG_CONTEXT.search(c) for c in context)):
            config.setdefault(raw.name, value)  # type: ignore[arg-type]
            config_lines.add(raw.number)
        elif len(raw.segments) >= 2 and not any(_wordy(s) for s in raw.segments[:-1]):
            chain_seen = True
    lines = [_finish(raw, context, config, raw.number in config_lines) for raw, context in raws]
    return Document(config=config, lines=lines)


# --------------------------------------------------------------------------------------------
# Checking chains
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairCheck:
    """Comparison of two consecutive understood segments (indices into the segments)."""

    left: int
    right: int
    ok: bool
    how: str | None  # 'exact', 'rounding', 'written unit'; None when they disagree
    alternate_unit: str | None = None  # e.g. 'GiB' when a written 'GB' only fits as GiB


@dataclass(frozen=True)
class ChainResult:
    """Per-segment values (or why not) and the consecutive comparisons of one line."""

    line: Line
    quantities: tuple[Quantity | NotUnderstood, ...]
    pairs: tuple[PairCheck, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """No understood pair disagrees (segments we could not read are skipped, not failed)."""
        return all(p.ok for p in self.pairs)

    @property
    def complete(self) -> bool:
        """Every segment was understood."""
        return all(isinstance(q, Quantity) for q in self.quantities)

    @property
    def first_mismatch(self) -> tuple[int, int, Quantity, Quantity] | None:
        for p in self.pairs:
            if not p.ok:
                left, right = self.quantities[p.left], self.quantities[p.right]
                assert isinstance(left, Quantity) and isinstance(right, Quantity)
                return p.left, p.right, left, right
        return None

    @property
    def final(self) -> Quantity | None:
        for q in reversed(self.quantities):
            if isinstance(q, Quantity):
                return q
        return None


def check_chain(line: Line | str, symbols: Mapping[str, Number] | None = None) -> ChainResult:
    """Evaluate every segment and compare consecutive understood ones (skipping unreadable ones)."""
    if isinstance(line, str):
        line = parse_line(line)
    symbols = symbols or {}
    quantities: list[Quantity | NotUnderstood] = []
    for seg in line.segments:
        try:
            quantities.append(evaluate(seg, symbols))
        except NotUnderstood as exc:
            quantities.append(exc)
    understood = [i for i, q in enumerate(quantities) if isinstance(q, Quantity)]
    pairs = []
    for i, j in zip(understood, understood[1:]):
        a, b = quantities[i], quantities[j]
        assert isinstance(a, Quantity) and isinstance(b, Quantity)
        how = agree(a, b)
        pairs.append(PairCheck(i, j, how is not None, how, None if how else alternate_unit_match(a, b)))
    return ChainResult(line, tuple(quantities), tuple(pairs))


def check_document(doc: Document, symbols: Mapping[str, Number] | None = None) -> list[ChainResult]:
    """Check every claim line in order, learning `name = ...` definitions (config is never rebound)."""
    known: dict[str, Number] = {**doc.config, **(symbols or {})}
    fixed = set(known)
    results = []
    for line in doc.claims:
        defined = line.defines
        scope = known
        if defined and defined not in fixed:
            scope = {k: v for k, v in known.items() if k != defined}
        result = check_chain(line, scope)
        results.append(result)
        final = result.final
        if defined and defined not in fixed and final is not None and final.exact and final.unit is None:
            known[defined] = final.value
    return results
