"""Mixture-of-experts blocks' saved tensors: the router of each implementation, the routed experts over
k B S (token, expert) pairs as transformers' grouped_mm path computes them, the shared expert and its gate."""

from __future__ import annotations

from dataclasses import replace

from .dims import D, DFF, DFF_E, DFF_S, KE, NE, ONE, TWO, B, S
from .options import ArchOptions
from .saved import Profile, Saved, _out, ffn_saved

ROUTERS: dict[str, str] = {
    "topk_norm": "softmax(fp32) -> top-k -> divided by their sum; fp32 routing weights (Mixtral)",
    "topk": "softmax(fp32) -> top-k [-> divided by their sum with norm_topk_prob] -> cast to the compute dtype "
            "(Qwen-MoE)",
    "deepseek_v2": "fp32 router on an fp32 copy of the input, softmax [-> experts outside the best topk_group "
                   "groups masked (topk_method: group_limited_greedy)] -> top-k x routed_scaling_factor",
    "deepseek_v3": "fp32 router on an fp32 copy of the input, sigmoid -> grouped top-k -> gather [-> divided by "
                   "their sum with norm_topk_prob, the default] x routed_scaling_factor",
    "gpt_oss": "biased router, top-k of the logits, softmax over the k (compute dtype)",
}


def _router_saved(opts: ArchOptions, prof: Profile, kind: str, source: str) -> tuple[list[Saved], str]:
    """The router's saved tensors over N = B S tokens, and the dtype of the routing weights it hands on.

    The config's switches (transformers 5.24's routers): norm_topk_prob (Qwen2MoeTopKRouter, Qwen3MoeTopKRouter,
    DeepseekV3TopkRouter) divides the k weights by their sum, whose backward keeps both in fp32; DeepSeek-V2's
    topk_method group_limited_greedy masks the scores (masked_fill keeps its boolean mask, 1 byte per expert);
    DeepSeek-V3's grouped mask feeds only the top-k indices, so its node is freed and nothing of it is kept."""
    tokens = (B, S)
    if kind == "korthikanti":
        return [_out("router.probs", "router_probabilities", (*tokens, NE), description="router probabilities")], "act"
    idx = Saved("router.topk_index", "topk_indices", (*tokens, KE), "int64", "seq",
                description="indices of the k chosen experts (top-k / gather backward)")
    out: list[Saved] = []
    if prof.router in ("deepseek_v2", "deepseek_v3"):
        out.append(Saved("router.input", "router_input_fp32", (*tokens, D), "fp32", copy_of=source,
                         description="the router's input in fp32 (hidden_states.type(float32))"))
    if prof.router == "deepseek_v2" and opts.topk_method == "group_limited_greedy":
        out.append(Saved("router.group_mask", "group_mask", (*tokens, NE), "mask",
                         description="experts outside the best topk_group groups (masked_fill's boolean mask)"))
    if prof.router == "gpt_oss":
        return out + [idx, _out("router.topk_probs", "topk_softmax", (*tokens, KE),
                                description="softmax over the k top logits (the routing weights)")], "act"
    scores = "sigmoid scores" if prof.router == "deepseek_v3" else "softmax probabilities"
    out += [Saved("router.probs", "router_scores_fp32", (*tokens, NE), "fp32", description=f"router {scores}, fp32"),
            idx]
    if prof.router == "topk_norm" or (prof.router in ("topk", "deepseek_v3") and opts.norm_topk_prob):
        out += [Saved("router.topk_weights", "topk_weights_fp32", (*tokens, KE), "fp32",
                      description="the k weights before their normalisation (division backward)"),
                Saved("router.topk_sum", "topk_sum_fp32", (*tokens, ONE), "fp32",
                      description="their sum (division backward)")]
    return out, "act" if prof.router == "topk" else "fp32"


def _experts_saved(opts: ArchOptions, prof: Profile, kind: str, weights: str) -> list[Saved]:
    """Routed experts over the k B S (token, expert) pairs, as transformers' grouped_mm path computes them: tokens
    gathered and sorted by expert, one grouped matmul per projection, the outputs weighted and put back."""
    pairs = (KE, B, S)
    width = DFF_E if opts.expert_width else DFF
    f = (*pairs, width)
    out: list[Saved] = []
    if kind == "full":
        out += [Saved(f"experts.{n}", n, pairs, "int64", "pairs", description=d) for n, d in (
            ("token_index", "token of each sorted pair (perm // k): the gather's backward"),
            ("sort_index", "the sort permutation: the weights' gather backward"),
            ("inverse_index", "the inverse permutation that restores the pairs' order"))]
        if opts.expert_bias:
            out.append(Saved("experts.expert_index", "expert_ids", pairs, "int64", "pairs",
                             description="expert of each sorted pair (selects the biases)"))
        out.append(Saved("experts.offsets", "group_offsets", (NE,), "int32", "experts", 0,
                         description="cumulative pairs per expert (grouped_mm offs)"))
    out.append(Saved("experts.input", "expert_input", (*pairs, D), "act", "pairs",
                     description="tokens gathered per (token, expert) pair"))
    if kind == "full" and prof.router == "gpt_oss":  # clamp, sigmoid(alpha * gate) * gate, (up + 1) * glu
        out += [Saved("experts.gate_up", "gate_up_output", (*pairs, TWO, width), "act", "pairs", 4,
                      description="gate and up outputs, interleaved (clamp backward reads them)")]
        out += [Saved(f"experts.{n}", n, f, "act", "pairs", 3, description=d) for n, d in (
            ("gate_clamped", "clamped gate"), ("sigmoid", "sigmoid(alpha * gate)"), ("up_plus_one", "up + 1"),
            ("glu", "gate * sigmoid(alpha * gate)"), ("product", "(up + 1) * glu (down input)"))]
    else:
        out += [Saved("experts.gate_up", "gate_up_output", (*pairs, TWO, width), "act", "pairs", 4,
                      description="gate and up outputs (one grouped matmul)"),
                Saved("experts.act", "activation_output", f, "act", "pairs", 3, description="activation of the gate"),
                Saved("experts.product", "gated_product", f, "act", "pairs", 3, description="down input")]
    if kind == "full":
        out += [Saved("experts.output", "expert_output", (*pairs, D), "act", "pairs",
                      description="down projection output, multiplied by the routing weight"),
                Saved("experts.weights", "routing_weights", (*pairs, ONE), weights, "pairs",
                      description="routing weight of each sorted pair")]
    return out


def moe_saved(opts: ArchOptions, prof: Profile, kind: str, source: str) -> list[Saved]:
    """A mixture-of-experts feed-forward block reading tensor `source`: the router, the routed experts over k B S
    pairs (balanced routing: on average k B S pairs per device whatever the expert parallelism), the shared expert
    and its sigmoid gate where the model has them."""
    out = [_out("ffn.input", "moe_input", (B, S, D), tensor=source, description="input of the router and experts")]
    router, weights = _router_saved(opts, prof, kind, source)
    out += router + _experts_saved(opts, prof, kind, weights)
    if opts.shared_expert:
        shared = ffn_saved(replace(opts, ffn="swiglu", fused_gate_up=False), prof, kind, source, DFF_S,
                           "shared_expert")
        out += shared[1:]  # its input is the block's
        if opts.shared_expert_gate and kind == "full":
            out += [_out("shared_expert.gate_sigmoid", "shared_gate_sigmoid", (B, S, ONE),
                         description="sigmoid of the shared expert's gate"),
                    _out("shared_expert.output", "shared_expert_output", (B, S, D),
                         description="shared expert output, multiplied by its gate")]
    if kind == "korthikanti":
        out.append(Saved("ffn.resid_mask", "residual_dropout_mask", (B, S, D), "mask",
                         description="dropout mask after the feed-forward, 1 byte"))
    return out
