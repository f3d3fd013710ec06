"""The operations of derive check's arithmetic: exact numbers, matmul shapes (`(1, 1024, 1600) @ (1600, 1600)`
costs 2 x batch x m x k x n FLOPs, with numpy's broadcasting of batch dimensions), powers bounded in size,
and floor/ceil. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .lexer import _MAX_EXPONENT
from .values import NotUnderstood


@dataclass
class _Num:
    value: Fraction
    flops: bool = False
    err: Fraction = Fraction(0)  # half-width of the interval a rounded figure (`80.4M`) stands for


@dataclass
class _Shape:
    dims: tuple[int, ...]


_MAX_BITS = 20_000  # ~10^6000: far beyond any accounting figure, small enough to stay instant


_FUNCTIONS = {"floor": lambda x: Fraction(x.numerator // x.denominator),
              "ceil": lambda x: Fraction(-((-x.numerator) // x.denominator))}


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
    ex, ey = a.err, b.err
    if op == "+":
        return _Num(x + y, flops, ex + ey)
    if op == "-":
        return _Num(x - y, flops, ex + ey)
    if op == "*":
        return _Num(x * y, flops, abs(x) * ey + abs(y) * ex + ex * ey)
    if op in ("/", "//"):
        if y == 0:
            raise NotUnderstood("division by zero")
        err = Fraction(0)
        if ex or ey:
            if ey >= abs(y):
                raise NotUnderstood("dividing by a rounded figure that may be zero")
            err = (abs(x) * ey + abs(y) * ex) / (abs(y) * (abs(y) - ey))
        return _Num(Fraction(x // y) if op == "//" else x / y, flops, err + (1 if op == "//" and err else 0))
    # power
    if y.denominator != 1:
        raise NotUnderstood(f"fractional exponent {y} has no exact value")
    if abs(y) > _MAX_EXPONENT:
        raise NotUnderstood(f"exponent {y} is too large", hard=True)
    if x == 0 and y < 0:
        raise NotUnderstood("division by zero (0 to a negative power)")
    size = max(abs(x.numerator).bit_length(), x.denominator.bit_length())
    if size * abs(int(y)) > _MAX_BITS:
        raise NotUnderstood(f"a power with exponent {y} is too large a number", hard=True)
    n = int(y)
    err = Fraction(0)
    if ex and n > 0:
        err = (abs(x) + ex) ** n - abs(x) ** n
    elif ex:
        raise NotUnderstood("a negative power of a rounded figure")
    return _Num(x ** n, flops, err)
