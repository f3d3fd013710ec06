"""The model-accounting sheet: any architecture, parameters (total and active), buffers, memory, forward FLOPs."""

from __future__ import annotations

from typing import Any, Mapping

from ...accounting.account import account, window_note
from ...errors import UsageError
from ...model.config import ModelConfig
from ..formatting import expr_latex, expr_text, tree_lines
from ..prose import Line, Prose
from .common import CONVENTIONS, GENERIC_SHEET, accounting_context, used_symbols

LAYOUT = {"pre": "Pre-norm", "sandwich": "Sandwich-norm (norms before and after attention and the FFN)",
          "post": "Post-norm (norms on the outputs of attention and the FFN, none before them)",
          "shared": "Parallel-block (one norm feeding attention and the FFN)"}


def _attention(c: ModelConfig) -> str:
    if c.attention == "mla":
        q = (f"queries compressed to q_lora_rank = {c.q_lora_rank:,} then expanded" if c.q_lora_rank is not None
             else "queries projected directly")
        return (f"multi-head latent attention ({c.num_heads} heads; {q}; keys and values expanded from a "
                f"kv_lora_rank = {c.kv_lora_rank:,} latent, plus one RoPE key of qk_rope_head_dim = "
                f"{c.qk_rope_head_dim} shared by all heads; q/k head width qk_nope_head_dim + qk_rope_head_dim = "
                f"{c.d_k}, value head width v_head_dim = {c.v_head_dim})")
    if c.kv_heads == 1 and c.num_heads > 1:
        kind = f"multi-query attention (all {c.num_heads} query heads share 1 key/value head"
    elif c.kv_heads != c.num_heads:
        kind = f"grouped-query attention ({c.num_heads} query heads share {c.kv_heads} key/value heads"
    else:
        return "causal multi-head attention"
    width = "num_kv_heads * head_dim" if c.head_dim is not None else "num_kv_heads * d_k = d_kv"
    return f"{kind}; k and v project to {width})"


def _projections(c: ModelConfig) -> str:
    if c.attention == "mla":
        q = "q_a_proj, q_b_proj (with an RMSNorm between)" if c.q_lora_rank is not None else "q_proj"
        return (f"{q}, kv_a_proj_with_mqa, kv_b_proj (with an RMSNorm on the latent) and o_proj projections"
                + ("; a learned attention-sink logit per head" if c.attention_sinks else ""))
    out = "q, k, v projections fused in one matrix (qkv_proj) and an o projection" if c.fused_qkv \
        else "q, k, v, o projections"
    if c.qk_norm == "head":
        out += f"; {'LayerNorm' if c.norm == 'layernorm' else 'RMSNorm'} on each query and key head (q_norm, k_norm)"
    elif c.qk_norm == "full":
        out += "; RMSNorm over all query heads and all key heads together (q_norm, k_norm)"
    if c.attention_sinks:
        out += "; a learned attention-sink logit per head"
    return out


def _ffn(c: ModelConfig) -> str:
    gate_up = " (W1 and W3 fused in one gate_up_proj matrix)" if c.fused_gate_up else ""
    if c.ffn == "gelu":
        return "GELU MLP (d_model -> d_ff -> d_model)"
    if c.ffn in ("swiglu", "geglu"):
        name, unit = ("SwiGLU", "SiLU") if c.ffn == "swiglu" else ("GeGLU", "GELU")
        text = f"{name} feed-forward (W1, W3: d_model -> d_ff; W2: d_ff -> d_model)"
        return text if c.ffn == "swiglu" and not gate_up else f"{text}{gate_up}, W1 gated by {unit}"
    width = f" of width d_ff_expert = {c.d_ff_expert:,}" if c.d_ff_expert is not None else ""
    bias = " with biases" if c.expert_bias or c.bias else ""
    text = (f"mixture of experts: a router (d_model x n_experts){' with a bias' if c.router_bias else ''} and "
            f"{c.n_experts} SwiGLU experts{width}{bias}, {c.experts_per_token} per token")
    if c.d_ff_shared is not None:
        gate = " behind a sigmoid gate (Linear(d_model, 1))" if c.shared_expert_gate else ""
        text += f", plus a shared expert of width d_ff_shared = {c.d_ff_shared:,} every token passes through{gate}"
    if c.dense_layers:
        text += (f"; {c.dense_layers} of the {c.num_layers} layers keep a dense SwiGLU feed-forward of width d_ff "
                 "instead")
    return text


def _positions(c: ModelConfig) -> str:
    if c.positions == "learned":
        return "learned position embeddings (context_length x d_model)"
    if c.positions == "alibi":
        return "ALiBi attention biases (no position parameters)"
    if c.rotary_dim is not None:
        return f"RoPE on rotary_dim = {c.rotary_dim} of each head's {c.d_k} dimensions (no position parameters)"
    if c.attention == "mla":
        return "RoPE on the qk_rope_head_dim part of each query and of the shared key (no position parameters)"
    return "RoPE (no position parameters)"


def _biases(c: ModelConfig) -> str:
    if c.bias:
        text = "biases on every linear layer"
    elif c.attention_bias and c.mlp_bias:
        text = "biases on q, k, v, o and the FFN"
    elif c.attention_bias:
        text = "biases on q, k, v and o" + (" (q_a, kv_a and o in latent attention)" if c.attention == "mla" else "")
    elif c.qkv_bias:
        text = "biases on q, k, v only"
    elif c.mlp_bias:
        text = "biases on the FFN only"
    else:
        text = "no biases"
    if c.lm_head_bias:
        text += " and on lm_head"
    if c.norm == "layernorm" and not c.norm_bias:
        text += "; LayerNorms without bias"
    return text


def _active_what(c: ModelConfig) -> tuple[str, str]:
    """What the active parameters hold, for the sheet's heading (text, LaTeX)."""
    if c.d_ff_shared is None and not c.dense_layers:
        return "the router and k of E experts in every layer", "router and $k$ of $E$ experts per layer"
    shared = ", the shared expert" if c.d_ff_shared is not None else ""
    dense = "; dense-FFN layers whole" if c.dense_layers else ""
    return (f"the router{shared} and k of E experts in every MoE layer{dense}",
            f"router{shared} and $k$ of $E$ experts per MoE layer{dense}")


def architecture_sentences(c: ModelConfig) -> list[Prose | str]:
    """The architecture in words, from the config's options (what the generic sheet says it assumed)."""
    norm = "LayerNorm (weight and bias)" if c.norm == "layernorm" and c.norm_bias else \
        "LayerNorm (weight only)" if c.norm == "layernorm" else "RMSNorm (weight only)"
    layout = LAYOUT[c.block_norms] + (", parallel attention and FFN (their outputs are added to the block input)"
                                      if c.residual == "parallel" and c.block_norms != "shared" else "")
    head = "lm_head tied to the token embedding" if c.tie_embeddings else "untied lm_head"
    if c.attention == "mla":
        widths = "The heads' widths are their own sizes (above)."
    elif c.head_dim is not None:
        widths = (f"head_dim = {c.head_dim} is given (q: num_heads * head_dim = {c.num_heads * c.head_dim:,}, "
                  f"k and v: num_kv_heads * head_dim = {c.kv_heads * c.head_dim:,}; d_model = {c.d_model:,}).")
    else:
        widths = "d_k = d_model / num_heads."
    out: list[Prose | str] = [Prose(
        f"{layout} decoder-only Transformer LM: {norm}; {_attention(c)} with {_projections(c)}; {_ffn(c)}; "
        f"{_positions(c)}; {_biases(c)}; final norm; {head}. {widths} d_ff: ", Line(c.d_ff_source), ".")]
    if c.sliding_layers:
        which = "Every layer uses" if c.sliding_layers == c.num_layers else \
            f"{c.sliding_layers} of the {c.num_layers} layers use"
        out.append(f"{which} sliding-window attention over the last sliding_window = {c.sliding_window:,} tokens.")
    if c.buffers == "model":
        out.append("Buffers are listed as the reference implementation (transformers) registers them.")
    if c.hf_defaults:
        pairs = (d.partition("=") for d in c.hf_defaults)
        fields = ", ".join(f"{k.strip()} (default {v.strip()})" for k, _, v in pairs)
        out.append(f"Fields missing from the config.json were read with transformers' defaults: {fields}.")
    return out


def generic_conventions(configs: list[ModelConfig], window: str = "full") -> list[str]:
    out = [c for c in CONVENTIONS if "lm_head is untied" not in c]
    if any(c.buffers == "model" for c in configs):
        model = ("Buffers of a Hugging Face model are the ones its transformers implementation registers (for "
                 "RoPE: inv_freq and original_inv_freq, rotary_dim / 2 elements each, not the homework's per-block "
                 "cos/sin tables); never added to the parameter count.")
        if all(c.buffers == "model" for c in configs):
            out = [model if c.startswith("RoPE cos/sin tables") else c for c in out]
        else:
            out.append(model)
    out.append("Biases add parameters but no counted FLOPs (the add is element-wise).")
    out.append("A tied lm_head is counted once in the parameters; its matmul is still counted in the FLOPs.")
    if any(c.ffn == "moe" for c in configs):
        shared = any(c.d_ff_shared is not None for c in configs)
        out.append("Mixture of experts: total parameters hold every expert; active parameters per token hold the "
                   "router" + (", the shared expert" if shared else "") + " and k experts; forward FLOPs count "
                   "the router" + (", the shared expert" if shared else "") + " and the k experts each token is "
                   "sent to.")
    if any(c.sliding_layers for c in configs):
        from ...model.architectures import WINDOW_CONVENTIONS

        out.append(f"Window convention {window}: {WINDOW_CONVENTIONS[window]}.")
    return out


def model_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any], window: str = "full"
                     ) -> dict[str, Any]:
    """Any architecture: parameters (total and active), buffers, memory, forward FLOPs and their breakdown."""
    if not configs:
        raise UsageError(f"--sheet {GENERIC_SHEET}: give at least one CONFIG")
    models, accs = [], []
    for c in configs:
        acc = account(c, window=window)
        accs.append(acc)
        ctx = accounting_context(acc)
        ctx["architecture"] = architecture_sentences(c)
        note = window_note(acc)
        if note:
            ctx["architecture"].append(note)
        ctx["options"] = c.listed_options()
        if acc.active_params is not None:
            ctx["active_lines"] = tree_lines(acc.active_params)
            ctx["active_params"] = acc.active_params.value
            ctx["active_closed_text"] = expr_text(acc.derivation.active_params.expr)
            ctx["active_closed_tex"] = expr_latex(acc.derivation.active_params.expr)
            ctx["active_what"], ctx["active_what_tex"] = _active_what(c)
        else:
            ctx["active_lines"] = None
        models.append(ctx)
    names, derived = used_symbols(accs)
    return {"title": "Model resource accounting", "models": models,
            "conventions": generic_conventions(configs, window), "symbol_names": names, "derived_dims": derived}
