"""Answer sheets: each turns configs into a template context. Every figure comes from an Accounting."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping

from .accounting import DTYPE_BYTES, Accounting, account
from .architectures import GROUP_LABELS
from .config import ModelConfig, load_config
from .errors import UsageError
from .formatting import GB, GIB, expr_latex, expr_text, fmt_decimal, fmt_int, tree_lines

CONVENTIONS: tuple[str, ...] = (
    "1 multiply-accumulate = 2 FLOPs: an (m x k) @ (k x n) matmul costs 2mkn FLOPs, times any batch dimensions.",
    "Only matrix multiplies are counted; element-wise work (RMSNorm, RoPE, SiLU, softmax, residuals) is not.",
    "The embedding lookup is indexing, not a matmul: 0 FLOPs.",
    "Attention scores (Q K^T) and the weighted sum (softmax(.) V) are counted as the full square, "
    "as PyTorch's FlopCounterMode does, even though the mask is causal.",
    "RoPE cos/sin tables are non-trainable buffers: listed separately, never added to the parameter count.",
    "lm_head is untied from the token embedding, so both are counted.",
    "GB = 10^9 bytes and GiB = 2^30 bytes; both are shown.",
)

GPT2_FAMILY = ("gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl")
LONG_CONTEXT = 16_384  # part (e) of the problem asks about this context length


def pct(x: Fraction) -> str:
    return f"{float(x) * 100:.1f}%"


def bytes_summary(n: int) -> dict[str, str]:
    return {"bytes": fmt_int(n), "gb": fmt_decimal(Fraction(n, GB)), "gib": fmt_decimal(Fraction(n, GIB))}


def memory_context(acc: Accounting) -> list[dict[str, Any]]:
    rows = []
    for dtype in DTYPE_BYTES:
        node = acc.memory(dtype)
        rows.append({"dtype": dtype, "bytes_per_param": DTYPE_BYTES[dtype], "value": node.value,
                     **bytes_summary(node.value)})
    return rows


def ranking_sentence(acc: Accounting) -> str:
    ranked = sorted(acc.groups, key=lambda g: acc.groups[g], reverse=True)
    top = ranked[0]
    rest = ", ".join(f"{acc.group_label(g)} ({pct(acc.shares[g])})" for g in ranked[1:])
    return (f"The {acc.group_label(top)} matmuls need the most FLOPs: {fmt_int(acc.groups[top])} of "
            f"{fmt_int(acc.forward_flops)} ({pct(acc.shares[top])}); then {rest}.")


def trend_sentences(accs: list[Accounting]) -> list[str]:
    """Which shares grow and which shrink from the smallest to the largest model, from the numbers."""
    ordered = sorted(accs, key=lambda a: a.total_params)
    first, last = ordered[0], ordered[-1]
    out = []
    for g in GROUP_LABELS:
        series = [a.shares[g] for a in ordered]
        a, b = series[0], series[-1]
        verb = "grows" if b > a else "shrinks" if b < a else "stays"
        monotone = all(x < y for x, y in zip(series, series[1:])) or all(x > y for x, y in zip(series, series[1:]))
        how = " steadily" if monotone and len(series) > 2 else ""
        out.append(f"The share of {GROUP_LABELS[g]} {verb}{how} from {pct(a)} ({first.config.name}) "
                   f"to {pct(b)} ({last.config.name}).")
    return out


def share_rows(accs: list[Accounting]) -> list[dict[str, Any]]:
    return [{
        "name": a.config.name,
        "config": a.config,
        "params": a.total_params,
        "forward": a.forward_flops,
        "groups": {g: a.groups[g] for g in GROUP_LABELS},
        "shares": {g: pct(a.shares[g]) for g in GROUP_LABELS},
        "share_values": {g: float(a.shares[g]) for g in GROUP_LABELS},
    } for a in accs]


def matmul_rows(acc: Accounting) -> list[dict[str, Any]]:
    """Each distinct matmul with how often a forward pass runs it (num_layers times for block matmuls)."""
    rows = []
    for leaf, mult in acc.derivation.forward.leaves_with_multiplier():
        node = acc.forward.find(leaf.key)
        times = int(mult.xreplace({k: v for k, v in acc.subs.items()})) if mult != 1 else 1
        rows.append({
            "title": leaf.title, "description": leaf.description, "kind": leaf.kind,
            "shapes": " @ ".join("(" + ", ".join(str(v) for v in sh) + ")" for sh in node.shape_values),
            "flops": node.value, "times": times, "total": node.value * times,
            "share": pct(Fraction(node.value * times, acc.forward_flops)) if acc.forward_flops else "0%",
        })
    return rows


def accounting_context(acc: Accounting) -> dict[str, Any]:
    """Everything a sheet may show about one config."""
    d = acc.derivation
    return {
        "acc": acc,
        "config": acc.config,
        "batch_size": acc.batch_size,
        "seq_len": acc.seq_len,
        "params_lines": tree_lines(acc.params),
        "buffers_lines": tree_lines(acc.buffers),
        "forward_lines": tree_lines(acc.forward),
        "total_params": acc.total_params,
        "total_buffers": acc.buffers.value,
        "forward_flops": acc.forward_flops,
        "params_closed_text": expr_text(d.params.expr),
        "params_closed_tex": expr_latex(d.params.expr),
        "forward_closed_text": expr_text(d.forward.expr),
        "forward_closed_tex": expr_latex(d.forward.expr),
        "memory": memory_context(acc),
        "matmuls": matmul_rows(acc),
        "groups": [{"key": g, "label": acc.group_label(g), "flops": acc.groups[g], "share": pct(acc.shares[g])}
                   for g in acc.derivation.group_labels],
        "ranking": ranking_sentence(acc),
    }


def transformer_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for c in configs:
        if not c.arch.is_assignment:
            raise UsageError(f"--sheet transformer-accounting: {c.name} is not the assignment architecture "
                             f"(use --sheet {GENERIC_SHEET})")
    primary = configs[0] if configs else load_config("gpt2-xl", overrides)
    family = configs if len(configs) > 1 else [load_config(n, overrides) for n in GPT2_FAMILY]
    if primary.name not in {c.name for c in family}:
        family = [*family, primary]
    main = account(primary)
    family_accs = sorted((account(c) for c in family), key=lambda a: a.total_params)
    long_ctx = max(LONG_CONTEXT, primary.context_length)
    long = account(primary.replace(context_length=long_ctx, name=f"{primary.name} @ {long_ctx:,}"))
    factor = Fraction(long.forward_flops, main.forward_flops)
    shifts = []
    for g in GROUP_LABELS:
        a, b = main.shares[g], long.shares[g]
        verb = "rises" if b > a else "falls" if b < a else "stays"
        shifts.append(f"{GROUP_LABELS[g]}: {verb} from {pct(a)} to {pct(b)}.")
    ratio_tokens = Fraction(long_ctx, primary.context_length)
    return {
        "title": "Transformer LM resource accounting",
        "main": accounting_context(main),
        "family": share_rows(family_accs),
        "trends": trend_sentences(family_accs),
        "long": accounting_context(long),
        "long_context": long_ctx,
        "long_factor": fmt_decimal(factor, 2),
        "long_factor_tokens": fmt_decimal(ratio_tokens, 0),
        "long_shifts": shifts,
        "group_labels": GROUP_LABELS,
        **plot_context(primary, family_accs),
    }


def plot_context(primary: ModelConfig, family_accs: list[Accounting]) -> dict[str, Any]:
    """Chart data for parts (d) and (e); the crossover context length is solved symbolically."""
    from .plots import context_data, shares_data

    return {"shares_plot": shares_data(family_accs), "context_plot": context_data(primary)}


GENERIC_SHEET = "model-accounting"


def architecture_sentences(c: ModelConfig) -> list[str]:
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
    return [f"Pre-norm decoder-only Transformer LM: {norm}; {attn} with q, k, v, o projections; {ffn}; {pos}; "
            f"{bias}; final norm; {head}. d_k = d_model / num_heads. d_ff: {c.d_ff_source}."]


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
    models = []
    for c in configs:
        acc = account(c)
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
    return {"title": "Model resource accounting", "models": models, "conventions": generic_conventions(configs)}


@dataclass(frozen=True)
class Sheet:
    name: str
    title: str
    build: Callable[[list[ModelConfig], Mapping[str, Any]], dict[str, Any]]


SHEETS: dict[str, Sheet] = {
    "transformer-accounting": Sheet("transformer-accounting", "Transformer LM resource accounting",
                                    transformer_accounting),
    GENERIC_SHEET: Sheet(GENERIC_SHEET, "Model resource accounting", model_accounting),
}
DEFAULT_SHEET = "transformer-accounting"


def get_sheet(name: str) -> Sheet:
    try:
        return SHEETS[name]
    except KeyError:
        raise UsageError(f"--sheet: unknown sheet {name!r} (known sheets: {', '.join(SHEETS)})") from None


def _adamw_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    from .train_sheet import adamw_accounting  # imported late: it builds on this module's neighbours

    return adamw_accounting(configs, overrides)


SHEETS["adamw-accounting"] = Sheet("adamw-accounting", "AdamW training accounting", _adamw_accounting)
