"""Accelerator peaks (configs/hardware.yaml) and memory budgets ("80GB", "80GiB"): givens, read as data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..errors import ConfigError, UsageError, shown
from ..model.reading import load_yaml, read_text
from ..resources import configs_dir

HARDWARE_FILE = "hardware.yaml"
DEFAULT_HARDWARE = "a100-fp32"

# Byte units a budget may use: decimal (SI) and binary (IEC) prefixes, never mixed silently.
# unit -> (base, exponent): GB = 10^9 bytes, GiB = 2^30 bytes.
UNIT_POWERS: dict[str, tuple[int, int]] = {
    "B": (10, 0), "KB": (10, 3), "MB": (10, 6), "GB": (10, 9), "TB": (10, 12),
    "KiB": (2, 10), "MiB": (2, 20), "GiB": (2, 30), "TiB": (2, 40),
}
BYTE_UNITS: dict[str, int] = {unit: base**exp for unit, (base, exp) in UNIT_POWERS.items()}
_BUDGET_RE = re.compile(r"^\s*([0-9]{1,4300})\s*([A-Za-z]+)\s*$")  # ASCII digits Python can read


@dataclass(frozen=True)
class Hardware:
    key: str
    name: str
    dtype: str
    peak_flops: int
    memory_bytes: int
    source: str = ""
    bandwidth: int | None = None  # memory bandwidth, bytes/s (inference rooflines); None where not given
    bandwidth_source: str = ""
    also: tuple[str, ...] = ()  # other number formats whose matmuls run at the same peak (fp16 beside bf16)


@dataclass(frozen=True)
class Budget:
    """A memory budget as written by the user, and its exact size in bytes."""

    text: str
    amount: int
    unit: str

    @property
    def bytes(self) -> int:
        return self.amount * BYTE_UNITS[self.unit]

    @property
    def formula(self) -> str:
        """How the unit was read: `80 * 10^9` or `80 * 2^30`."""
        base, exp = UNIT_POWERS[self.unit]
        return f"{self.amount}" if exp == 0 else f"{self.amount} * {base}^{exp}"

    @property
    def formula_tex(self) -> str:
        base, exp = UNIT_POWERS[self.unit]
        return f"{self.amount}" if exp == 0 else rf"{self.amount} \cdot {base}^{{{exp}}}"


@lru_cache(maxsize=None)
def hardware_table() -> dict[str, Hardware]:
    path = configs_dir() / HARDWARE_FILE
    data = load_yaml(read_text(path, str(path)), str(path))
    if not isinstance(data, dict):
        raise ConfigError(str(path), None, "expected a mapping of hardware names to entries")
    table: dict[str, Hardware] = {}
    for key, entry in data.items():
        table[str(key)] = _hardware(str(path), str(key), entry)
    return table


def _hardware(source: str, key: str, entry: Any) -> Hardware:
    if not isinstance(entry, dict):
        raise ConfigError(source, key, "expected a mapping with name, dtype, peak_flops, memory_bytes")
    for field in ("peak_flops", "memory_bytes"):
        value = entry.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(source, f"{key}.{field}", f"must be a positive integer, got {shown(value)}")
    for field in ("name", "dtype"):
        if not isinstance(entry.get(field), str):
            raise ConfigError(source, f"{key}.{field}", "missing or not a string")
    bandwidth = entry.get("bandwidth")
    if bandwidth is not None and (isinstance(bandwidth, bool) or not isinstance(bandwidth, int) or bandwidth <= 0):
        raise ConfigError(source, f"{key}.bandwidth", f"must be a positive integer (bytes/s), got {shown(bandwidth)}")
    also = entry.get("also", [])
    if not isinstance(also, list) or not all(isinstance(a, str) for a in also):
        raise ConfigError(source, f"{key}.also", f"must be a list of number formats, got {shown(also)}")
    return Hardware(key, entry["name"], entry["dtype"], entry["peak_flops"], entry["memory_bytes"],
                    str(entry.get("source", "")), bandwidth, str(entry.get("bandwidth_source", "")), tuple(also))


def get_hardware(name: str) -> Hardware:
    table = hardware_table()
    if name not in table:
        raise UsageError(f"--hardware: unknown hardware {shown(name)} (known: {', '.join(table)})")
    return table[name]


def parse_budget(text: str) -> Budget:
    """'80GB' -> 80 * 10^9 bytes; '80GiB' -> 80 * 2^30 bytes. Units are case-sensitive on purpose."""
    match = _BUDGET_RE.match(str(text))
    if not match or match.group(2) not in BYTE_UNITS:
        raise UsageError(f"--budget: unknown budget {shown(text)} (an integer and a unit, e.g. 80GB or 80GiB; "
                         f"known units: {', '.join(BYTE_UNITS)})")
    return Budget(str(text).strip(), int(match.group(1)), match.group(2))


def positive_number(value: Any, option: str) -> Fraction:
    """A positive exact number ('2.5', '238.3e3', '1e-3', '3/2'); UsageError naming `option` otherwise (at most
    60 characters are read: Fraction('1e-999999999') would build a billion-digit power of ten)."""
    text = str(value).strip()
    try:
        if len(text) > 60:
            raise ValueError
        number = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{option}: expected a positive number, got {shown(text)}") from None
    if number <= 0:
        raise UsageError(f"{option}: expected a positive number, got {shown(text)}")
    return number


def utilization(flops_per_step: int, step_seconds: Fraction, devices: int, peak_flops: Fraction) -> Fraction:
    """FLOPs of one step / (step time x devices x peak FLOP/s per device): MFU when the FLOPs are model FLOPs,
    HFU when they include recomputation (Chowdhery et al. 2022, Appendix B). A dimensionless fraction."""
    return Fraction(flops_per_step) / (Fraction(step_seconds) * devices * Fraction(peak_flops))
