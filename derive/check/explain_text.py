"""How values are written in explanations: exact integers with separators, and the rounded form a reader
compares with (`8,508,230,400 bytes (8.51 GB = 7.92 GiB)`, `4,513,336,524,800 FLOPs (4.51 TFLOPs)`)."""

from __future__ import annotations

from fractions import Fraction

from .pitfalls import GB_VS_GIB, explain
from .values import _BYTE_UNITS, Quantity, fmt_int

_FLOP_STEPS = ((10**15, "PFLOPs"), (10**12, "TFLOPs"), (10**9, "GFLOPs"), (10**6, "MFLOPs"))
_COUNT_STEPS = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"))


def number(value: Fraction, digits: int = 2) -> str:
    """An exact integer with separators; a fraction as a decimal."""
    if value.denominator == 1:
        return fmt_int(value.numerator)
    if abs(value) >= 10**15:
        return f"{float(value):.6g}"
    text = f"{float(value):,.{digits}f}"
    return text if float(text.replace(",", "")) != 0 or value == 0 else f"{float(value):.3g}"


def show(value: Fraction | int, family: str | None, like: Quantity | None = None) -> str:
    """A value in its base unit, with a rounded reading in the unit people use."""
    value = Fraction(value)
    if family == "bytes":
        if value >= 10**6:
            return (f"{number(value)} bytes ({float(value / 10**9):,.2f} GB = "
                    f"{float(value / 2**30):,.2f} GiB)")
        return f"{number(value)} bytes"
    if family == "FLOPs":
        for step, name in _FLOP_STEPS:
            if value >= step:
                return f"{number(value)} FLOPs ({float(value / step):,.2f} {name})"
        return f"{number(value)} FLOPs"
    if family == "FLOP/s":
        return f"{number(value)} FLOP/s"
    if family == "s":
        text = f"{number(value, 1)} s"
        if value >= 2 * 86400:
            text += f" ({float(value / 86400):,.2f} days)"
        elif value >= 2 * 3600:
            text += f" ({float(value / 3600):,.2f} hours)"
        return text
    if family == "ratio":
        if like is not None and like.unit_written == "%":
            return f"{float(value * 100):,.{max(like.approx_digits or 0, 1)}f}%"
        return f"{float(value):,.4g}x" if value < 10**6 else number(value)
    text = number(value)
    if like is not None and like.scale != 1 and value >= 10**6:
        for step, name in _COUNT_STEPS:
            if value >= step:
                return f"{text} ({float(value / step):,.2f} {name})"
    return text


def gb_text(exact: Quantity, written: Quantity, alt: str) -> str:
    """`8,533,396,224 bytes is 7.95 GiB = 8.53 GB, not 7.95 GB: ...` (the gb_vs_gib pitfall)."""
    digits = max(written.approx_digits or 0, 0)
    value = exact.value
    unit = written.unit_written if written.unit_written in _BYTE_UNITS else "GB"
    fits = f"{float(value / _BYTE_UNITS[alt]):.{digits}f} {alt}"
    other = f"{float(value / _BYTE_UNITS[unit]):.{digits}f} {unit}"
    return explain(GB_VS_GIB, {"value": f"{fmt_int(int(value))} bytes" if value.denominator == 1 else str(exact),
                               "fits": fits, "other": other, "written": str(written)})
