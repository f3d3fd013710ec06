"""The matmuls of the passes of a generation: prefill, one decode step, and all decode steps together.

One builder makes all of them (and a plain forward pass, which the tests compare with derive's forward tree):
a pass sends `tokens` tokens of each of the B sequences through the projections and feed-forward blocks,
multiplies `queries` queries per sequence with the keys of each attention layer, and computes logits for `logits`
positions. Every matmul goes through components.matmul or Linear.flops, the one FLOP rule; the tree is grouped by
kind of layer (full or sliding-window attention, dense or mixture-of-experts feed-forward), because the number of
keys depends on the attention kind and the feed-forward cost on the FFN kind, and the FLOPs of a pass are the sum
over layers of both.

Multi-head latent attention in transformers 5.24 up-projects the cached latents of every key with kv_b_proj on
every pass (`expand_kv`): kv_b_proj multiplies `keys` rows, not `tokens` rows, so a decode step's kv_b_proj grows
with the cache. (Kernels that absorb kv_b_proj into the query and output projections avoid it; derive counts
what the reference computes.)
"""

from __future__ import annotations

from ...model import layers
from ...model.components import Fused, Linear, lookup, matmul, repeat, total
from ...model.dims import B, D, H, S, V
from ...model.options import ArchOptions
from ...model.steps import Dim, Step
from .shapes import attention_groups, ffn_groups

KIND_TITLES = {"full_attention": "full_attention_layer", "sliding_attention": "sliding_window_layer"}
KIND_WORDS = {"full_attention": "full-attention", "sliding_attention": "sliding-window"}


def _linear_flops(part: Linear | Fused, prefix: str, tokens: tuple[Dim, ...], keys: tuple[Dim, ...]) -> Step:
    """A projection's matmul over the pass's tokens; MLA's kv_b_proj over every key's latent instead."""
    return part.flops(prefix, keys if part.name == "kv_b_proj" else tokens)


def attention_flops(opts: ArchOptions, prefix: str, kind: str, tokens: Dim, queries: Dim, keys: Dim) -> Step:
    """One attention layer of a pass: projections over B x tokens rows, scores and weighted sum of B x h x queries
    rows against `keys` keys per sequence (per query head: grouped-query attention repeats k and v to every head
    before the matmul, as the reference does)."""
    att = layers.attention(opts)
    proj = att.projections
    key = f"{prefix}.{proj.key}"
    d_v = att.d_v or att.d_k
    where = KIND_WORDS[kind]
    steps = [_linear_flops(part, key, (B, tokens), (B, keys)) for part in proj.linears]
    steps[-1:-1] = [
        matmul(f"{key}.scores", "attention_scores", (B, H, queries, att.d_k), (B, H, att.d_k, keys),
               group="attention_scores", description=f"scores Q K^T of each query against its {keys.name} keys "
                                                     f"({where} layer)"),
        matmul(f"{key}.weighted_sum", "attention_output", (B, H, queries, keys), (B, H, keys, d_v),
               group="attention_scores", description=f"softmax(QK^T) V over the {keys.name} keys ({where} layer)"),
    ]
    title = proj.title if kind == "full_attention" else f"sliding_window_{proj.title}"
    return total(key, title, f"total_{title}", steps)


def pass_tree(opts: ArchOptions, key: str, title: str, tokens: Dim, queries: Dim, keys: dict[str, Dim],
              logits: Dim, description: str = "") -> Step:
    """The matmul FLOPs of one pass (see the module docstring); `keys` maps each attention kind present
    (full_attention, sliding_attention) to its keys per sequence."""
    children: list[Step] = [lookup(f"{key}.token_embedding", "token_embedding", "embedding lookup",
                                   ("embedding",))]
    if opts.positions == "learned":
        children.append(lookup(f"{key}.position_embedding", "position_embedding", "position embedding lookup"))
    for kind, count in attention_groups(opts):
        children.append(repeat(f"{key}.{kind}", f"all_{KIND_TITLES[kind]}s", count,
                               attention_flops(opts, f"{key}.{kind}", kind, tokens, queries, keys[kind])))
    for dense, count in ffn_groups(opts):
        ffn = layers.dense_ffn(opts) if dense else layers.moe_ffn(opts)
        name = "dense_ffn" if dense and opts.ffn == "moe" else "ffn"
        children.append(repeat(f"{key}.{name}_layers", f"all_{name}_layers", count,
                               ffn.flops(f"{key}.{name}_layers", (B, tokens))))
    children.append(matmul(f"{key}.lm_head", "lm_head", (B, logits, D), (D, V), group="lm_head",
                           description=f"output projection to vocabulary logits for {logits.name} position(s)"))
    return total(key, title, f"total_{title}_flops", children, description)


def forward_equivalent(opts: ArchOptions) -> Step:
    """A plain forward pass over S tokens built by pass_tree: the tests check it equals derive's forward tree."""
    return pass_tree(opts, "forward_pass", "forward", S, S, {"full_attention": S, "sliding_attention": S}, S)
