"""Sentences that mix derive's prose with data, and option values as words.

A sentence such as "The share of lm_head shrinks from 15.9% (gpt2-small) to 4.1% (gpt2-xl)." is derive's prose
(its formulas are typeset as math in LaTeX and HTML) around data (the config names, only ever escaped). Keeping
the two apart in a Prose object is what lets each format treat them right.
"""

from __future__ import annotations

from typing import Any, Iterable


class Data(str):
    """A piece of a Prose sentence that is data (a config name): escaped, never read as a formula."""


class Line(str):
    """One line of prose from a config (d_ff_source): its formulas are typeset, a newline in it stays visible."""


class Prose(tuple):
    """A sentence as pieces: str for derive's prose, Data for data. str(prose) is its plain text."""

    def __new__(cls, *parts: str) -> "Prose":
        return super().__new__(cls, parts)

    def __str__(self) -> str:
        return "".join(self)

    def __add__(self, other: Any) -> "Prose":  # type: ignore[override]
        return Prose(*self, *(other if isinstance(other, Prose) else (str(other),)))


def prose_parts(value: Any) -> Iterable[tuple[str, str]]:
    """(text, kind) pieces of a Prose or a string: kind "data" (Data), "line" (Line) or "prose" (derive's own
    text, which may run over several lines)."""
    parts = value if isinstance(value, Prose) else (value,)
    return [(str(p), "data" if isinstance(p, Data) else "line" if isinstance(p, Line) else "prose") for p in parts]


# Architecture options as a reader would write them (booleans as yes/no, never Python's True/False).
OPTION_WORDS: dict[str, str] = {
    "rmsnorm": "RMSNorm", "layernorm": "LayerNorm", "swiglu": "SwiGLU", "gelu": "GELU MLP",
    "moe": "mixture of experts", "rope": "RoPE", "learned": "learned",
    "geglu": "GeGLU", "alibi": "ALiBi", "mha": "multi-head attention", "mla": "multi-head latent attention",
    "pre": "pre-norm", "post": "post-norm", "sandwich": "sandwich norms", "shared": "one norm for both",
    "sequential": "sequential", "parallel": "parallel", "head": "per head", "full": "over all heads",
    "rope_tables": "per-block RoPE tables", "model": "as the reference registers them",
    "per_layer_type": "one set per attention type",
}


def option_word(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return OPTION_WORDS.get(str(value), str(value))
