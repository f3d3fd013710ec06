"""Architectures as compositions of components; each builds its Step trees once, from symbols only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy

from . import symbols as sy
from .components import Attention, Embedding, MixtureOfExperts, Norm, Sublayer, linear, matmul, repeat, total, weight
from .config import ArchOptions
from .steps import Dim, Step, group_totals

# Forward-FLOP groups whose shares the sheets report, in display order.
GROUP_LABELS: dict[str, str] = {
    "attention_projections": "attention projections (q, k, v, o)",
    "attention_scores": "attention scores + weighted sum",
    "ffn": "feed-forward (SwiGLU)",
    "lm_head": "lm_head (output projection)",
}
# Groups only some architectures have (kept apart so the assignment sheet's group list is unchanged).
EXTRA_GROUP_LABELS: dict[str, str] = {"router": "MoE router"}

V = Dim.of(sy.V, "V")
T = Dim.of(sy.T, "T")
L = Dim.of(sy.L, "L")
D = Dim.of(sy.d, "d")
H = Dim.of(sy.h, "h")
DFF = Dim.of(sy.d_ff, r"d_{\mathrm{ff}}")
B = Dim.of(sy.B, "B")
S = Dim.of(sy.S, "S")
DK = Dim("d_k", sy.d / sy.h, "d_k")
NE = Dim.of(sy.E, "E")
KE = Dim.of(sy.k, "k")
DKV = Dim("d_kv", sy.h_kv * sy.d / sy.h, r"d_{\mathrm{kv}}")  # num_kv_heads * d_k: width of k and v


@dataclass(frozen=True)
class Derivation:
    """The symbolic accounting of one architecture: built once, evaluated for many configs."""

    name: str
    params: Step
    buffers: Step
    forward: Step
    active_params: Step | None = None  # mixture of experts: parameters one token passes through

    @property
    def group_labels(self) -> dict[str, str]:
        """Labels of this derivation's forward-FLOP groups, in display order."""
        order = ("attention_projections", "attention_scores", "router", "ffn", "lm_head")
        labels = {g: {**GROUP_LABELS, **EXTRA_GROUP_LABELS}[g] for g in order}
        if self.forward_groups.get("ffn") is not None and self.forward.find("forward.block.ffn").title == "gelu_mlp":
            labels["ffn"] = "feed-forward (GELU MLP)"
        elif "router" in self.forward_groups:
            labels["ffn"] = "feed-forward (active SwiGLU experts)"
        return {g: labels[g] for g in labels if g in self.forward_groups}

    @cached_property
    def forward_groups(self) -> dict[str, sympy.Expr]:
        """Symbolic per-group totals, summed once per Derivation rather than once per config."""
        return group_totals(self.forward)


def _ffn_component(opts: ArchOptions, blk: str):
    """The feed-forward sub-layer the options ask for: SwiGLU (3 matrices), GELU MLP (2) or MoE of SwiGLUs."""
    if opts.ffn == "gelu":
        return Sublayer("ffn", "gelu_mlp", "total_ffn", (
            linear("c_fc", D, DFF, "MLP up projection (then GELU)", "ffn", opts.bias, ("fc", "up_proj", "w1")),
            linear("c_proj", DFF, D, "MLP down projection", "ffn", opts.bias, ("down_proj", "w2")),
        ), ("ffn", "feed_forward", "mlp"), ("ffn", "mlp"))
    swiglu = Sublayer("ffn", "swiglu_ffn", "total_ffn", (
        linear("w1", D, DFF, "SwiGLU gate projection W1 (input to SiLU)", "ffn", opts.bias,
               ("gate_proj", "w1_proj", "gate")),
        linear("w3", D, DFF, "SwiGLU linear projection W3 (multiplies the gate)", "ffn", opts.bias,
               ("up_proj", "signal_proj", "signal_projection", "w3_proj")),
        linear("w2", DFF, D, "SwiGLU down projection W2", "ffn", opts.bias, ("down_proj", "w2_proj", "down")),
    ), ("ffn", "feed_forward", "mlp"), ("ffn", "mlp"))
    if opts.ffn != "moe":
        return swiglu
    expert = Sublayer("expert", "swiglu_expert", "total_per_expert", swiglu.linears)
    router = linear("router", D, NE, "router: one logit per expert", "router", False, ("gate",))
    return MixtureOfExperts("ffn", "mixture_of_experts", router, expert, NE, KE)


def _attention_component(opts: ArchOptions) -> Attention:
    kv = DKV if opts.gqa else D
    b = opts.bias
    title = "grouped_query_attention" if opts.gqa else "causal_multi_head_attention"
    kv_note = " (num_kv_heads heads)" if opts.gqa else ""
    return Attention(Sublayer("attention", title, "total_attention", (
        linear("q_proj", D, D, "query projection", "attention_projections", b or opts.qkv_bias, ("wq", "q", "query")),
        linear("k_proj", D, kv, f"key projection{kv_note}", "attention_projections", b or opts.qkv_bias,
               ("wk", "k", "key")),
        linear("v_proj", D, kv, f"value projection{kv_note}", "attention_projections", b or opts.qkv_bias,
               ("wv", "v", "value")),
        linear("o_proj", D, D, "output projection", "attention_projections", b,
               ("wo", "output_proj", "out_proj", "w_o", "o")),
    ), ("attention", "attn", "multi_head_attention"), ("attention", "attn")), (B, H, S), DK)


def _norm(opts: ArchOptions, key: str, where: str, title_where: str, aliases: tuple[str, ...]) -> Norm:
    if opts.norm == "layernorm":
        return Norm(key, f"{title_where}layer_norm", D, f"LayerNorm {where}", True, aliases)
    desc = "final RMSNorm weight" if where == "final" else f"RMSNorm weight {where}"
    return Norm(key, f"{title_where}rms_norm", D, desc, False, aliases)


@lru_cache(maxsize=None)
def build(opts: ArchOptions = ArchOptions()) -> Derivation:
    """Compose the derivation of a pre-norm decoder-only LM from its components; cached per option set."""
    blk = "block"
    attention = _attention_component(opts)
    ffn = _ffn_component(opts, blk)
    norms = [
        _norm(opts, "attn_norm", "before attention", "attn_", ("ln1", "norm1", "rms_norm_1", "rms_norm", "rmsnorm", "norms")),
        _norm(opts, "ffn_norm", "before the FFN", "ffn_", ("ln2", "norm2", "rms_norm_2", "rms_norm", "rmsnorm", "norms")),
    ]
    final_norm = _norm(opts, "final_norm", "final", "final_", ("ln_final", "final_norm", "norm"))
    tok = Embedding("token_embedding", "token_embedding", V, D, "token embedding table", "embedding lookup",
                    ("token_embedding_lookup_table", "embedding", "embeddings", "wte", "embed_tokens"),
                    ("token_embedding_lookup_table", "embedding"))
    embeddings = [tok]
    if opts.positions == "learned":
        embeddings.append(Embedding("position_embedding", "position_embedding", T, D,
                                    "learned position embedding table",
                                    "position embedding lookup", ("wpe", "pos_embedding"), ("wpe",)))
    if opts.tie_embeddings:
        lm_head_params = Step("params.lm_head", "lm_head", kind="lookup",
                              description="output projection, tied to the token embedding",
                              note="tied to token_embedding: counted once", aliases=("output_embedding",))
    else:
        lm_head_params = weight("params.lm_head", "lm_head", D, V, "output projection to vocabulary logits (untied)",
                                ("output_embedding", "unembedding"))

    def params_tree(active: bool) -> Step:
        ffn_params = ffn.params(f"params.{blk}", active) if isinstance(ffn, MixtureOfExperts) \
            else ffn.params(f"params.{blk}")
        key, title = ("active_params", "active_parameters_per_token") if active else ("params", "parameters")
        return total(key, title, "total_active_parameters" if active else "total_parameters", [
            *(e.params() for e in embeddings),
            repeat("params.blocks", "all_transformer_blocks", L, total(
                f"params.{blk}", "transformer_block", "total_per_transformer_block", [
                    attention.params(f"params.{blk}"), ffn_params, *(n.params(f"params.{blk}") for n in norms),
                ], aliases=("block", "per_block", "total_per_block"))),
            final_norm.params("params"),
            lm_head_params,
        ], aliases=("total_params", "total", "parameters", "trainable_parameters"))

    if opts.positions == "rope":
        rope: list[Step] = [repeat("buffers.blocks", "all_rope_buffers", L, Step(
            f"buffers.{blk}.rope", "rope_cos_sin_tables", factors=(Dim.const(2), T, DK), shapes=((T, DK), (T, DK)),
            kind="buffer", description="RoPE cos and sin tables, context_length x d_k each, one pair per block",
            note="buffers, not trainable parameters",
            aliases=("rope", "cos_and_sin_cache", "rope_cache", "cos_sin_cache", "rotary")))]
    else:
        rope = []
    buffers = total("buffers", "non_trainable_buffers", "total_buffers", rope)

    tokens = (B, S)
    forward = total("forward", "forward_pass", "total_forward_flops", [
        *(e.flops() for e in embeddings),
        repeat("forward.blocks", "all_transformer_blocks", L, total(
            f"forward.{blk}", "transformer_block", "total_per_transformer_block", [
                attention.flops(f"forward.{blk}", tokens),
                ffn.flops(f"forward.{blk}", tokens),
            ], aliases=("block", "per_block"))),
        matmul("forward.lm_head", "lm_head", (B, S, D), (D, V), group="lm_head",
               description="output projection to vocabulary logits"),
    ], aliases=("total_matrix_multiply_flops", "total_flops", "forward_flops", "total"))

    name = "assignment" if opts.is_assignment else "custom"
    active = params_tree(True) if opts.ffn == "moe" else None
    return Derivation(name, params_tree(False), buffers, forward, active)


def assignment() -> Derivation:
    """Pre-norm LM: RMSNorm, causal MHA with RoPE, SwiGLU, final RMSNorm, untied lm_head, no biases."""
    return build(ArchOptions())


ARCHITECTURES = {"assignment": assignment}


def derivation(name: str = "assignment") -> Derivation:
    return ARCHITECTURES[name]()


def derivation_for(config) -> Derivation:
    """The derivation of a config's architecture (built once per distinct set of options)."""
    return build(config.arch)
