"""The model-accounting sheet: any architecture, parameters (total and active), buffers, memory, forward FLOPs."""

from __future__ import annotations

from typing import Any, Mapping

from ...accounting.account import account
from ...errors import UsageError
from ...model.config import ModelConfig
from ..formatting import expr_latex, expr_text, tree_lines
from ..prose import Line, Prose
from .common import CONVENTIONS, GENERIC_SHEET, accounting_context, used_symbols


def architecture_sentences(c: ModelConfig) -> list[Prose]:
    """The architecture in words, from the config's options (what the generic sheet says it assumed)."""
    norm = "LayerNorm (weight and bias)" if c.norm == "layernorm" else "RMSNorm (weight only)"
    attn = (f"grouped-query attention ({c.num_heads} query heads share {c.kv_heads} key/value heads; k and v "
            f"project to num_kv_heads * d_k = d_kv)" if c.kv_heads != c.num_heads else "causal multi-head attention")
    ffn = {"swiglu": "SwiGLU feed-forward (W1, W3: d_model -> d_ff; W2: d_ff -> d_model)",
           "gelu": "GELU MLP (d_model -> d_ff -> d_model)",
           "moe": f"mixture of experts: a router (d_model x n_experts) and {c.n_experts} SwiGLU experts, "
                  f"{c.experts_per_token} per token"}[c.ffn]
    pos = "RoPE (no position parameters)" if c.positions == "rope" else "learned position embeddings (context_length x d_model)"
    bias = ("biases on every linear layer" if c.bias else
            "biases on q, k, v only" if c.qkv_bias else "no biases")
    head = "lm_head tied to the token embedding" if c.tie_embeddings else "untied lm_head"
    return [Prose(f"Pre-norm decoder-only Transformer LM: {norm}; {attn} with q, k, v, o projections; {ffn}; {pos}; "
                  f"{bias}; final norm; {head}. d_k = d_model / num_heads. d_ff: ", Line(c.d_ff_source), ".")]


def generic_conventions(configs: list[ModelConfig]) -> list[str]:
    out = [c for c in CONVENTIONS if "lm_head is untied" not in c]
    out.append("Biases add parameters but no counted FLOPs (the add is element-wise).")
    out.append("A tied lm_head is counted once in the parameters; its matmul is still counted in the FLOPs.")
    if any(c.ffn == "moe" for c in configs):
        out.append("Mixture of experts: total parameters hold every expert; active parameters per token hold the "
                   "router and k experts; forward FLOPs count the router and the k experts each token is sent to.")
    return out


def model_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Any architecture: parameters (total and active), buffers, memory, forward FLOPs and their breakdown."""
    if not configs:
        raise UsageError(f"--sheet {GENERIC_SHEET}: give at least one CONFIG")
    models, accs = [], []
    for c in configs:
        acc = account(c)
        accs.append(acc)
        ctx = accounting_context(acc)
        ctx["architecture"] = architecture_sentences(c)
        ctx["options"] = {k: v for k, v in c.arch_values().items() if v is not None or k == "num_kv_heads"}
        ctx["options"]["num_kv_heads"] = c.kv_heads
        if acc.active_params is not None:
            ctx["active_lines"] = tree_lines(acc.active_params)
            ctx["active_params"] = acc.active_params.value
            ctx["active_closed_text"] = expr_text(acc.derivation.active_params.expr)
            ctx["active_closed_tex"] = expr_latex(acc.derivation.active_params.expr)
        else:
            ctx["active_lines"] = None
        models.append(ctx)
    names, derived = used_symbols(accs)
    return {"title": "Model resource accounting", "models": models, "conventions": generic_conventions(configs),
            "symbol_names": names, "derived_dims": derived}
