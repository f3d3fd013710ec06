"""Architectures as compositions of components; each builds its Step trees once, from symbols only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy

from . import layers
from .components import Embedding, MixtureOfExperts, linear, matmul, repeat, total, vector, weight
from .dims import (  # noqa: F401  (the size Dims are importable from here, as before derive/model/dims.py)
    DFF, DK, DKV, KE, L_DENSE, L_FULL, L_MOE, L_SWA, NE, ONE, TWO, B, D, H, L, S, T, V, band_pairs, half, rotary_width,
)
from .options import ArchOptions
from .steps import Dim, Step, group_totals

__all__ = ["GROUP_LABELS", "EXTRA_GROUP_LABELS", "WINDOW_CONVENTIONS", "Derivation", "build", "assignment",
           "derivation", "derivation_for", "V", "T", "L", "D", "H", "DFF", "B", "S", "DK", "NE", "KE", "DKV"]

# Forward-FLOP groups whose shares the sheets report, in display order.
GROUP_LABELS: dict[str, str] = {
    "attention_projections": "attention projections (q, k, v, o)",
    "attention_scores": "attention scores + weighted sum",
    "ffn": "feed-forward (SwiGLU)",
    "lm_head": "lm_head (output projection)",
}
# Groups only some architectures have (kept apart so the assignment sheet's group list is unchanged).
EXTRA_GROUP_LABELS: dict[str, str] = {"router": "MoE router"}
# How sliding-window layers' attention scores are counted (derive flops --window).
WINDOW_CONVENTIONS: dict[str, str] = {
    "full": "sliding-window layers are counted as the full S x S square, as the reference computes them "
            "(the mask is applied after the matmul; FlopCounterMode counts all of it)",
    "band": "sliding-window layers count only the (query, key) pairs their causal window mask keeps, what a "
            "windowed kernel computes: sum over queries i < S of min(i + 1, W) = S m - m (m - 1) / 2 with "
            "m = min(S, W); full-attention layers stay the full S x S square",
}


@dataclass(frozen=True)
class Derivation:
    """The symbolic accounting of one architecture: built once, evaluated for many configs."""

    name: str
    params: Step
    buffers: Step
    forward: Step
    active_params: Step | None = None  # mixture of experts: parameters one token passes through
    window: str = "full"  # the sliding-window convention the forward tree follows (WINDOW_CONVENTIONS)

    @property
    def group_labels(self) -> dict[str, str]:
        """Labels of this derivation's forward-FLOP groups, in display order."""
        order = ("attention_projections", "attention_scores", "router", "ffn", "lm_head")
        labels = {g: {**GROUP_LABELS, **EXTRA_GROUP_LABELS}[g] for g in order}
        ffn_title = self.forward.find("forward.block.ffn").title if self.forward_groups.get("ffn") is not None \
            else ""
        if ffn_title == "gelu_mlp":
            labels["ffn"] = "feed-forward (GELU MLP)"
        elif ffn_title == "geglu_ffn":
            labels["ffn"] = "feed-forward (GeGLU)"
        elif "router" in self.forward_groups:
            labels["ffn"] = "feed-forward (active SwiGLU experts)"
            if self._has("forward.block.ffn.shared_expert"):
                labels["ffn"] = "feed-forward (shared + active experts)"
            if self._has("forward.block.ffn.shared_expert_gate"):
                labels["router"] = "MoE router and shared-expert gate"
        return {g: labels[g] for g in labels if g in self.forward_groups}

    def _has(self, key: str) -> bool:
        try:
            self.forward.find(key)
        except KeyError:
            return False
        return True

    @cached_property
    def forward_groups(self) -> dict[str, sympy.Expr]:
        """Symbolic per-group totals, summed once per Derivation rather than once per config."""
        return group_totals(self.forward)


def _ffn(opts: ArchOptions, dense: bool):
    return layers.dense_ffn(opts) if dense or opts.ffn != "moe" else layers.moe_ffn(opts)


BLOCK_TITLES = {"block": "transformer_block", "dense_block": "dense_transformer_block",
                "sliding_block": "sliding_window_block"}
# Each block kind totals under its own name, so a document can say which block it means.
BLOCK_TOTALS = {"block": "total_per_transformer_block", "dense_block": "total_per_dense_block",
                "sliding_block": "total_per_sliding_window_block"}


def _block(kind: str, name: str, opts: ArchOptions, band: Dim | None, dense: bool, active: bool | None) -> Step:
    """One Transformer block's params (active None: forward FLOPs): attention, FFN, then its norms."""
    attention, ffn = layers.attention(opts, band), _ffn(opts, dense)
    key = f"{kind}.{name}"
    if active is None:
        return total(key, BLOCK_TITLES[name], BLOCK_TOTALS[name],
                     [attention.flops(key, (B, S)), ffn.flops(key, (B, S))],
                     aliases=("block", "per_block", *(() if name == "block" else (name,))))
    ffn_params = ffn.params(key, active) if isinstance(ffn, MixtureOfExperts) else ffn.params(key)
    return total(key, BLOCK_TITLES[name], BLOCK_TOTALS[name], [
        attention.params(key), ffn_params, *(n.params(key) for n in layers.block_norms(opts)),
    ], aliases=("block", "per_block", *(("total_per_block",) if name == "block" else (name,))))


def _blocks(kind: str, opts: ArchOptions, window: str, active: bool | None) -> list[Step]:
    """The repeated blocks: dense-FFN layers first where a MoE model has them; with the band convention,
    sliding-window layers apart from full-attention ones (their attention counts only the band)."""
    band = band_pairs() if window == "band" and active is None and opts.sliding != "none" else None
    if opts.dense_layers:
        if band is not None and opts.sliding == "some":
            raise ValueError("the band convention would need to know which layers both slide and keep a dense FFN")
        return [repeat(f"{kind}.dense_blocks", "all_dense_blocks", L_DENSE,
                       _block(kind, "dense_block", opts, band, True, active)),
                repeat(f"{kind}.blocks", "all_moe_blocks", L_MOE, _block(kind, "block", opts, band, False, active))]
    if band is not None and opts.sliding == "some":
        return [repeat(f"{kind}.blocks", "all_full_attention_blocks", L_FULL,
                       _block(kind, "block", opts, None, False, active)),
                repeat(f"{kind}.sliding_blocks", "all_sliding_window_blocks", L_SWA,
                       _block(kind, "sliding_block", opts, band, False, active))]
    return [repeat(f"{kind}.blocks", "all_transformer_blocks", L, _block(kind, "block", opts, band, False, active))]


def _embeddings(opts: ArchOptions) -> list[Embedding]:
    out = [Embedding("token_embedding", "token_embedding", V, D, "token embedding table", "embedding lookup",
                     ("token_embedding_lookup_table", "embedding", "embeddings", "wte", "embed_tokens"),
                     ("token_embedding_lookup_table", "embedding"))]
    if opts.positions == "learned":
        out.append(Embedding("position_embedding", "position_embedding", T, D, "learned position embedding table",
                             "position embedding lookup", ("wpe", "pos_embedding"), ("wpe",)))
    return out


def _lm_head(opts: ArchOptions) -> Step:
    if opts.lm_head_bias:  # Phi: lm_head = Linear(d_model, vocab_size, bias=True)
        if opts.tie_embeddings:
            return vector("params.lm_head", "lm_head.bias", V, "bias of the output projection (weight tied)")
        return linear("lm_head", D, V, "output projection to vocabulary logits (untied)", "lm_head", True,
                      ("output_embedding", "unembedding")).params("params")
    if opts.tie_embeddings:
        return Step("params.lm_head", "lm_head", kind="lookup", description="output projection, tied to the token "
                    "embedding", note="tied to token_embedding: counted once", aliases=("output_embedding",))
    return weight("params.lm_head", "lm_head", D, V, "output projection to vocabulary logits (untied)",
                  ("output_embedding", "unembedding"))


def _rope_tables(opts: ArchOptions) -> list[Step]:
    """The homework's convention: one cos/sin pair of context_length x d_k per block."""
    if opts.positions != "rope":
        return []
    width = rotary_width(opts) if opts.partial_rotary or opts.attention == "mla" or opts.explicit_head_dim else DK
    return [repeat("buffers.blocks", "all_rope_buffers", L, Step(
        "buffers.block.rope", "rope_cos_sin_tables", factors=(TWO, T, width), shapes=((T, width), (T, width)),
        kind="buffer", description=f"RoPE cos and sin tables, context_length x {width.name} each, one pair per "
                                   "block", note="buffers, not trainable parameters",
        aliases=("rope", "cos_and_sin_cache", "rope_cache", "cos_sin_cache", "rotary")))]


def _model_buffers(opts: ArchOptions) -> list[Step]:
    """The buffers transformers' implementation registers (non-persistent, not parameters)."""
    out: list[Step] = []
    if opts.rope_sets:
        freqs = half(rotary_width(opts), opts.odd_rotary)
        sets = (Dim("2 (one per attention type)", sympy.Integer(2), "2"),) if opts.rope_sets == 2 else ()
        where = " (one per layer type present)" if sets else ""
        for name, what in (("inv_freq", "rotary inverse frequencies, one per rotated pair"),
                           ("original_inv_freq", "copy of inv_freq kept for dynamic RoPE scaling")):
            out.append(Step(f"buffers.{name}", name, factors=(*sets, freqs), shapes=((freqs,),), kind="buffer",
                            description=what + where, note="a buffer, not a trainable parameter",
                            aliases=("rope", "rotary")))
    if opts.embed_scale:
        out.append(Step("buffers.embed_scale", "embed_scale", factors=(ONE,), shapes=((ONE,),), kind="buffer",
                        description="the sqrt(d_model) the embedding is multiplied by, held as a scalar tensor"))
    if opts.router_score_bias:
        times = L_MOE if opts.dense_layers else L
        out.append(repeat("buffers.moe_blocks", "all_score_correction_biases", times, Step(
            "buffers.block.e_score_correction_bias", "e_score_correction_bias", factors=(NE,), shapes=((NE,),),
            kind="buffer", description="per-expert bias added to the routing scores (load balancing without an "
                                       "auxiliary loss), updated outside backprop")))
    return out


def build(opts: ArchOptions = ArchOptions(), window: str = "full") -> Derivation:
    """Compose the derivation of a decoder-only LM from its components; cached per option set and window
    convention (one Derivation object each). ValueError for a combination the convention cannot count."""
    return _build(opts, window)


@lru_cache(maxsize=None)
def _build(opts: ArchOptions, window: str) -> Derivation:
    embeddings = _embeddings(opts)

    def params_tree(active: bool) -> Step:
        key, title = ("active_params", "active_parameters_per_token") if active else ("params", "parameters")
        return total(key, title, "total_active_parameters" if active else "total_parameters", [
            *(e.params() for e in embeddings),
            *_blocks("params", opts, window, active),
            layers.final_norm(opts).params("params"),
            _lm_head(opts),
        ], aliases=("total_params", "total", "parameters", "trainable_parameters"))

    buffer_steps = _model_buffers(opts) if opts.buffers == "model" else _rope_tables(opts)
    buffers = total("buffers", "non_trainable_buffers", "total_buffers", buffer_steps)
    forward = total("forward", "forward_pass", "total_forward_flops", [
        *(e.flops() for e in embeddings),
        *_blocks("forward", opts, window, None),
        matmul("forward.lm_head", "lm_head", (B, S, D), (D, V), group="lm_head",
               description="output projection to vocabulary logits"),
    ], aliases=("total_matrix_multiply_flops", "total_flops", "forward_flops", "total"))

    name = "assignment" if opts.is_assignment else "custom"
    active = params_tree(True) if opts.ffn == "moe" else None
    return Derivation(name, params_tree(False), buffers, forward, active, window)


def assignment() -> Derivation:
    """Pre-norm LM: RMSNorm, causal MHA with RoPE, SwiGLU, final RMSNorm, untied lm_head, no biases."""
    return build(ArchOptions())


ARCHITECTURES = {"assignment": assignment}


def derivation(name: str = "assignment") -> Derivation:
    return ARCHITECTURES[name]()


def derivation_for(config, window: str = "full") -> Derivation:
    """The derivation of a config's architecture (built once per distinct set of options and convention)."""
    return build(config.arch, window)
