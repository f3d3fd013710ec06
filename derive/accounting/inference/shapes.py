"""The sizes of a generation request as Dims: prompt and generated tokens, the decode step, and how many keys each
kind of attention layer multiplies in each pass (full layers: every cached token; sliding-window layers: at most
the window).

Generation, as transformers 5.24's `generate` runs it (generation/utils.py): prefill is one forward over the N
prompt tokens with `logits_to_keep=1`; it yields generated token 1. Decode step i (i = 1 .. M - 1) feeds token i
back: one token per sequence, N + i - 1 tokens already cached, attending to N + i keys. The M-th token comes from
the last step's logits and is never fed back, so after generation the cache holds N + M - 1 tokens.

A sliding-window layer (cache_utils.DynamicSlidingWindowLayer) keeps only the last W - 1 tokens and attends to
them plus the new one: min(N + i, W) keys at step i. Its prefill multiplies the whole N x N square (the mask is
applied after the matmul).
"""

from __future__ import annotations

import sympy

from ...model.dims import L_DENSE, L_FULL, L_MOE, L_SWA, L, W
from ...model.options import ArchOptions
from ...model.steps import Dim
from ...model.symbols import SYMBOL_DEFS, SYMBOLS

ONE = Dim.const(1)


def symbol_dim(name: str) -> Dim:
    """The Dim of a symbol of derive/model/symbols.py, printed with its own LaTeX."""
    return Dim(name, SYMBOLS[name], next(d.latex for d in SYMBOL_DEFS if d.name == name))


N = symbol_dim("prompt_len")
M = symbol_dim("gen_len")
I = symbol_dim("decode_step")
BW = symbol_dim("weight_bytes")
BKV = symbol_dim("kv_bytes")
PEAK = SYMBOLS["peak_flops"]
BANDWIDTH = SYMBOLS["mem_bandwidth"]

# Sums are named in parentheses: a tree line prints a leaf as the product of its factors' names.
STEPS = Dim("(gen_len - 1)", M.expr - 1, "(M - 1)")
REQUEST = Dim("(prompt_len + gen_len)", N.expr + M.expr, "(N + M)")
KEYS_STEP = Dim("(prompt_len + decode_step)", N.expr + I.expr, "(N + i)")
KEYS_STEP_SWA = Dim("min(prompt_len + decode_step, sliding_window)", sympy.Min(N.expr + I.expr, W.expr),
                    r"\min(N + i, W)")


def window_sum(first: sympy.Expr, last: sympy.Expr, window: sympy.Expr) -> sympy.Expr:
    """sum over x = first .. last of min(x, window), for integers first <= last + 1 (an empty range is 0).

    With c = min(max(window, first - 1), last): the x up to c count themselves, the rest count the window,
    so the sum is (c (c + 1) - (first - 1) first) / 2 + window (last - c). sympy cannot sum a Min itself."""
    c = sympy.Min(sympy.Max(window, first - 1), last)
    return (c * (c + 1) - (first - 1) * first) / 2 + window * (last - c)


# The keys of all M - 1 decode steps together: sum over i of (N + i) by sympy's summation; for a sliding layer
# the windowed sum above (tests compare both with a sum taken step by step).
KEYS_SUM = Dim("sum_keys", sympy.summation(N.expr + I.expr, (I.expr, 1, M.expr - 1)),
               r"\textstyle\sum_{i=1}^{M-1} (N + i)")
KEYS_SUM_SWA = Dim("sum_keys_window", window_sum(N.expr + 1, N.expr + M.expr - 1, W.expr),
                   r"\textstyle\sum_{i=1}^{M-1} \min(N + i, W)")


# The same sums as single symbols, for printing the decode total compactly (their definitions are printed apart).
SIGMA_K = sympy.Symbol("Sigma_K", positive=True, integer=True)
SIGMA_W = sympy.Symbol("Sigma_W", positive=True, integer=True)
KEY_SUMS_DISPLAY = {"full_attention": Dim("Sigma_K", SIGMA_K, r"\Sigma_K"),
                    "sliding_attention": Dim("Sigma_W", SIGMA_W, r"\Sigma_W")}


def cached(tokens: Dim, sliding: bool) -> Dim:
    """Tokens a layer's cache holds after `tokens` tokens went through it: all of them, or for a sliding-window
    layer the last W - 1 (DynamicSlidingWindowLayer.update keeps `[-sliding_window + 1:]`)."""
    if not sliding:
        return tokens
    return Dim(f"min({bare(tokens.name)}, sliding_window - 1)", sympy.Min(tokens.expr, W.expr - 1),
               rf"\min({bare(tokens.latex)}, W - 1)")


def bare(name: str) -> str:
    """A sum's name without its parentheses, where it stands alone (inside min(...), a sentence)."""
    return name[1:-1] if name.startswith("(") and name.endswith(")") else name


def attention_groups(opts: ArchOptions) -> list[tuple[str, Dim]]:
    """(layer kind, how many layers) for each kind of attention layer the architecture has."""
    if opts.sliding == "none":
        return [("full_attention", L)]
    if opts.sliding == "all":
        return [("sliding_attention", L)]
    return [("full_attention", L_FULL), ("sliding_attention", L_SWA)]


def ffn_groups(opts: ArchOptions) -> list[tuple[bool, Dim]]:
    """(dense, how many layers) for each kind of feed-forward block: a mixture of experts with dense first
    layers (DeepSeek's first_k_dense_replace) has both."""
    if opts.ffn == "moe" and opts.dense_layers:
        return [(True, L_DENSE), (False, L_MOE)]
    return [(opts.ffn != "moe", L)]


LAYER_TITLES = {"full_attention": "full_attention_layers", "sliding_attention": "sliding_window_layers"}
