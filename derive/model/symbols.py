"""The symbols of the accounting, defined once as data (name, LaTeX, meaning).

Builders only ever see these symbols; numbers arrive in a separate substitution pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy


@dataclass(frozen=True)
class SymbolDef:
    name: str
    latex: str
    meaning: str


SYMBOL_DEFS: tuple[SymbolDef, ...] = (
    SymbolDef("vocab_size", r"V", "vocabulary size"),
    SymbolDef("context_length", r"T", "context length (maximum sequence length)"),
    SymbolDef("num_layers", r"L", "number of Transformer blocks"),
    SymbolDef("d_model", r"d", "model (residual stream) width"),
    SymbolDef("num_heads", r"h", "number of attention heads"),
    SymbolDef("d_ff", r"d_{\mathrm{ff}}", "feed-forward inner width"),
    SymbolDef("batch_size", r"B", "sequences per batch"),
    SymbolDef("seq_len", r"S", "tokens per sequence in this pass"),
    SymbolDef("num_kv_heads", r"h_{\mathrm{kv}}", "key/value heads (grouped-query attention)"),
    SymbolDef("n_experts", r"E", "experts per mixture-of-experts layer"),
    SymbolDef("experts_per_token", r"k", "experts each token is routed to"),
)

SYMBOLS: dict[str, sympy.Symbol] = {
    d.name: sympy.Symbol(d.name, positive=True, integer=True) for d in SYMBOL_DEFS
}
LATEX_NAMES: dict[sympy.Symbol, str] = {SYMBOLS[d.name]: d.latex for d in SYMBOL_DEFS}

V = SYMBOLS["vocab_size"]
T = SYMBOLS["context_length"]
L = SYMBOLS["num_layers"]
d = SYMBOLS["d_model"]
h = SYMBOLS["num_heads"]
d_ff = SYMBOLS["d_ff"]
B = SYMBOLS["batch_size"]
S = SYMBOLS["seq_len"]
h_kv = SYMBOLS["num_kv_heads"]
E = SYMBOLS["n_experts"]
k = SYMBOLS["experts_per_token"]


def symbol(name: str) -> sympy.Symbol:
    return SYMBOLS[name]
