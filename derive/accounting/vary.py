"""--vary values: parsed without expanding them, and the number of combinations checked arithmetically.

A single START:STOP:STEP stays a `range` (20 million values cost nothing); a comma list becomes a numpy array
(8 bytes a value) only once its length is known to be within MAX_COMBINATIONS; the product of the lengths is
checked before any row exists. (Expanding first is how three ranges once took 6.2 GB before the refusal.)
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

from ..errors import UsageError, label, shown
from ..model.config import INT_KEYS, SIZE_SYMBOLS
from ..model.reading import MAX_INT_DIGITS, size_too_large

VARY_KEYS: tuple[str, ...] = (*INT_KEYS, "batch_size", "seq_len", "num_kv_heads", "n_experts", "experts_per_token",
                              *SIZE_SYMBOLS, "num_sliding_layers")
# Sizes only some architectures have: varying one needs a config that has it (head_dim given, MLA ranks, ...).
OWN_SIZE_KEYS: tuple[str, ...] = (*SIZE_SYMBOLS, "num_sliding_layers")
MOE_KEYS: tuple[str, ...] = ("n_experts", "experts_per_token")
MAX_COMBINATIONS = 20_000_000
INT64_MAX = 2**63 - 1


def _parse_int(text: str, option: str) -> int:
    text = text.strip().replace("_", "")
    if not re.fullmatch(r"[0-9]+", text):
        raise UsageError(f"--vary {label(option)}: {shown(text)} is not a positive integer")
    if len(text) > MAX_INT_DIGITS:  # int() itself refuses beyond 4,300 digits, with a traceback
        raise UsageError(f"--vary {label(option)}: an integer of {len(text):,} digits is longer than derive reads "
                         f"({MAX_INT_DIGITS:,} digits)")
    return int(text)


def _values(spec: str) -> tuple[str, Sequence[int]]:
    """The key and values of one --vary, lazily: a single START:STOP:STEP stays a `range` (a range of 20
    million values costs no memory); a comma list is expanded only once its length is known to be within
    MAX_COMBINATIONS."""
    key, sep, raw = spec.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise UsageError(f"--vary {label(spec)}: expected KEY=START:STOP:STEP or KEY=V1,V2,...")
    if key not in VARY_KEYS:
        raise UsageError(f"--vary {label(spec)}: unknown key {shown(key)} (known keys: {', '.join(VARY_KEYS)})")
    items: list[range] = []
    for item in raw.split(","):
        parts = item.split(":")
        if len(parts) == 1:
            value = _parse_int(parts[0], spec)
            items.append(range(value, value + 1))
            continue
        if len(parts) not in (2, 3):
            raise UsageError(f"--vary {label(spec)}: range {shown(item)} must be START:STOP or START:STOP:STEP")
        start, stop = _parse_int(parts[0], spec), _parse_int(parts[1], spec)
        step = _parse_int(parts[2], spec) if len(parts) == 3 else 1
        if step == 0:
            raise UsageError(f"--vary {label(spec)}: step must be positive in {shown(item)}")
        if start > stop:
            raise UsageError(f"--vary {label(spec)}: start {shown(start)} is larger than stop {shown(stop)} in "
                             f"{shown(item)}")
        items.append(range(start, stop + 1, step))
    if sum(len(r) for r in items) > MAX_COMBINATIONS:  # arithmetic on lengths: nothing expanded yet
        raise UsageError(f"--vary {label(spec)}: more than {MAX_COMBINATIONS:,} values")
    if any(r.start <= 0 for r in items):
        raise UsageError(f"--vary {label(spec)}: values must be positive integers")
    for r in items:
        if (why := size_too_large(r[-1])) is not None:
            raise UsageError(f"--vary {label(spec)}: {key}: {why}")
    return key, items[0] if len(items) == 1 else _union(items)


def _union(items: list[range]) -> Sequence[int]:
    """The values of several ranges in order of first appearance, duplicates dropped (8 bytes a value)."""
    if any(r.stop - 1 > INT64_MAX for r in items):
        return list(dict.fromkeys(v for r in items for v in r))
    values = np.concatenate([np.arange(r.start, r.stop, r.step, dtype=np.int64) for r in items])
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def parse_vary(spec: str) -> tuple[str, list[int]]:
    """'d_model=512:8192:512' (inclusive stop) or 'num_layers=12,24,48' (items may be ranges)."""
    key, values = _values(spec)
    return key, values.tolist() if isinstance(values, np.ndarray) else list(values)


def parse_varies(specs: Sequence[str]) -> dict[str, Sequence[int]]:
    """Every --vary, keyed by config key; the number of combinations (the product of the lengths) is checked
    before any row exists. Single ranges stay `range` objects."""
    out: dict[str, Sequence[int]] = {}
    for spec in specs:
        key, values = _values(spec)
        if key in out:
            raise UsageError(f"--vary {label(spec)}: {key} is varied twice")
        out[key] = values
    check_size(out)
    return out


def combinations(varied: Mapping[str, Sequence[int]]) -> int:
    count = 1
    for values in varied.values():
        count *= len(values)
    return count


def check_size(varied: Mapping[str, Sequence[int]]) -> int:
    """The number of combinations, refused above MAX_COMBINATIONS (from the lengths: nothing is expanded)."""
    count = combinations(varied)
    if count > MAX_COMBINATIONS:
        raise UsageError(f"--vary: {count:,} combinations exceed the limit of {MAX_COMBINATIONS:,}")
    return count
