"""What the KV cache holds, per token per layer and in total, for each kind of attention.

Multi-head, grouped-query and multi-query attention cache each layer's keys and values after their projection:
2 x num_kv_heads x head_dim elements per token (the k_proj and v_proj widths; `DynamicLayer.keys` and `.values`
are (batch, num_kv_heads, tokens, head_dim)). Multi-head latent attention (DeepSeek-V2/V3) caches, in
transformers 5.24, the compressed latent before its up-projection: kv_lora_rank + qk_rope_head_dim elements per
token per layer (modeling_deepseek_v3.py: `cache.update(kv_nope, k_rot, ...)` with both viewed as one head), and
expands it to per-head keys and values with kv_b_proj on every pass. The expanded size, num_heads x
(qk_nope_head_dim + qk_rope_head_dim + v_head_dim) per layer, is what a per-head cache would hold.
"""

from __future__ import annotations

from ...model.components import repeat, total
from ...model.dims import D_NOPE, D_ROPE, D_V, MLA_KV_A, TWO, B, H, L, kv_width
from ...model.options import ArchOptions
from ...model.steps import Dim, Step
from .shapes import BKV, LAYER_TITLES, attention_groups, cached

PER_TOKEN_TITLE = "kv_bytes_per_token_per_layer"


def elements_per_token(opts: ArchOptions) -> tuple[Dim, ...]:
    """Factors of the elements one layer caches per token: (2, k/v width) or MLA's (latent + RoPE key)."""
    if opts.attention == "mla":
        return (MLA_KV_A,)
    return (TWO, kv_width(opts))


def stores(opts: ArchOptions) -> str:
    """What the cache of this architecture holds, in words."""
    if opts.attention == "mla":
        return ("the compressed key-value latent (kv_lora_rank) and the RoPE key shared by all heads "
                "(qk_rope_head_dim) of each token, as transformers 5.24's DynamicCache holds them for multi-head "
                "latent attention; keys and values are expanded from it with kv_b_proj on every pass")
    width = "num_kv_heads * head_dim" if opts.explicit_head_dim else "num_kv_heads * d_model / num_heads"
    if not opts.gqa:
        width = "num_heads * head_dim" if opts.explicit_head_dim else "d_model"
    return f"each layer's keys and values after projection: 2 * {width} elements per token"


def _leaf(key: str, title: str, factors: tuple[Dim, ...], description: str) -> Step:
    return Step(key, title, factors=factors, kind="memory", description=description)


def per_token_tree(opts: ArchOptions) -> Step:
    """Bytes one token adds to the cache of every layer (a sliding layer: while its window is not yet full)."""
    elements = elements_per_token(opts)
    children = [repeat(f"kv_per_token.{kind}", f"all_{LAYER_TITLES[kind]}", count,
                       _leaf(f"kv_per_token.{kind}.layer", PER_TOKEN_TITLE, (*elements, BKV),
                             "bytes one token adds to one layer's cache"))
                for kind, count in attention_groups(opts)]
    return total("kv_per_token", "kv_cache_per_token", "kv_bytes_per_token", children,
                 "bytes of KV cache per token of one sequence, all layers")


def cache_tree(opts: ArchOptions, tokens: Dim, key: str = "kv_cache", title: str = "kv_cache",
               sliding_tokens: Dim | None = None) -> Step:
    """Bytes of the caches of a batch of B sequences after `tokens` tokens each (sliding-window layers hold at
    most W - 1 of them; `sliding_tokens` replaces that count, e.g. the keys a decode step reads)."""
    elements = elements_per_token(opts)
    children = []
    for kind, count in attention_groups(opts):
        held = (sliding_tokens or cached(tokens, True)) if kind == "sliding_attention" else tokens
        children.append(repeat(f"{key}.{kind}", f"all_{LAYER_TITLES[kind]}", count,
                               _leaf(f"{key}.{kind}.layer", f"{kind}_layer", (B, held, *elements, BKV),
                                     f"batch_size sequences x {held.name} tokens x bytes per token, one layer")))
    return total(key, title, f"total_{title}_bytes", children)


def expanded_per_token(opts: ArchOptions) -> Step | None:
    """MLA: bytes per token of per-head keys and values, what a cache without the latent would hold."""
    if opts.attention != "mla":
        return None
    key_width = Dim("num_heads * (qk_nope_head_dim + qk_rope_head_dim)", H.expr * (D_NOPE.expr + D_ROPE.expr),
                    r"h (d_{\mathrm{nope}} + d_{\mathrm{rope}})")
    value_width = Dim("num_heads * v_head_dim", H.expr * D_V.expr, r"h d_v")
    return repeat("kv_expanded", "all_layers", L, total("kv_expanded.layer", "per_head_keys_and_values",
                                                        "expanded_bytes_per_token_per_layer", [
        _leaf("kv_expanded.layer.keys", "keys", (key_width, BKV), "per-head keys of one token"),
        _leaf("kv_expanded.layer.values", "values", (value_width, BKV), "per-head values of one token"),
    ]))
