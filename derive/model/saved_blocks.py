"""A whole block's and the once-per-step saved tensors, assembled from the components' declarations in the
order of the forward pass, for every norm layout (pre, post, sandwich, shared) and residual."""

from __future__ import annotations

from .dims import D, ONE, B, S, V, Dim, rotary_width
from .options import ArchOptions
from .saved import Profile, Saved, _out, attention_saved, ffn_saved, norm_saved
from .saved_moe import moe_saved


def _norm_at(opts: ArchOptions, prof: Profile, kind: str, key: str, source: str) -> list[Saved]:
    return norm_saved(opts, prof, key, source, (B, S, D), "seq", None, kind)


def block_saved(opts: ArchOptions, prof: Profile, kind: str, dense: bool = True) -> list[Saved]:
    """One Transformer block's saved tensors, in forward order, for the norm layout of `opts` (pre, post,
    sandwich, shared) and its residual (sequential, parallel). `x` is the block's input, `x_mid` the residual
    stream between attention and the feed-forward; a norm's output is `<norm>.out`, a sub-layer's `<name>.out`."""
    norms, parallel = opts.block_norms, opts.residual == "parallel"
    out: list[Saved] = []
    if norms == "shared":
        out += _norm_at(opts, prof, kind, "block_norm", "x")
        attn_in = ffn_in = "block_norm.out"
    elif norms in ("pre", "sandwich"):
        out += _norm_at(opts, prof, kind, "attn_norm", "x")
        attn_in, ffn_in = "attn_norm.out", "ffn_norm.out"
    else:  # post: the sub-layers read the residual stream itself
        attn_in, ffn_in = "x", "x" if parallel else "x_mid"
    out += attention_saved(opts, prof, kind, attn_in)
    if norms in ("post", "sandwich"):
        out += _norm_at(opts, prof, kind, "post_attn_norm", "attention.out")
    if norms in ("pre", "sandwich"):
        out += _norm_at(opts, prof, kind, "ffn_norm", "x" if parallel else "x_mid")
    out += ffn_saved(opts, prof, kind, ffn_in) if dense or opts.ffn != "moe" else moe_saved(opts, prof, kind, ffn_in)
    if norms in ("post", "sandwich"):
        out += _norm_at(opts, prof, kind, "post_ffn_norm", "ffn.out")
    return out


def checkpoint_saved() -> list[Saved]:
    """Full recomputation: a block keeps only its input (Korthikanti et al. 2022, Table 2: 2sbh in 16 bits)."""
    return [_out("checkpoint", "block_input", (B, S, D), tensor="x", description="the block's input, kept to "
                                                                                 "recompute the block in backward")]


def once_saved(opts: ArchOptions, prof: Profile, kind: str) -> dict[str, list[Saved]]:
    """Tensors kept once per step rather than per block: `first` (the pipeline stage with the embeddings),
    `every` (each stage that holds blocks: RoPE's cos and sin, computed once per forward and shared by its
    blocks), `last` (final norm, lm_head, loss)."""
    first = [Saved("token_ids", "token_ids", (B, S), "int64", "none", description="token ids, kept by the "
                                                                                  "embedding's backward")]
    if opts.positions == "learned":
        first.append(Saved("position_ids", "position_ids", (ONE, S), "int64", "none",
                           description="position ids (1 x S), kept by the position embedding's backward"))
    every: list[Saved] = []
    if kind == "korthikanti":
        first.append(Saved("embedding_dropout_mask", "embedding_dropout_mask", (B, S, D), "mask",
                           description="dropout mask on the embeddings, 1 byte"))
    elif prof.rope_cos_sin and opts.positions == "rope":
        rot = rotary_width(opts)
        if prof.rope_half:
            rot = Dim(f"{rot.name} / 2", rot.expr / 2, rf"{rot.latex}/2")
        if prof.rope_complex:  # (1, S, rot / 2) complex64: 8 bytes each, the bytes of (1, S, rot) in fp32
            return {"first": first, "every": [Saved("rope.freqs_cis", "rope_freqs_cis", (ONE, S, rot), "fp32",
                                                    "none", description="RoPE as complex64 (1 x S x rot/2, 8 bytes "
                                                                        "each), computed each forward")],
                    "last": _last(opts, prof, kind)}
        sets = max(opts.rope_sets, 1) if opts.buffers == "model" else 1
        for i in range(sets):
            tag = f"_{i + 1}" if sets > 1 else ""
            dtype = "fp32" if prof.rope_fp32 else "act"
            every += [Saved(f"rope.{f}{tag}", f"rope_{f}{tag}", (ONE, S, rot), dtype, "none",
                            description=f"RoPE {f} (1 x S x rotated width), computed each forward")
                      for f in ("cos", "sin")]
    return {"first": first, "every": every, "last": _last(opts, prof, kind)}


def _last(opts: ArchOptions, prof: Profile, kind: str) -> list[Saved]:
    last = _norm_at(opts, prof, kind, "final_norm", "x_last")
    last.append(_out("lm_head.input", "lm_head_input", (B, S, D), tensor="final_norm.out",
                     description="input of lm_head (final norm output)"))
    if kind == "full" and prof.final_softcap:
        last.append(_out("logits.softcap", "final_softcap_tanh", (B, S, V), "vocab", 2,
                         description="tanh(logits / cap), kept by tanh's backward"))
    last.append(Saved("loss.log_softmax", "log_softmax_fp32", (B, S, V), "fp32", "vocab", 2,
                      description="log-softmax of the fp32 logits, kept by cross-entropy's backward"
                      if kind == "full" else "fp32 logits for the cross-entropy (Korthikanti: 4sbv)"))
    if kind == "full":
        last += [Saved("loss.targets", "targets", (B, S), "int64", "none", description="target ids (nll_loss)"),
                 Saved("loss.total_weight", "total_weight", (), "fp32", "none",
                       description="nll_loss's total weight (a scalar)")]
    return last
