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
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from ..errors import UsageError
from ..model.architectures import Derivation, build, derivation
from ..model.config import INT_KEYS, SIZE_SYMBOLS, ModelConfig
from ..model.symbols import SYMBOLS
from .quantities import Quantity

VARY_KEYS: tuple[str, ...] = (*INT_KEYS, "batch_size", "seq_len", "num_kv_heads", "n_experts", "experts_per_token",
                              *SIZE_SYMBOLS, "num_sliding_layers")
# Sizes only some architectures have: varying one needs a config that has it (head_dim given, MLA ranks, ...).
OWN_SIZE_KEYS: tuple[str, ...] = (*SIZE_SYMBOLS, "num_sliding_layers")
MOE_KEYS: tuple[str, ...] = ("n_experts", "experts_per_token")
INT64_MAX = 2**63 - 1
MAX_COMBINATIONS = 20_000_000
INT64 = "numpy int64"
EXACT = "exact Python int"


def _parse_int(text: str, option: str) -> int:
    text = text.strip().replace("_", "")
    if not re.fullmatch(r"[0-9]+", text):
        raise UsageError(f"--vary {option}: {text!r} is not a positive integer")
    return int(text)


def parse_vary(spec: str) -> tuple[str, list[int]]:
    """'d_model=512:8192:512' (inclusive stop) or 'num_layers=12,24,48' (items may be ranges)."""
    key, sep, raw = spec.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise UsageError(f"--vary {spec}: expected KEY=START:STOP:STEP or KEY=V1,V2,...")
    if key not in VARY_KEYS:
        raise UsageError(f"--vary {spec}: unknown key {key!r} (known keys: {', '.join(VARY_KEYS)})")
    values: list[int] = []
    for item in raw.split(","):
        parts = item.split(":")
        if len(parts) == 1:
            values.append(_parse_int(parts[0], spec))
            continue
        if len(parts) not in (2, 3):
            raise UsageError(f"--vary {spec}: range {item!r} must be START:STOP or START:STOP:STEP")
        start, stop = _parse_int(parts[0], spec), _parse_int(parts[1], spec)
        step = _parse_int(parts[2], spec) if len(parts) == 3 else 1
        if step == 0:
            raise UsageError(f"--vary {spec}: step must be positive in {item!r}")
        if start > stop:
            raise UsageError(f"--vary {spec}: start {start} is larger than stop {stop} in {item!r}")
        if (stop - start) // step + 1 > MAX_COMBINATIONS:
            raise UsageError(f"--vary {spec}: range {item!r} has more than {MAX_COMBINATIONS:,} values")
        values.extend(range(start, stop + 1, step))
    if any(v <= 0 for v in values):
        raise UsageError(f"--vary {spec}: values must be positive integers")
    return key, list(dict.fromkeys(values))


def parse_varies(specs: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for spec in specs:
        key, values = parse_vary(spec)
        if key in out:
            raise UsageError(f"--vary {spec}: {key} is varied twice")
        out[key] = values
    return out


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
    varied: dict[str, list[int]]
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


def _grid(varied: Mapping[str, list[int]]) -> dict[str, np.ndarray]:
    big = any(v > INT64_MAX for vals in varied.values() for v in vals)
    dtype = object if big else np.int64
    axes = [np.array(vals, dtype=dtype) for vals in varied.values()]
    mesh = np.meshgrid(*axes, indexing="ij") if axes else []
    return {k: m.ravel() for k, m in zip(varied, mesh)}


def _append_reason(invalid: np.ndarray, mask: Any, reason: str) -> None:
    """Add `reason` to every masked row (a row may collect several, joined by '; ')."""
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), invalid.shape)
    if not mask.any():
        return
    current = invalid[mask]
    invalid[mask] = np.where(current == "", reason, current + "; " + reason)


def _derivation(config: ModelConfig, varied: Mapping[str, list[int]], architecture: str | None) -> Derivation:
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


def run_sweep(config: ModelConfig, varied: Mapping[str, list[int]], quantities: Sequence[Quantity],
              architecture: str | None = None, force_exact: bool = False) -> SweepResult:
    """Evaluate every quantity on every combination of `varied` (other keys from `config`).

    Unless varied, batch_size is 1, seq_len follows context_length and (for a multi-head config)
    num_kv_heads follows num_heads, row by row. `force_exact` takes the Python-int path even where int64
    would do (to cross-check the two)."""
    count = 1
    for vals in varied.values():
        count *= len(vals)
    if count > MAX_COMBINATIONS:
        raise UsageError(f"--vary: {count:,} combinations exceed the limit of {MAX_COMBINATIONS:,}")
    for key in MOE_KEYS:
        if key in varied and config.ffn != "moe":
            raise UsageError(f"--vary {key}: {config.name} is not a mixture of experts (ffn: moe)")
    for key in OWN_SIZE_KEYS:
        if key == "head_dim" and config.attention == "mha":
            continue  # any multi-head config can take a head_dim of its own (see _derivation)
        if key in varied and key not in config.symbol_values():
            raise UsageError(f"--vary {key}: {config.name} has no {key} of its own (give it in the config first)")
    deriv = _derivation(config, varied, architecture)
    grid = _grid(varied)
    env: dict[str, Any] = {**config.symbol_values(), "batch_size": 1}
    env = {**{k: v for k, v in env.items() if k not in varied}, **grid}
    follows = {"seq_len": "context_length"}
    if config.num_kv_heads is None:
        follows["num_kv_heads"] = "num_heads"
    if config.sliding_window is not None and config.num_sliding_layers is None:  # every layer slides
        follows["num_sliding_layers"] = "num_layers"
    follows = {k: src for k, src in follows.items() if k not in varied}
    for key, src in follows.items():
        env[key] = env[src]
    fixed: dict[str, int] = {k: v for k, v in env.items() if k not in varied and not isinstance(v, np.ndarray)}
    maxima = {k: (max(varied[k]) if k in varied else int(np.max(v)) if isinstance(v, np.ndarray) else v)
              for k, v in env.items()}

    invalid = np.full(count, "", dtype=object)
    if config.head_dim is None and config.attention == "mha" and "head_dim" not in varied:  # d_k = d / h
        _append_reason(invalid, env["d_model"] % env["num_heads"] != 0, "d_model not divisible by num_heads")
    _append_reason(invalid, env["num_heads"] % env["num_kv_heads"] != 0, "num_heads not divisible by num_kv_heads")
    if config.ffn == "moe":
        _append_reason(invalid, env["experts_per_token"] > env["n_experts"], "experts_per_token > n_experts")
    _append_reason(invalid, env["seq_len"] > env["context_length"], "seq_len > context_length")
    for key in ("num_dense_layers", "num_sliding_layers"):  # layer counts of a kind cannot exceed the layers
        if key in env:
            _append_reason(invalid, env[key] > env["num_layers"], f"{key} > num_layers")

    columns: dict[str, np.ndarray] = dict(grid)
    arithmetic: dict[str, str] = {}
    bounds: dict[str, int] = {}
    exact_env: dict[str, Any] | None = None
    for q in quantities:
        try:
            comp = compile_quantity(q, deriv)
        except KeyError:
            raise UsageError(f"--quantities: {q.name} does not apply to the architecture of {config.name}") from None
        top = [maxima[n] for n in comp.names]
        bound = int(comp.num_fn(*top)) if comp.monotone else None
        fits = not force_exact and bound is not None and max(bound, int(comp.den_fn(*top))) <= INT64_MAX and all(
            isinstance(env[n], int) or env[n].dtype == np.int64 for n in comp.names)
        if fits:
            args = [env[n] for n in comp.names]
            path = INT64
        else:
            if exact_env is None:
                exact_env = {k: (v.astype(object) if isinstance(v, np.ndarray) else v) for k, v in env.items()}
            args = [exact_env[n] for n in comp.names]
            path = EXACT
        num = np.broadcast_to(np.asarray(comp.num_fn(*args), dtype=np.int64 if fits else object), (count,))
        den = np.broadcast_to(np.asarray(comp.den_fn(*args), dtype=np.int64 if fits else object), (count,))
        if comp.denominator == 1:
            value = np.array(num)
        else:
            value = num // den
            _append_reason(invalid, (num - value * den != 0) & (invalid == ""), f"{q.name} is not an integer")
        columns[q.name] = value
        arithmetic[q.name] = path
        if bound is not None:
            bounds[q.name] = bound
    return SweepResult(config, dict(varied), fixed, list(quantities), columns, invalid, arithmetic, bounds,
                       {k: src for k, src in follows.items() if k not in fixed})


def arithmetic_note(result: SweepResult) -> list[str]:
    """One line per quantity saying which path evaluated it, and why."""
    lines = []
    for q in result.quantities:
        path = result.arithmetic[q.name]
        bound = result.bounds.get(q.name)
        if bound is None:
            why = " (not a polynomial with non-negative coefficients: no bound)"
        else:
            why = f" (largest numerator {bound:.3e} {'<' if bound <= INT64_MAX else '>'} 2^63)"
        lines.append(f"{q.name}: {path}{why}")
    return lines


def _header(result: SweepResult) -> list[str]:
    return [*result.varied, *(q.name for q in result.quantities), "invalid"]


def _csv_cell(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def _formatted_rows(result: SweepResult, valid_fmt: str, invalid_fmt: str, reason_text: Any,
                    sep: str, chunk: int = 100_000) -> list[str]:
    """Rows formatted chunk by chunk with one %-format per row: the fast path for million-row sweeps.

    A valid row fills `valid_fmt` with every column; an invalid one fills `invalid_fmt` with the varied
    keys and its reason (its quantities are left empty)."""
    keys = [*result.varied, *(q.name for q in result.quantities)]
    nk = len(result.varied)
    out = []
    for lo in range(0, result.size, chunk):
        cols = [np.asarray(result.columns[k][lo:lo + chunk]).tolist() for k in keys]
        reasons = result.invalid[lo:lo + chunk].tolist()
        out.append(sep.join(invalid_fmt % (*row[:nk], reason_text(reason)) if reason else valid_fmt % row
                            for row, reason in zip(zip(*cols), reasons)))
    return [c for c in out if c]


def _csv_body(result: SweepResult) -> list[str]:
    nk, nq = len(result.varied), len(result.quantities)
    valid_fmt = ",".join(["%d"] * (nk + nq)) + ","
    invalid_fmt = "".join(["%d,"] * nk) + "," * nq + "%s"
    return _formatted_rows(result, valid_fmt, invalid_fmt, _csv_cell, "\n")


def to_csv(result: SweepResult) -> str:
    """CSV with `#` comment lines first (config, fixed values, arithmetic path per quantity)."""
    meta = [f"# config: {result.config.name}",
            "# fixed: " + ", ".join(f"{k}={v}" for k, v in result.fixed.items()),
            *(f"# {k} = {src} in every row" for k, src in result.follows.items()),
            f"# combinations: {result.size}, invalid: {result.invalid_count}",
            *(f"# arithmetic: {line}" for line in arithmetic_note(result)),
            ",".join(_header(result))]
    return "\n".join([*meta, *_csv_body(result)]) + "\n"


def to_json_data(result: SweepResult, rows: bool = True) -> dict[str, Any]:
    """JSON-ready dict: rows as lists in `columns` order; invalid rows hold null values and a reason."""
    meta = {
        "config": result.config.name,
        "fixed": result.fixed,
        "follows": result.follows,
        "varied": result.varied,
        "quantities": {q.name: {"description": q.description, "unit": q.unit,
                                "arithmetic": result.arithmetic[q.name]} for q in result.quantities},
        "combinations": result.size,
        "invalid": result.invalid_count,
        "columns": _header(result),
    }
    if not rows:
        return meta
    keys = list(result.varied)
    cols = [result.columns[k].tolist() for k in (*keys, *(q.name for q in result.quantities))]
    reasons = result.invalid.tolist()
    nq = len(result.quantities)
    rows = []
    for row, reason in zip(zip(*cols), reasons):
        row = list(row)
        if reason:
            row[len(keys):len(keys) + nq] = [None] * nq
        row.append(reason or None)
        rows.append(row)
    return {**meta, "rows": rows}


def to_json(result: SweepResult) -> str:
    """The JSON text of to_json_data(result), written row by row without building Python lists."""
    data = to_json_data(result, rows=False)
    head = json.dumps({**data, "rows": []})
    assert head.endswith('"rows": []}')
    nk, nq = len(result.varied), len(result.quantities)
    valid_fmt = "[" + ", ".join(["%d"] * (nk + nq)) + ", null]"
    invalid_fmt = "[" + "".join(["%d, "] * nk) + "null, " * nq + "%s]"
    rows = _formatted_rows(result, valid_fmt, invalid_fmt, json.dumps, ", ")
    return head[:-2] + ", ".join(rows) + "]}\n"


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
