"""Sweeps: every combination of varied hyperparameters, evaluated by functions compiled once.

Each quantity's expression is split into numerator / denominator polynomials (sympy.together), so a
division such as d_model / num_heads becomes one exact integer division at the end. The numerator is
expanded; when all its coefficients are non-negative it is increasing in every (positive) variable, so
its value at the largest value of every key bounds every term and partial sum of every row. If that
bound fits in int64 the quantity is evaluated by a numpy int64 function (sympy.lambdify); otherwise by
the same function over numpy object arrays of Python ints, which is exact at any size. Both are exact:
no float is involved. Invalid combinations get a reason in the `invalid` column, never dropped.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import sympy

from ..errors import UsageError
from ..model.architectures import Derivation, build, derivation
from ..model.config import ModelConfig
from ..model.symbols import SYMBOLS
from .quantities import Quantity
from .vary import MAX_COMBINATIONS, MOE_KEYS, OWN_SIZE_KEYS, VARY_KEYS, check_size, parse_vary, parse_varies
from .sweep_text import CHUNK_ROWS, arithmetic_note, csv_pieces, json_pieces, to_csv, to_json, to_json_data

__all__ = ["VARY_KEYS", "MAX_COMBINATIONS", "INT64", "EXACT", "parse_vary", "parse_varies", "check_size",
           "compile_quantity", "SweepResult", "SweepPlan", "plan_sweep", "run_sweep", "substitute_rows",
           "arithmetic_note", "csv_pieces", "json_pieces", "to_csv", "to_json", "to_json_data"]

INT64_MAX = 2**63 - 1
INT64 = "numpy int64"
EXACT = "exact Python int"


@dataclass(frozen=True, eq=False)
class Compiled:
    """One quantity as numerator / denominator polynomials and the functions evaluating them."""

    quantity: Quantity
    expr: sympy.Expr
    numerator: sympy.Expr
    denominator: sympy.Expr
    names: tuple[str, ...]  # argument order of the functions: every symbol either polynomial uses
    monotone: bool  # both polynomials have only non-negative coefficients
    num_fn: Any
    den_fn: Any


def _nonnegative_polynomial(expr: sympy.Expr, syms: list[sympy.Symbol]) -> bool:
    if not syms:
        return bool(expr.is_Integer and expr >= 0)
    if not expr.is_polynomial(*syms):
        return False
    return all(c.is_Integer and c >= 0 for c in sympy.Poly(expr, *syms).coeffs())


@lru_cache(maxsize=None)
def compile_quantity(quantity: Quantity, deriv: Derivation) -> Compiled:
    """Built once per (quantity, architecture); lambdify runs here, never per combination."""
    expr = sympy.sympify(quantity.expr(deriv))
    num, den = sympy.fraction(sympy.together(expr))
    num, den = sympy.expand(num), sympy.expand(den)
    syms = sorted(num.free_symbols | den.free_symbols, key=lambda s: s.name)
    unknown = [s.name for s in syms if s.name not in VARY_KEYS]
    if unknown:
        raise ValueError(f"quantity {quantity.name} uses unknown symbols {unknown}")
    monotone = _nonnegative_polynomial(num, syms) and _nonnegative_polynomial(den, syms)
    return Compiled(quantity, expr, num, den, tuple(s.name for s in syms), monotone,
                    sympy.lambdify(syms, num, "numpy"), sympy.lambdify(syms, den, "numpy"))


@dataclass
class SweepResult:
    """Columns of a sweep: varied keys, one int column per quantity, and the invalid-reason column."""

    config: ModelConfig
    varied: dict[str, Sequence[int]]
    fixed: dict[str, int]
    quantities: list[Quantity]
    columns: dict[str, np.ndarray]  # varied keys and quantities (int64 or object of Python ints)
    invalid: np.ndarray  # object array: "" for a valid row, else the reason
    arithmetic: dict[str, str]  # quantity -> INT64 | EXACT
    bounds: dict[str, int] = field(default_factory=dict)  # quantity -> numerator bound used to decide
    follows: dict[str, str] = field(default_factory=dict)  # key -> the varied key it equals row by row

    @property
    def size(self) -> int:
        return len(self.invalid)

    @property
    def invalid_count(self) -> int:
        return int(np.count_nonzero(self.invalid != ""))

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """(columns, invalid) of rows [lo, lo + size), in order (the writers' common interface)."""
        for lo in range(0, self.size, size):
            yield {k: v[lo:lo + size] for k, v in self.columns.items()}, self.invalid[lo:lo + size]

    def rows(self) -> list[dict[str, Any]]:
        """Row dicts (slow for big sweeps; for tests and small outputs). Invalid rows hold None values."""
        keys = list(self.varied)
        cols = {k: self.columns[k].tolist() for k in (*keys, *(q.name for q in self.quantities))}
        reasons = self.invalid.tolist()
        out = []
        for i, reason in enumerate(reasons):
            row: dict[str, Any] = {k: cols[k][i] for k in keys}
            for q in self.quantities:
                row[q.name] = None if reason else cols[q.name][i]
            row["invalid"] = reason
            out.append(row)
        return out


def _largest(values: Sequence[int]) -> int:
    if isinstance(values, range):
        return values[-1]
    return int(np.max(values)) if isinstance(values, np.ndarray) else max(values)


def _axis(values: range | np.ndarray, positions: np.ndarray, big: bool) -> np.ndarray:
    """values[positions] as int64 (object of Python ints when some value passes int64), ranges unexpanded."""
    if isinstance(values, range):
        steps = positions.astype(object) if big else positions
        return steps * values.step + values.start
    return values[positions]


def _append_reason(invalid: np.ndarray, mask: Any, reason: str) -> None:
    """Add `reason` to every masked row (a row may collect several, joined by '; ')."""
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), invalid.shape)
    if not mask.any():
        return
    current = invalid[mask]
    invalid[mask] = np.where(current == "", reason, current + "; " + reason)


def _derivation(config: ModelConfig, varied: Mapping[str, Sequence[int]], architecture: str | None) -> Derivation:
    """The config's own architecture; with grouped-query k/v when num_kv_heads is varied (that derivation
    gives the multi-head values wherever num_kv_heads == num_heads)."""
    if architecture is not None:
        return derivation(architecture)
    arch = config.arch
    if "num_kv_heads" in varied and not arch.gqa:
        arch = dataclasses.replace(arch, gqa=True)
    if "head_dim" in varied and not arch.explicit_head_dim:  # q, k, v widths num_heads * head_dim, ...
        arch = dataclasses.replace(arch, explicit_head_dim=True, odd_rotary=False)
    return build(arch)


_ROW = object()  # marks a key whose value changes row by row


@dataclass(eq=False)
class SweepPlan:
    """A sweep before any row exists: compiled quantities, the arithmetic path of each, and the values of
    every key. `chunks()` evaluates rows a block at a time, so memory does not grow with the row count."""

    config: ModelConfig
    varied: dict[str, Sequence[int]]
    fixed: dict[str, int]
    quantities: list[Quantity]
    arithmetic: dict[str, str]
    bounds: dict[str, int]
    follows: dict[str, str]
    size: int
    scalars: dict[str, int]  # every key not varied row by row (fixed values and the follows' sources)
    copies: dict[str, str]  # key -> key it equals (seq_len -> context_length ...)
    compiled: list[tuple[Quantity, Compiled, bool]]  # (quantity, functions, fits in int64)
    axes: dict[str, range | np.ndarray]
    big: bool
    _invalid: int | None = None

    def evaluate(self, lo: int, hi: int, reasons_only: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Columns and invalid reasons of rows [lo, hi) (row i is the i-th combination, last key fastest)."""
        n = hi - lo
        rest = np.arange(lo, hi, dtype=np.int64)
        grid: dict[str, np.ndarray] = {}
        for key in reversed(list(self.varied)):
            m = len(self.varied[key])
            grid[key] = _axis(self.axes[key], rest % m, self.big)
            rest = rest // m
        grid = {k: grid[k] for k in self.varied}
        env: dict[str, Any] = {**self.scalars, **grid}
        for key, src in self.copies.items():
            env[key] = env[src]
        invalid = np.full(n, "", dtype=object)
        c = self.config
        if c.head_dim is None and c.attention == "mha" and "head_dim" not in self.varied:  # d_k = d / h
            _append_reason(invalid, env["d_model"] % env["num_heads"] != 0, "d_model not divisible by num_heads")
        _append_reason(invalid, env["num_heads"] % env["num_kv_heads"] != 0,
                       "num_heads not divisible by num_kv_heads")
        if c.ffn == "moe":
            _append_reason(invalid, env["experts_per_token"] > env["n_experts"], "experts_per_token > n_experts")
        _append_reason(invalid, env["seq_len"] > env["context_length"], "seq_len > context_length")
        for key in ("num_dense_layers", "num_sliding_layers"):  # layer counts of a kind cannot exceed the layers
            if key in env:
                _append_reason(invalid, env[key] > env["num_layers"], f"{key} > num_layers")
        columns: dict[str, np.ndarray] = dict(grid)
        exact_env: dict[str, Any] | None = None
        for q, comp, fits in self.compiled:
            if reasons_only and comp.denominator == 1:
                continue  # a polynomial is always an integer: no reason to find
            if fits:
                args = [env[name] for name in comp.names]
            else:
                if exact_env is None:
                    exact_env = {k: (v.astype(object) if isinstance(v, np.ndarray) else v) for k, v in env.items()}
                args = [exact_env[name] for name in comp.names]
            dtype = np.int64 if fits else object
            num = np.broadcast_to(np.asarray(comp.num_fn(*args), dtype=dtype), (n,))
            den = np.broadcast_to(np.asarray(comp.den_fn(*args), dtype=dtype), (n,))
            if comp.denominator == 1:
                value = np.array(num)
            else:
                value = num // den
                _append_reason(invalid, (num - value * den != 0) & (invalid == ""), f"{q.name} is not an integer")
            columns[q.name] = value
        return columns, invalid

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        for lo in range(0, self.size, size):
            yield self.evaluate(lo, min(lo + size, self.size))

    def count_invalid(self, size: int = CHUNK_ROWS) -> int:
        """Invalid rows, counted block by block (the CSV and JSON headers give it before the rows)."""
        if self._invalid is None:
            self._invalid = sum(int(np.count_nonzero(self.evaluate(lo, min(lo + size, self.size), True)[1] != ""))
                                for lo in range(0, self.size, size))
        return self._invalid

    @property
    def invalid_count(self) -> int:
        return self.count_invalid()

    def result(self) -> SweepResult:
        """Every row at once (what run_sweep returns)."""
        columns, invalid = self.evaluate(0, self.size)
        return SweepResult(self.config, dict(self.varied), self.fixed, list(self.quantities), columns, invalid,
                           self.arithmetic, self.bounds, self.follows)


def plan_sweep(config: ModelConfig, varied: Mapping[str, Sequence[int]], quantities: Sequence[Quantity],
               architecture: str | None = None, force_exact: bool = False) -> SweepPlan:
    """Compile every quantity and choose its arithmetic path; no row is evaluated (see SweepPlan)."""
    count = check_size(varied)
    for key in MOE_KEYS:
        if key in varied and config.ffn != "moe":
            raise UsageError(f"--vary {key}: {config.name} is not a mixture of experts (ffn: moe)")
    for key in OWN_SIZE_KEYS:
        if key == "head_dim" and config.attention == "mha":
            continue  # any multi-head config can take a head_dim of its own (see _derivation)
        if key in varied and key not in config.symbol_values():
            raise UsageError(f"--vary {key}: {config.name} has no {key} of its own (give it in the config first)")
    deriv = _derivation(config, varied, architecture)
    big = any(_largest(v) > INT64_MAX for v in varied.values() if len(v))
    axes = {k: v if isinstance(v, range) else np.asarray(v, dtype=object if big else np.int64)
            for k, v in varied.items()}
    proto: dict[str, Any] = {**config.symbol_values(), "batch_size": 1}
    proto = {**{k: v for k, v in proto.items() if k not in varied}, **{k: _ROW for k in varied}}
    follows = {"seq_len": "context_length"}
    if config.num_kv_heads is None:
        follows["num_kv_heads"] = "num_heads"
    if config.sliding_window is not None and config.num_sliding_layers is None:  # every layer slides
        follows["num_sliding_layers"] = "num_layers"
    follows = {k: src for k, src in follows.items() if k not in varied}
    for key, src in follows.items():
        proto[key] = proto[src]
    fixed: dict[str, int] = {k: v for k, v in proto.items() if v is not _ROW}
    maxima = {k: (v if v is not _ROW else _largest(varied[follows.get(k, k)])) for k, v in proto.items()}
    arithmetic: dict[str, str] = {}
    bounds: dict[str, int] = {}
    compiled = []
    for q in quantities:
        try:
            comp = compile_quantity(q, deriv)
        except KeyError:
            raise UsageError(f"--quantities: {q.name} does not apply to the architecture of {config.name}") from None
        top = [maxima[n] for n in comp.names]
        bound = int(comp.num_fn(*top)) if comp.monotone else None
        fits = not force_exact and bound is not None and max(bound, int(comp.den_fn(*top))) <= INT64_MAX and (
            not big or all(proto[n] is not _ROW for n in comp.names))
        compiled.append((q, comp, fits))
        arithmetic[q.name] = INT64 if fits else EXACT
        if bound is not None:
            bounds[q.name] = bound
    return SweepPlan(config, dict(varied), fixed, list(quantities), arithmetic, bounds,
                     {k: src for k, src in follows.items() if k not in fixed}, count, fixed, follows, compiled,
                     axes, big)


def run_sweep(config: ModelConfig, varied: Mapping[str, Sequence[int]], quantities: Sequence[Quantity],
              architecture: str | None = None, force_exact: bool = False) -> SweepResult:
    """Evaluate every quantity on every combination of `varied` (other keys from `config`).

    Unless varied, batch_size is 1, seq_len follows context_length and (for a multi-head config)
    num_kv_heads follows num_heads, row by row. `force_exact` takes the Python-int path even where int64
    would do (to cross-check the two). For millions of rows, stream plan_sweep(...).chunks() instead."""
    return plan_sweep(config, varied, quantities, architecture, force_exact).result()


def substitute_rows(config: ModelConfig, varied: Mapping[str, list[int]], quantities: Sequence[Quantity],
                    limit: int | None = None, architecture: str | None = None) -> list[list[int | None]]:
    """The slow reference: xreplace per combination (for benchmarks and cross-checks, not for users)."""
    deriv = _derivation(config, varied, architecture)
    exprs = [q.expr(deriv) for q in quantities]
    base = {k: v for k, v in config.symbol_values().items()}
    out = []
    for combo in itertools.islice(itertools.product(*varied.values()), limit):
        vals = {"batch_size": 1, **base, **dict(zip(varied, combo))}
        vals.setdefault("seq_len", vals["context_length"])
        if config.num_kv_heads is None and "num_kv_heads" not in varied:
            vals["num_kv_heads"] = vals["num_heads"]
        every_layer_slides = config.sliding_window is not None and config.num_sliding_layers is None
        if every_layer_slides and "num_sliding_layers" not in varied:
            vals["num_sliding_layers"] = vals["num_layers"]
        subs = {SYMBOLS[k]: sympy.Integer(v) for k, v in vals.items()}
        row = []
        for e in exprs:
            v = e.xreplace(subs)
            whole_heads = config.head_dim is not None or config.attention == "mla" or \
                vals["d_model"] % vals["num_heads"] == 0
            row.append(int(v) if v.is_Integer and whole_heads else None)
        out.append(row)
    return out
