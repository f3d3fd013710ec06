"""A sweep as CSV or JSON text, streamed block by block.

Each writer takes a sweep source, either a SweepResult (every row in memory) or a SweepPlan (rows evaluated
a block at a time), and yields pieces of text whose concatenation is the document. Memory is bounded by the
block size, so 20 million rows are written without holding them; the text is the same whatever the block
size. A source has: config, varied, fixed, follows, quantities, arithmetic, bounds, size, invalid_count and
chunks(size) -> (columns, invalid) blocks.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Callable, Iterator, Sequence

import numpy as np

CHUNK_ROWS = 100_000
INT64_MAX = 2**63 - 1


def arithmetic_note(src: Any) -> list[str]:
    """One line per quantity saying which path evaluated it, and why."""
    lines = []
    for q in src.quantities:
        path = src.arithmetic[q.name]
        bound = src.bounds.get(q.name)
        if bound is None:
            why = " (not a polynomial with non-negative coefficients: no bound)"
        else:
            why = f" (largest numerator {bound:.3e} {'<' if bound <= INT64_MAX else '>'} 2^63)"
        lines.append(f"{q.name}: {path}{why}")
    return lines


def _header(src: Any) -> list[str]:
    return [*src.varied, *(q.name for q in src.quantities), "invalid"]


def _csv_cell(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def _formatted(src: Any, valid_fmt: str, invalid_fmt: str, reason_text: Callable[[str], str], sep: str,
               chunk: int) -> Iterator[str]:
    """Rows formatted block by block with one %-format per row (the fast path for million-row sweeps); yields
    each non-empty block's rows joined by `sep`.

    A valid row fills `valid_fmt` with every column; an invalid one fills `invalid_fmt` with the varied
    keys and its reason (its quantities are left empty)."""
    keys = [*src.varied, *(q.name for q in src.quantities)]
    nk = len(src.varied)
    for columns, invalid in src.chunks(chunk):
        cols = [np.asarray(columns[k]).tolist() for k in keys]
        reasons = invalid.tolist()
        body = sep.join(invalid_fmt % (*row[:nk], reason_text(reason)) if reason else valid_fmt % row
                        for row, reason in zip(zip(*cols), reasons))
        if body:
            yield body


def csv_pieces(src: Any, chunk: int = CHUNK_ROWS) -> Iterator[str]:
    """CSV with `#` comment lines first (config, fixed values, arithmetic path per quantity)."""
    meta = [f"# config: {src.config.name}",
            "# fixed: " + ", ".join(f"{k}={v}" for k, v in src.fixed.items()),
            *(f"# {k} = {source} in every row" for k, source in src.follows.items()),
            f"# combinations: {src.size}, invalid: {src.invalid_count}",
            *(f"# arithmetic: {line}" for line in arithmetic_note(src)),
            ",".join(_header(src))]
    yield "\n".join(meta)
    nk, nq = len(src.varied), len(src.quantities)
    valid_fmt = ",".join(["%d"] * (nk + nq)) + ","
    invalid_fmt = "".join(["%d,"] * nk) + "," * nq + "%s"
    for body in _formatted(src, valid_fmt, invalid_fmt, _csv_cell, "\n", chunk):
        yield "\n" + body
    yield "\n"


def to_csv(src: Any) -> str:
    return "".join(csv_pieces(src))


def _as_list(values: Sequence[int]) -> list[int]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _meta(src: Any, varied: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": src.config.name,
        "fixed": src.fixed,
        "follows": src.follows,
        "varied": varied,
        "quantities": {q.name: {"description": q.description, "unit": q.unit,
                                "arithmetic": src.arithmetic[q.name]} for q in src.quantities},
        "combinations": src.size,
        "invalid": src.invalid_count,
        "columns": _header(src),
    }


def to_json_data(result: Any, rows: bool = True) -> dict[str, Any]:
    """JSON-ready dict: rows as lists in `columns` order; invalid rows hold null values and a reason."""
    meta = _meta(result, {k: _as_list(v) for k, v in result.varied.items()})
    if not rows:
        return meta
    keys = list(result.varied)
    cols = [result.columns[k].tolist() for k in (*keys, *(q.name for q in result.quantities))]
    reasons = result.invalid.tolist()
    nq = len(result.quantities)
    out = []
    for row, reason in zip(zip(*cols), reasons):
        row = list(row)
        if reason:
            row[len(keys):len(keys) + nq] = [None] * nq
        row.append(reason or None)
        out.append(row)
    return {**meta, "rows": out}


def _json_list(values: Sequence[int], chunk: int) -> Iterator[str]:
    """json.dumps(list(values)) in pieces ("[1, 2, 3]"), never holding a long range as a list."""
    yield "["
    for lo in range(0, len(values), chunk):
        part = values[lo:lo + chunk]
        text = ", ".join(map(str, part.tolist() if isinstance(part, np.ndarray) else part))
        yield text if lo == 0 else ", " + text
    yield "]"


def json_pieces(src: Any, chunk: int = CHUNK_ROWS) -> Iterator[str]:
    """The JSON text of to_json_data(src), written row by row without building Python lists (the varied
    value lists in the header are streamed too: a range of 20 million values is never a list)."""
    marks = {k: f"derive-sweep-{secrets.token_hex(8)}-{i}" for i, k in enumerate(src.varied)}
    head = json.dumps({**_meta(src, marks), "rows": []})
    assert head.endswith('"rows": []}')
    head = head[:-2]
    for key, mark in marks.items():
        before, _, head = head.partition(json.dumps(mark))
        yield before
        yield from _json_list(src.varied[key], chunk)
    yield head
    nk, nq = len(src.varied), len(src.quantities)
    valid_fmt = "[" + ", ".join(["%d"] * (nk + nq)) + ", null]"
    invalid_fmt = "[" + "".join(["%d, "] * nk) + "null, " * nq + "%s]"
    for i, body in enumerate(_formatted(src, valid_fmt, invalid_fmt, json.dumps, ", ", chunk)):
        yield body if i == 0 else ", " + body
    yield "]}\n"


def to_json(src: Any) -> str:
    return "".join(json_pieces(src))
