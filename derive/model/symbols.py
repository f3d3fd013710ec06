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
    # Sizes of the architectures beyond the assignment's (each appears only in derivations that use it).
    SymbolDef("head_dim", r"d_{\mathrm{head}}",
              "width of one attention head when given explicitly (q: num_heads * head_dim, k and v: "
              "num_kv_heads * head_dim)"),
    SymbolDef("rotary_dim", r"d_{\mathrm{rot}}", "dimensions of each head that RoPE rotates (partial rotary)"),
    SymbolDef("d_ff_expert", r"d_{\mathrm{ff}}^{\mathrm{e}}", "feed-forward width of one routed expert"),
    SymbolDef("d_ff_shared", r"d_{\mathrm{ff}}^{\mathrm{s}}",
              "feed-forward width of the shared expert(s) every token passes through"),
    SymbolDef("num_dense_layers", r"L_{\mathrm{dense}}",
              "layers with a dense feed-forward block instead of a mixture of experts"),
    SymbolDef("q_lora_rank", r"r_{q}", "rank of the compressed query (multi-head latent attention)"),
    SymbolDef("kv_lora_rank", r"r_{\mathrm{kv}}",
              "rank of the compressed key-value latent (multi-head latent attention)"),
    SymbolDef("qk_nope_head_dim", r"d_{\mathrm{nope}}",
              "query/key width per head without RoPE (multi-head latent attention)"),
    SymbolDef("qk_rope_head_dim", r"d_{\mathrm{rope}}",
              "query/key width per head with RoPE; the RoPE key is shared by all heads (multi-head latent "
              "attention)"),
    SymbolDef("v_head_dim", r"d_{v}", "value width per head (multi-head latent attention)"),
    SymbolDef("sliding_window", r"W", "sliding-window length: keys each query of a sliding layer may attend to"),
    SymbolDef("num_sliding_layers", r"L_{\mathrm{swa}}", "layers with sliding-window attention"),
    # Inference (issue 16): the shape of a generation request, the number formats, the accelerator.
    SymbolDef("prompt_len", r"N", "prompt tokens per sequence, processed in one prefill pass"),
    SymbolDef("gen_len", r"M", "tokens generated per sequence (the first by prefill, M - 1 by decode steps)"),
    SymbolDef("decode_step", r"i", "decode step i = 1 .. M - 1: one token through the model with N + i - 1 "
                                    "tokens cached"),
    SymbolDef("weight_bytes", r"b_{w}", "bytes per weight (--dtype)"),
    SymbolDef("kv_bytes", r"b_{\mathrm{kv}}", "bytes per cached key/value element (--kv-dtype)"),
    SymbolDef("peak_flops", r"\pi", "peak matmul FLOP/s of the accelerator in the weights' number format"),
    SymbolDef("mem_bandwidth", r"\beta", "memory bandwidth of the accelerator, bytes/s"),
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
