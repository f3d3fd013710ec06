"""The named sizes step trees are written in: each config symbol as a Dim, and the derived widths.

A derived Dim's name is what a sheet prints as a factor (`d_kv`, `num_heads * head_dim`); its expression is
in config symbols only. Which width an architecture uses is chosen from its ArchOptions (`head_width`,
`q_width`, `kv_width`, `rotary_width`), so each is defined once here.
"""

from __future__ import annotations

import sympy

from . import symbols as sy
from .options import ArchOptions
from .steps import Dim

V = Dim.of(sy.V, "V")
T = Dim.of(sy.T, "T")
L = Dim.of(sy.L, "L")
D = Dim.of(sy.d, "d")
H = Dim.of(sy.h, "h")
DFF = Dim.of(sy.d_ff, r"d_{\mathrm{ff}}")
B = Dim.of(sy.B, "B")
S = Dim.of(sy.S, "S")
DK = Dim("d_k", sy.d / sy.h, "d_k")
NE = Dim.of(sy.E, "E")
KE = Dim.of(sy.k, "k")
DKV = Dim("d_kv", sy.h_kv * sy.d / sy.h, r"d_{\mathrm{kv}}")  # num_kv_heads * d_k: width of k and v
ONE = Dim.const(1)
TWO = Dim.const(2)


def _sym(name: str) -> sympy.Symbol:
    return sy.SYMBOLS[name]


def _of(name: str) -> Dim:
    return Dim(name, _sym(name), next(d.latex for d in sy.SYMBOL_DEFS if d.name == name))


HEAD = _of("head_dim")
DROT = _of("rotary_dim")
DFF_E = _of("d_ff_expert")
DFF_S = _of("d_ff_shared")
L_DENSE = _of("num_dense_layers")
L_MOE = Dim("num_layers - num_dense_layers", sy.L - _sym("num_dense_layers"), r"L - L_{\mathrm{dense}}")
R_Q = _of("q_lora_rank")
R_KV = _of("kv_lora_rank")
D_NOPE = _of("qk_nope_head_dim")
D_ROPE = _of("qk_rope_head_dim")
D_V = _of("v_head_dim")
W = _of("sliding_window")
L_SWA = _of("num_sliding_layers")
L_FULL = Dim("num_layers - num_sliding_layers", sy.L - _sym("num_sliding_layers"), r"L - L_{\mathrm{swa}}")
HKV = Dim.of(sy.h_kv, r"h_{\mathrm{kv}}")

# Multi-head latent attention (DeepSeek-V2/V3)
D_QK = Dim("(qk_nope_head_dim + qk_rope_head_dim)", _sym("qk_nope_head_dim") + _sym("qk_rope_head_dim"),
           r"(d_{\mathrm{nope}} + d_{\mathrm{rope}})")
MLA_Q = Dim("num_heads * (qk_nope_head_dim + qk_rope_head_dim)", sy.h * D_QK.expr,
            r"h (d_{\mathrm{nope}} + d_{\mathrm{rope}})")
MLA_KV_A = Dim("(kv_lora_rank + qk_rope_head_dim)", R_KV.expr + D_ROPE.expr, r"(r_{\mathrm{kv}} + d_{\mathrm{rope}})")
MLA_KV_B = Dim("num_heads * (qk_nope_head_dim + v_head_dim)", sy.h * (D_NOPE.expr + D_V.expr),
               r"h (d_{\mathrm{nope}} + d_v)")
MLA_O = Dim("num_heads * v_head_dim", sy.h * D_V.expr, r"h d_v")


def head_width(opts: ArchOptions) -> Dim:
    """The width q and k are multiplied in per head (and v, except in MLA): d_k, head_dim, or MLA's."""
    if opts.attention == "mla":
        return D_QK
    return HEAD if opts.explicit_head_dim else DK


def q_width(opts: ArchOptions) -> Dim:
    """Output width of q_proj (and input width of o_proj): d_model when heads are d_model / num_heads wide."""
    return Dim("num_heads * head_dim", sy.h * HEAD.expr, r"h d_{\mathrm{head}}") if opts.explicit_head_dim else D


def kv_width(opts: ArchOptions) -> Dim:
    """Output width of k_proj and v_proj: num_kv_heads heads of the head width."""
    if opts.explicit_head_dim:
        return Dim("num_kv_heads * head_dim", sy.h_kv * HEAD.expr, r"h_{\mathrm{kv}} d_{\mathrm{head}}") \
            if opts.gqa else q_width(opts)
    return DKV if opts.gqa else D


def rotary_width(opts: ArchOptions) -> Dim:
    """Dimensions of each head that RoPE rotates."""
    if opts.partial_rotary:
        return DROT
    return D_ROPE if opts.attention == "mla" else head_width(opts)


def half(dim: Dim, odd: bool = False) -> Dim:
    """dim / 2, or (dim + 1) / 2 for an odd dim: the inverse frequencies of a rotary width, one per rotated
    pair (torch.arange(0, dim, 2) has ceil(dim / 2) entries)."""
    if odd:
        return Dim(f"({dim.name} + 1) / 2", (dim.expr + 1) / 2, rf"({dim.latex}+1)/2")
    return Dim(f"{dim.name} / 2", dim.expr / 2, rf"{dim.latex}/2")


def band_pairs() -> Dim:
    """Query-key pairs inside a causal sliding window of W keys (query i sees keys i - W + 1 .. i):
    sum over i < S of min(i + 1, W) = S m - m (m - 1) / 2 with m = min(S, W)."""
    m = sympy.Min(sy.S, W.expr)
    return Dim("band(seq_len, sliding_window)", sy.S * m - m * (m - 1) / 2,
               r"\left(S m - \tfrac{m(m-1)}{2}\right)_{m=\min(S, W)}")
