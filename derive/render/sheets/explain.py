"""Sentences that explain a sheet's numbers, each chosen from the rows it explains.

A sentence that holds only under a condition (the share of attention scores falls with model size only at one
context length, and only when the models widen) is printed when the rows meet it; otherwise the sheet says what
does hold, with the per-block ratio derived from the symbolic FLOP groups. The architecture words and the
conventions follow the configs' options, so a handout with another model (2024: GELU, learned positions, tied
embeddings) is described as it is.
"""

from __future__ import annotations

import sympy

from ...accounting.account import Accounting
from ...accounting.editions import TransformerProblem
from ...model import symbols as sy
from ...model.architectures import build
from ...model.config import ArchOptions, ModelConfig
from ..formatting import expr_text, fmt_int
from ..prose import Data, Prose
from .common import CONVENTIONS, sheet_text

SHEET = "transformer-accounting"


def architecture_text(arch: ArchOptions) -> str:
    """The model in words, in the order of the assignment sheet's own description."""
    norm = "LayerNorm (weight and bias)" if arch.norm == "layernorm" else "RMSNorm (weight only)"
    pos = " and RoPE" if arch.positions == "rope" else ""
    ffn = {"swiglu": "SwiGLU feed-forward (W1, W3: d_model -> d_ff; W2: d_ff -> d_model)",
           "gelu": "GELU feed-forward (W1: d_model -> d_ff; W2: d_ff -> d_model)",
           "moe": "mixture-of-experts feed-forward"}[arch.ffn]
    positions = "; learned absolute position embeddings (context_length x d_model)" if arch.positions == "learned" else ""
    bias = "biases on every linear layer" if arch.bias else "biases on q, k, v only" if arch.qkv_bias else "no biases"
    head = "lm_head tied to the token embedding" if arch.tie_embeddings else "untied lm_head"
    final = "LayerNorm" if arch.norm == "layernorm" else "RMSNorm"
    return (f"Architecture: pre-norm decoder-only Transformer LM; {norm}; causal multi-head attention with separate "
            f"q, k, v, o projections{pos}{positions}; {ffn}; {bias}; final {final}; {head}. "
            f"d_k = d_model / num_heads.")


def architecture_words(arch: ArchOptions) -> str:
    """The model in a parenthesis, as the AdamW sheet names the assignment architecture."""
    norm = "LayerNorm" if arch.norm == "layernorm" else "RMSNorm"
    pos = "RoPE" if arch.positions == "rope" else "learned position embeddings"
    ffn = {"swiglu": "SwiGLU", "gelu": "GELU", "moe": "mixture-of-experts"}[arch.ffn]
    head = "lm_head tied to the token embedding" if arch.tie_embeddings else "untied lm_head"
    bias = "biases" if arch.bias else "q, k, v biases" if arch.qkv_bias else "no biases"
    return (f"pre-norm, {norm}, causal multi-head attention with {pos}, {ffn} feed-forward, {head}, {bias}")


def conventions_for(config: ModelConfig) -> tuple[str, ...]:
    """The conventions every sheet prints, worded for the config's architecture (the assignment's as they are)."""
    arch = config.arch
    if arch.is_assignment:
        return CONVENTIONS
    norm = "LayerNorm" if arch.norm == "layernorm" else "RMSNorm"
    act = {"swiglu": "SiLU", "gelu": "GELU", "moe": "SiLU"}[arch.ffn]
    rope = ", RoPE" if arch.positions == "rope" else ""
    out = [CONVENTIONS[0],
           f"Only matrix multiplies are counted; element-wise work ({norm}{rope}, {act}, softmax, residuals) is not.",
           "The embedding lookups are indexing, not matmuls: 0 FLOPs." if arch.positions == "learned" else CONVENTIONS[2],
           CONVENTIONS[3]]
    if arch.positions == "rope":
        out.append(CONVENTIONS[4])
    else:
        out.append("Learned position embeddings (context_length x d_model) are trainable parameters; there are no "
                   "RoPE tables.")
    out.append("lm_head is tied to the token embedding: its weights are counted once in the parameters, its matmul "
               "is counted in the FLOPs." if arch.tie_embeddings else CONVENTIONS[5])
    if arch.bias or arch.qkv_bias:
        out.append("Biases add parameters but no counted FLOPs (the add is element-wise).")
    out.append(CONVENTIONS[6])
    return tuple(out)


def family_heading(names: list[str], problem: TransformerProblem) -> str:
    """Part (d)'s heading: the edition's words for its own models, else the names of the configs given."""
    if problem.family_heading and sorted(names) == sorted(problem.family):
        return problem.family_heading
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def block_score_ratio(arch: ArchOptions) -> sympy.Expr:
    """Per block, attention-score FLOPs / (projection + feed-forward FLOPs), from the symbolic FLOP groups:
    2 seq_len / (4 d_model + 3 d_ff) for SwiGLU, seq_len / (2 d_model + d_ff) for a GELU MLP."""
    groups = build(arch).forward_groups
    ratio = groups["attention_scores"] / (groups["attention_projections"] + groups["ffn"])
    return sympy.factor(sympy.cancel(ratio))


def _strictly_falling(values: list) -> bool:
    return all(a > b for a, b in zip(values, values[1:]))


def scaling_text(accs: list[Accounting]) -> Prose | str:
    """Why the shares move with model size, for these rows (ordered by parameters).

    The sheet's general sentence says the score share falls as the model grows at a fixed context length; it
    is printed when the rows share one context length and their score share does fall. Otherwise the sentence
    says what the share depends on (the per-block ratio), and which context each model has."""
    ordered = sorted(accs, key=lambda a: a.total_params)
    contexts = {a.seq_len for a in ordered}
    scores = [a.shares["attention_scores"] for a in ordered]
    ratio = expr_text(block_score_ratio(ordered[0].config.arch).subs(sy.S, sy.T))
    lm_head = ("the lm_head grows only with d_model while everything in the blocks grows with num_layers too.")
    if len(contexts) == 1 and _strictly_falling(scores):
        return sheet_text(SHEET)["scaling"]
    if len(contexts) > 1:
        parts: list[str] = ["These models are compared at different context lengths ("]
        for i, a in enumerate(ordered):
            parts += [", " if i else "", Data(a.config.name), f" at {fmt_int(a.seq_len)}"]
        parts.append(f"), so their shares do not follow model size alone: in every block, attention-score FLOPs / "
                     f"(projection + feed-forward FLOPs) = {ratio} with seq_len = context_length, which grows with "
                     f"the context length and shrinks as d_model and d_ff grow (num_layers cancels); {lm_head}")
        return Prose(*parts)
    return Prose("At one context length the score share of a block depends only on its width: attention-score "
                 f"FLOPs / (projection + feed-forward FLOPs) = {ratio} (num_layers cancels), so here it follows "
                 f"d_model and d_ff, not the parameter count; {lm_head}")


def long_context_text(primary: ModelConfig, long_context: int) -> Prose | None:
    """None when part (e)'s context length is longer than the model's (the sheet's sentence holds); otherwise
    what the sheet shows instead."""
    if long_context > primary.context_length:
        return None
    return Prose(Data(primary.name), f" already has context_length {fmt_int(primary.context_length)}, at least the "
                 "length the question asks about, so the figures at that length are the ones above.")
