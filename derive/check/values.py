"""Quantities read from hand derivations: exact values with units and shown rounding, and how two agree.

Standard library only. A `Quantity` is a value in base units (bytes, FLOPs or a plain count) that
remembers the unit it was written in and how many decimals it showed, so `7.95 GiB` agrees with
8,533,396,224 bytes while `7.95 GB` does not (and `alternate_unit_match` says GiB would fit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Union

__all__ = ["Number", "NotUnderstood", "Quantity", "agree", "alternate_unit_match"]

Number = Union[int, Fraction]

class NotUnderstood(Exception):
    """A segment is not arithmetic we can evaluate; `reason` is meant for the user."""

    def __init__(self, reason: str, segment: str | None = None, hard: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segment = segment
        self.hard = hard  # beyond what derive evaluates (a 5,000-digit number, 100,000 nested parentheses)

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
# Durations, in seconds (a year is 365 days).
_TIME_UNITS: dict[str, int] = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400,
    "week": 604800, "weeks": 604800, "year": 31536000, "years": 31536000,
}
# Nouns that may follow a count without changing it ("= 80,411,200 parameters").
_COUNT_NOUNS = {"param", "params", "parameter", "parameters", "weights", "elements", "entries",
                "values", "activations"}


def _unit(word: str) -> tuple[str, int] | None:
    """(family, base units per written unit) for a unit word, else None."""
    if word in _BYTE_UNITS:
        return "bytes", _BYTE_UNITS[word]
    if word in _TIME_UNITS:
        return "s", _TIME_UNITS[word]
    m = _FLOP_RE.fullmatch(word)
    if m:
        return ("FLOP/s" if m.group(3) else "FLOPs"), _FLOP_PREFIX[m.group(1).upper()]
    return None


def _is_trailing_word(word: str) -> bool:
    return _unit(word) is not None or word in _SCALE_WORDS or word.lower() in _COUNT_NOUNS


def fmt_int(n: int) -> str:
    """`2,127,057,600`; beyond Python's 4,300-digit string limit, `about 1.6e4817` (never an exception)."""
    if n.bit_length() < 13_000:
        return f"{n:,}"
    digits = int(n.bit_length() * 0.30102999566398120) - 17
    lead = abs(n) // 10**digits
    text = str(lead)
    exponent = digits + len(text) - 1
    return f"{'-' if n < 0 else ''}about {text[0]}.{text[1:3]}e{exponent}"


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
    error: Fraction = Fraction(0)  # from rounded figures in its arithmetic (`2 * 80.4M`), in base units

    @property
    def exact(self) -> bool:
        return self.approx_digits is None and not self.error

    @property
    def written_value(self) -> Fraction:
        """The number as written, in the written unit."""
        return self.value / self.scale

    def bounds(self) -> tuple[Fraction, Fraction]:
        """[lo, hi) in base units that the written rounding allows; (v, v) when exact."""
        if self.approx_digits is None:
            return self.value - self.error, self.value + self.error
        half = Fraction(1, 2) * Fraction(10) ** (-self.approx_digits) * self.scale
        return self.value - half - self.error, self.value + half + self.error

    def __str__(self) -> str:
        v = self.written_value if self.unit_written else self.value
        if v.denominator == 1:
            text = fmt_int(v.numerator)
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
