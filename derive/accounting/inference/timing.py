"""The lower bound on the time of all decode steps together: the sum over steps of max(FLOPs / peak, bytes /
bandwidth), exactly.

A step's FLOPs and bytes are linear in its position i, except that a sliding-window layer's keys stop growing
at the window (min(N + i, W)). Between the kinks of those minimums both are linear, so within each piece the
difference compute - memory time is linear, changes sign at most once, and each part is an arithmetic series.
"""

from __future__ import annotations

from fractions import Fraction

import sympy


def _linear(expr: sympy.Expr, var: sympy.Symbol) -> tuple[Fraction, Fraction]:
    """(constant, slope) of an expression linear in `var` with rational coefficients."""
    poly = sympy.Poly(sympy.expand(expr), var)
    if poly.degree() > 1:
        raise ValueError(f"not linear in {var}: {expr}")
    return Fraction(str(poly.coeff_monomial(1))), Fraction(str(poly.coeff_monomial(var)))


def _series(a: Fraction, b: Fraction, lo: int, hi: int) -> Fraction:
    """sum over integers i = lo .. hi of a + b i (0 for an empty range)."""
    if hi < lo:
        return Fraction(0)
    n = hi - lo + 1
    return a * n + b * Fraction((lo + hi) * n, 2)


def sum_of_max(first: tuple[Fraction, Fraction], second: tuple[Fraction, Fraction], lo: int, hi: int) -> Fraction:
    """sum over i = lo .. hi of max(a + b i, c + e i) for first = (a, b), second = (c, e)."""
    if hi < lo:
        return Fraction(0)
    (a, b), (c, e) = first, second
    da, db = a - c, b - e  # first - second = da + db i
    if db == 0:
        return _series(a, b, lo, hi) if da >= 0 else _series(c, e, lo, hi)
    root = -da / db  # first >= second on one side of it
    cut = int(root.__floor__())
    if db > 0:  # first wins for i >= root
        start = max(lo, cut if cut >= root else cut + 1)
        start = min(start, hi + 1)
        return _series(c, e, lo, start - 1) + _series(a, b, start, hi)
    end = min(hi, cut)  # first wins for i <= root
    end = max(end, lo - 1)
    return _series(a, b, lo, end) + _series(c, e, end + 1, hi)


def decode_time(flops: sympy.Expr, moved: sympy.Expr, step: sympy.Symbol, last: int, peak: Fraction,
                bandwidth: Fraction) -> Fraction:
    """sum over step = 1 .. last of max(flops / peak, moved / bandwidth); `flops` and `moved` have every symbol
    but `step` substituted (they may hold Min(step + a, w) terms)."""
    mins = {m for expr in (flops, moved) for m in expr.atoms(sympy.Min) if step in m.free_symbols}
    kinks = set()
    for m in mins:
        for x, y in ((m.args[0], m.args[1]),):
            root = sympy.solve(sympy.Eq(x, y), step)
            kinks.update(int(sympy.floor(r)) for r in root if r.is_real)
    bounds = sorted(k for k in kinks if 1 <= k < last)
    edges = [0, *bounds, last]
    total = Fraction(0)
    for lo, hi in zip(edges[:-1], edges[1:]):  # the steps lo + 1 .. hi
        lo += 1
        if hi < lo:
            continue
        mid = sympy.Rational(lo + hi, 2)
        pick = {m: min(m.args, key=lambda arg: arg.xreplace({step: mid})) for m in mins}
        f = _linear(flops.xreplace(pick), step)
        q = _linear(moved.xreplace(pick), step)
        total += sum_of_max((f[0] / peak, f[1] / peak), (q[0] / bandwidth, q[1] / bandwidth), lo, hi)
    return total
