"""What a FLOP convention needs to know about a model, read from derive's trees (or given as numbers).

Conventions are written in a handful of quantities: N (a parameter count, counted differently by each source),
H (query heads), Q (head dimension), the key/value heads, how many FFN matrices read the residual stream.
`facts_of(derivation)` reads them from the Derivation's Step trees, never from a config, so a convention applies
to every architecture derive builds, and follows the trees when an architecture changes (an explicit head_dim, a
new component). `Facts.given(...)` takes them as numbers, for a published figure whose model derive cannot build.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy

from ...model import symbols as sy
from ...model.architectures import Derivation
from ...model.steps import Step

# How each source counts N. Keys are what conventions name in `Convention.params`.
PARAM_COUNTS: dict[str, str] = {
    "all": "all trainable parameters (for a mixture of experts: the parameters active per token)",
    "non_embedding": "trainable parameters without the token and position embedding tables and an untied "
                     "lm_head (Kaplan et al. 2020, Section 2.1: 'excluding all vocabulary and positional "
                     "embeddings')",
    "minus_position_embedding": "trainable parameters minus the position embedding table (nanoGPT "
                                "`get_num_params(non_embedding=True)`; it keeps the token table because nanoGPT "
                                "ties it to lm_head)",
    "torchtitan": "trainable parameters minus every nn.Embedding table, unless the lm_head is tied to the "
                  "token table (torchtitan `get_dense_model_nparams_and_flops`)",
}


@dataclass(frozen=True)
class Facts:
    """The model quantities conventions are written in (sympy expressions in derive's symbols, or numbers).

    params: P, trainable parameters (active per token for a mixture of experts), in parameters;
    token_embedding / position_embedding: the lookup tables' parameters (0 when absent);
    lm_head: parameters of an untied lm_head (0 when tied); heads: H, query heads; head_dim: Q, the width of one
    query/key head; kv_heads: key/value heads; ffn_inputs: FFN matrices that read d_model (SwiGLU 2, GELU MLP 1);
    moe: the FFN is a mixture of experts (router over E experts, k per token); tied: lm_head shares the token table.
    """

    params: sympy.Expr
    token_embedding: sympy.Expr
    position_embedding: sympy.Expr
    lm_head: sympy.Expr
    heads: sympy.Expr
    head_dim: sympy.Expr
    kv_heads: sympy.Expr
    ffn_inputs: int
    moe: bool = False
    tied: bool = False

    def n(self, kind: str) -> sympy.Expr:
        """N as the named source counts it (a key of PARAM_COUNTS); KeyError for an unknown kind."""
        tables = self.token_embedding + self.position_embedding
        return {
            "all": self.params,
            "non_embedding": self.params - tables - self.lm_head,
            "minus_position_embedding": self.params - self.position_embedding,
            "torchtitan": self.params if self.tied else self.params - tables,
        }[kind]

    @property
    def d_attn(self) -> sympy.Expr:
        """Width of all query heads together, H * Q (Kaplan's d_attn; Chinchilla's key_size * num_heads)."""
        return self.heads * self.head_dim

    @classmethod
    def given(cls, params: int, heads: int, head_dim: int, *, kv_heads: int | None = None,
              token_embedding: int = 0, position_embedding: int = 0, lm_head: int = 0, ffn_inputs: int = 2,
              moe: bool = False, tied: bool = True) -> "Facts":
        """Facts as published numbers (e.g. PaLM 540B: N = 540.35B, H = 48, Q = 256), all exact integers."""
        return cls(*(sympy.Integer(v) for v in (params, token_embedding, position_embedding, lm_head, heads,
                                                 head_dim, heads if kv_heads is None else kv_heads)),
                   ffn_inputs=ffn_inputs, moe=moe, tied=tied)


def _find(root: Step, key: str) -> Step | None:
    try:
        return root.find(key)
    except KeyError:
        return None


def _first_leaf(root: Step, group: str, suffix: str = "") -> Step | None:
    for leaf, _ in root.leaves_with_multiplier():
        if leaf.kind == "matmul" and leaf.group == group and leaf.key.endswith(suffix):
            return leaf
    return None


@lru_cache(maxsize=None)
def facts_of(d: Derivation) -> Facts:
    """Facts read from the Derivation's trees: parameters from the parameter tree, heads and head dimension from
    the shapes of the first attention-score matmul (B, H, S, Q) @ (B, H, Q, S), key/value heads from the width of
    k_proj, FFN inputs from the FFN matmuls whose right operand has d_model rows. ValueError if the forward tree
    has no attention-score matmul (conventions are written for attention models)."""
    scores = _first_leaf(d.forward, "attention_scores")
    if scores is None:
        raise ValueError(f"{d.name}: no attention-score matmul in the forward tree")
    left = scores.shapes[0]
    heads, head_dim = left[-3].expr, left[-1].expr
    k_proj = _first_leaf(d.forward, "attention_projections", ".k_proj")
    kv_heads = sympy.cancel(k_proj.shapes[1][-1].expr / head_dim) if k_proj is not None else heads
    ffn_inputs = sum(1 for leaf, _ in d.forward.leaves_with_multiplier()
                     if leaf.kind == "matmul" and leaf.group == "ffn" and leaf.shapes[1][-2].expr == sy.d)
    lm_head = d.params.find("params.lm_head")
    position = _find(d.params, "params.position_embedding")
    active = d.active_params or d.params
    return Facts(
        params=active.expr,
        token_embedding=d.params.find("params.token_embedding").expr,
        position_embedding=position.expr if position is not None else sympy.Integer(0),
        lm_head=sympy.Integer(0) if lm_head.kind == "lookup" else lm_head.expr,
        heads=heads, head_dim=head_dim, kv_heads=kv_heads, ffn_inputs=ffn_inputs,
        moe="router" in d.forward_groups, tied=lm_head.kind == "lookup",
    )
