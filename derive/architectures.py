"""Architectures as compositions of components; each builds its Step trees once, from symbols only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy

from . import symbols as sy
from .components import Linear, lookup, matmul, repeat, total, vector, weight
from .steps import Dim, Step, group_totals

# Forward-FLOP groups whose shares the sheets report, in display order.
GROUP_LABELS: dict[str, str] = {
    "attention_projections": "attention projections (q, k, v, o)",
    "attention_scores": "attention scores + weighted sum",
    "ffn": "feed-forward (SwiGLU)",
    "lm_head": "lm_head (output projection)",
}

V = Dim.of(sy.V, "V")
T = Dim.of(sy.T, "T")
L = Dim.of(sy.L, "L")
D = Dim.of(sy.d, "d")
H = Dim.of(sy.h, "h")
DFF = Dim.of(sy.d_ff, r"d_{\mathrm{ff}}")
B = Dim.of(sy.B, "B")
S = Dim.of(sy.S, "S")
DK = Dim("d_k", sy.d / sy.h, "d_k")


@dataclass(frozen=True)
class Derivation:
    """The symbolic accounting of one architecture: built once, evaluated for many configs."""

    name: str
    params: Step
    buffers: Step
    forward: Step

    @cached_property
    def forward_groups(self) -> dict[str, sympy.Expr]:
        """Symbolic per-group totals, summed once per Derivation rather than once per config."""
        return group_totals(self.forward)


def _assignment_layers() -> tuple[list[Linear], list[Linear]]:
    attn = [
        Linear("q_proj", D, D, "query projection", "attention_projections", ("wq", "q", "query")),
        Linear("k_proj", D, D, "key projection", "attention_projections", ("wk", "k", "key")),
        Linear("v_proj", D, D, "value projection", "attention_projections", ("wv", "v", "value")),
        Linear("o_proj", D, D, "output projection", "attention_projections",
               ("wo", "output_proj", "out_proj")),
    ]
    ffn = [
        Linear("w1", D, DFF, "SwiGLU gate projection W1 (input to SiLU)", "ffn",
               ("gate_proj", "w1_proj", "gate")),
        Linear("w3", D, DFF, "SwiGLU linear projection W3 (multiplies the gate)", "ffn",
               ("up_proj", "signal_proj", "signal_projection", "w3_proj")),
        Linear("w2", DFF, D, "SwiGLU down projection W2", "ffn", ("down_proj", "w2_proj", "down")),
    ]
    return attn, ffn


@lru_cache(maxsize=None)
def assignment() -> Derivation:
    """Pre-norm LM: RMSNorm, causal MHA with RoPE, SwiGLU, final RMSNorm, untied lm_head, no biases."""
    attn, ffn = _assignment_layers()
    blk = "block"

    params = total("params", "parameters", "total_parameters", [
        weight("params.token_embedding", "token_embedding", V, D, "token embedding table",
               ("token_embedding_lookup_table", "embedding", "embeddings", "wte", "embed_tokens")),
        repeat("params.blocks", "all_transformer_blocks", L, total(
            f"params.{blk}", "transformer_block", "total_per_transformer_block", [
                total(f"params.{blk}.attention", "causal_multi_head_attention", "total_attention",
                      [lin.params(f"params.{blk}.attention") for lin in attn],
                      aliases=("attention", "attn", "multi_head_attention")),
                total(f"params.{blk}.ffn", "swiglu_ffn", "total_ffn",
                      [lin.params(f"params.{blk}.ffn") for lin in ffn], aliases=("ffn", "feed_forward", "mlp")),
                vector(f"params.{blk}.attn_norm", "attn_rms_norm", D, "RMSNorm weight before attention",
                       ("ln1", "norm1", "rms_norm_1")),
                vector(f"params.{blk}.ffn_norm", "ffn_rms_norm", D, "RMSNorm weight before the FFN",
                       ("ln2", "norm2", "rms_norm_2")),
            ], aliases=("block", "per_block", "total_per_block"))),
        vector("params.final_norm", "final_rms_norm", D, "final RMSNorm weight", ("ln_final", "final_norm", "norm")),
        weight("params.lm_head", "lm_head", D, V, "output projection to vocabulary logits (untied)",
               ("output_embedding", "unembedding")),
    ], aliases=("total_params", "total", "parameters", "trainable_parameters"))

    buffers = total("buffers", "non_trainable_buffers", "total_buffers", [
        repeat("buffers.blocks", "all_rope_buffers", L, Step(
            f"buffers.{blk}.rope", "rope_cos_sin_tables", factors=(Dim.const(2), T, DK), shapes=((T, DK), (T, DK)),
            kind="buffer", description="RoPE cos and sin tables, context_length x d_k each, one pair per block",
            note="buffers, not trainable parameters",
            aliases=("rope", "cos_and_sin_cache", "rope_cache", "cos_sin_cache", "rotary"))),
    ])

    tokens = (B, S)
    heads = (B, H, S)
    q, k, v, o = (lin.flops(f"forward.{blk}.attention", tokens) for lin in attn)
    forward = total("forward", "forward_pass", "total_forward_flops", [
        lookup("forward.token_embedding", "token_embedding", "embedding lookup",
               ("token_embedding_lookup_table", "embedding")),
        repeat("forward.blocks", "all_transformer_blocks", L, total(
            f"forward.{blk}", "transformer_block", "total_per_transformer_block", [
                total(f"forward.{blk}.attention", "causal_multi_head_attention", "total_attention", [
                    q, k, v,
                    matmul(f"forward.{blk}.attention.scores", "attention_scores", (*heads, DK), (B, H, DK, S),
                           group="attention_scores", description="scores Q K^T per head (full square)",
                           aliases=("qk", "qkt", "q_kt", "scores", "attention_score")),
                    matmul(f"forward.{blk}.attention.weighted_sum", "attention_output", (*heads, S), (B, H, S, DK),
                           group="attention_scores", description="attention-weighted sum of values (softmax(QK^T) V)",
                           aliases=("weighted_sum", "attention_values", "attn_v", "attention_weighted_values")),
                    o,
                ], aliases=("attention", "attn")),
                total(f"forward.{blk}.ffn", "swiglu_ffn", "total_ffn",
                      [lin.flops(f"forward.{blk}.ffn", tokens) for lin in ffn], aliases=("ffn", "mlp")),
            ], aliases=("block", "per_block"))),
        matmul("forward.lm_head", "lm_head", (B, S, D), (D, V), group="lm_head",
               description="output projection to vocabulary logits"),
    ], aliases=("total_matrix_multiply_flops", "total_flops", "forward_flops", "total"))

    return Derivation("assignment", params, buffers, forward)


ARCHITECTURES = {"assignment": assignment}


def derivation(name: str = "assignment") -> Derivation:
    return ARCHITECTURES[name]()
