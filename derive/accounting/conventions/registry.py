"""Published FLOP conventions as data: each formula as its source writes it, split into named terms.

A Convention says what it counts (`scope`: the forward pass, forward + backward, or forward + backward +
recomputed forward), per what (`per`: token, sequence, or step = batch_size sequences of seq_len tokens), which N
it uses (`params`, a key of facts.PARAM_COUNTS), and how it treats attention. Its `terms` add up to the formula;
each names the groups of derive's forward FLOPs (`attention_projections`, `attention_scores`, `router`, `ffn`,
`lm_head`) it estimates, so reconcile.py can put every term beside the exact count of the same matmuls.
`covers=WEIGHTS` means every weight matmul (all groups but the attention scores); `BLOCK_WEIGHTS` the same without
lm_head; `()` a term with no matmul in derive's count (an embedding "matmul", the softmax).
`written`, when given, is the formula exactly as printed (factored); a test checks it equals the sum of terms.

Symbols: derive's (L = num_layers, d = d_model, V = vocab_size, S = seq_len, T = context_length, B = batch_size,
d_ff, E = n_experts, k = experts_per_token) and the Facts (N, H, Q, kv heads), read from the Derivation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy

from ...model import symbols as sy
from .facts import Facts

WEIGHTS = ("*weights",)
BLOCK_WEIGHTS = ("*block_weights",)
SCOPES: dict[str, str] = {
    "forward": "forward pass",
    "training": "forward + backward (backward = dX and dW of every matmul)",
    "training+recompute": "forward + backward + the block forward recomputed in backward (full recomputation)",
}
SCOPE_SHORT: dict[str, str] = {"forward": "forward", "training": "forward + backward",
                               "training+recompute": "forward + backward + recompute"}
PER: dict[str, sympy.Expr] = {"token": sy.B * sy.S, "sequence": sy.B, "step": sympy.Integer(1)}

Formula = Callable[[Facts], sympy.Expr]


@dataclass(frozen=True)
class Term:
    """One addend of a convention: its label and notation in the source, the groups it estimates, its formula."""

    label: str
    written: str
    covers: tuple[str, ...]
    expr: Formula


@dataclass(frozen=True)
class Convention:
    """A published FLOP estimate. `expr(facts)` is in the convention's own unit (`per`)."""

    key: str
    title: str
    source: str
    as_written: str
    counts: str
    scope: str
    per: str
    params: str
    attention: str
    utilization: str  # MFU (model FLOPs, no recomputation), HFU (recomputation counted), or why neither
    terms: tuple[Term, ...]
    written: Formula | None = None
    notes: tuple[str, ...] = field(default=())
    block_size: bool = False  # the formula's sequence length is T = context_length, not the step's seq_len

    def expr(self, f: Facts) -> sympy.Expr:
        return sympy.Add(*(t.expr(f) for t in self.terms))

    def per_step(self, f: Facts) -> sympy.Expr:
        """The estimate for one step of batch_size sequences of seq_len tokens."""
        return sympy.expand(self.expr(f) * PER[self.per])


CONVENTIONS: dict[str, Convention] = {}


def register(c: Convention) -> Convention:
    """Add a convention to the registry (a key once; scope and unit must be known). ValueError otherwise."""
    if c.key in CONVENTIONS:
        raise ValueError(f"convention {c.key!r} is already registered")
    if c.scope not in SCOPES or c.per not in PER:
        raise ValueError(f"convention {c.key!r}: unknown scope or unit")
    CONVENTIONS[c.key] = c
    return c


L, d, V, S, T, B, d_ff = sy.L, sy.d, sy.V, sy.S, sy.T, sy.B, sy.d_ff
FULL = "Q K^T and softmax V over the full S x S square (as derive and FlopCounterMode count)"

register(Convention(
    "6n", "6N per token", "Kaplan et al. 2020, Scaling Laws for Neural Language Models (arXiv:2001.08361), "
    "Section 2.1 (C approx. 6N); with N = all parameters it is the C = 6ND of Hoffmann et al. 2022, Appendix F, and PaLM's "
    "MFU 'without self-attention' (Chowdhery et al. 2022, Appendix B)",
    "6N", "every parameter once per token in the forward pass (2N) and twice in the backward (4N)",
    "training", "token", "all", "not counted", "MFU",
    (Term("parameters", "6N", WEIGHTS, lambda f: 6 * f.n("all")),),
))

register(Convention(
    "kaplan", "Kaplan et al. 2020, C_forward", "Kaplan et al. 2020, Scaling Laws for Neural Language Models "
    "(arXiv:2001.08361), Table 1 (Section 2.1): C_forward approx. 2N + 2 n_layer n_ctx d_attn, N = 2 d_model n_layer "
    "(2 d_attn + d_ff) non-embedding",
    "2N + 2 n_layer n_ctx d_attn", "forward pass per token: 2 FLOPs per non-embedding parameter and the attention "
    "'mask' row; embedding and de-embedding dropped as sub-leading",
    "forward", "token", "non_embedding", "one n_ctx x d_attn product per layer (half of Q K^T plus softmax V)",
    "none (a forward count, not a training step's)",
    (Term("non-embedding parameters", "2N", BLOCK_WEIGHTS, lambda f: 2 * f.n("non_embedding")),
     Term("attention", "2 n_layer n_ctx d_attn", ("attention_scores",), lambda f: 2 * L * S * f.d_attn)),
    notes=("n_ctx is the tokens per sequence of this pass (seq_len).",),
))

register(Convention(
    "kaplan-6n", "Kaplan et al. 2020, C = 6N", "Kaplan et al. 2020, Scaling Laws for Neural Language Models "
    "(arXiv:2001.08361), Section 2.1: 'the estimated non-embedding compute as C approx. 6N floating point operators per "
    "training token'",
    "6N", "forward + backward per token from non-embedding parameters only; no attention, no lm_head",
    "training", "token", "non_embedding", "not counted", "MFU",
    (Term("non-embedding parameters", "6N", BLOCK_WEIGHTS, lambda f: 6 * f.n("non_embedding")),),
))


def _chinchilla(term: Callable[[Facts], sympy.Expr]) -> Formula:
    return lambda f: 3 * term(f)  # "we assume that the backward pass has twice the FLOPs of the forward pass"


register(Convention(
    "chinchilla", "Hoffmann et al. 2022 (Chinchilla), Appendix F", "Hoffmann et al. 2022, Training Compute-Optimal "
    "Large Language Models (arXiv:2203.15556), Appendix F (FLOPs computation), as written; backward = 2 x forward",
    "3 (embeddings + num_layers (attention + dense_block) + logits)",
    "forward + backward per sequence, including the embedding as a matmul and the softmax; a dense block of two "
    "d_model x ffw_size matrices; key and value as wide as the queries",
    "training", "sequence", "", FULL + ", plus 3 num_heads seq_len^2 for the softmax", "MFU",
    (Term("embeddings", "2 seq_len vocab_size d_model", (), _chinchilla(lambda f: 2 * S * V * d)),
     Term("key, query, value projections and final linear", "KQV projections + final linear",
          ("attention_projections",), _chinchilla(lambda f: L * (6 * S * d * f.d_attn + 2 * S * f.d_attn * d))),
     Term("key @ query logits and softmax @ query reductions", "logits + reductions", ("attention_scores",),
          _chinchilla(lambda f: L * 4 * S**2 * f.d_attn)),
     Term("softmax", "3 num_heads seq_len^2", (), _chinchilla(lambda f: L * 3 * f.heads * S**2)),
     Term("dense block", "2 seq_len (2 d_model ffw_size)", ("router", "ffn"),
          _chinchilla(lambda f: L * 2 * S * 2 * d * d_ff)),
     Term("final logits", "2 seq_len d_model vocab_size", ("lm_head",), _chinchilla(lambda f: 2 * S * d * V))),
))

register(Convention(
    "palm", "PaLM (Chowdhery et al. 2022), 6N + 12LHQT", "Chowdhery et al. 2022, PaLM: Scaling Language Modeling "
    "with Pathways (arXiv:2204.02311), Section 4.1 and Appendix B: 6N + 12LHQT model FLOPs per token",
    "6N + 12 L H Q T", "model FLOPs per token: forward + backward of every parameter and of dense self-attention; "
    "rematerialization not counted (MFU)",
    "training", "token", "all", FULL, "MFU",
    (Term("parameters", "6N", WEIGHTS, lambda f: 6 * f.n("all")),
     Term("self-attention", "12 L H Q T", ("attention_scores",), lambda f: 12 * L * f.heads * f.head_dim * S)),
    notes=("T is the sequence length of the step (seq_len).",),
))

register(Convention(
    "nanogpt", "nanoGPT estimate_mfu", "karpathy/nanoGPT model.py, GPT.estimate_mfu and GPT.get_num_params "
    "(commit 3adf61e); transformer_sizing.ipynb (commit 3341b4c) prints it as palm_flops",
    "(6N + 12 L H Q T) T", "PaLM's formula per sequence of block_size tokens, N = get_num_params() (position "
    "table subtracted), T = block_size",
    "training", "sequence", "minus_position_embedding", FULL, "MFU",
    (Term("parameters", "6N T", WEIGHTS, lambda f: 6 * f.n("minus_position_embedding") * T),
     Term("self-attention", "12 L H Q T^2", ("attention_scores",),
          lambda f: 12 * L * f.heads * f.head_dim * T * T)),
    notes=("T = block_size = context_length, whatever seq_len the step uses.",), block_size=True,
))


def _megatron(blocks: int) -> dict[str, Formula]:
    """Megatron-LM's GPT count in its own symbols (h = d_model): per layer forward 24 B s h^2 + 4 B s^2 h, the
    logit layer 2 B s h V; `blocks` passes over the blocks (3 = forward + backward, 4 = with recomputation)."""
    return {"proj": lambda f: blocks * 8 * B * S * L * d**2, "ffn": lambda f: blocks * 16 * B * S * L * d**2,
            "attn": lambda f: blocks * 4 * B * S**2 * L * d, "logits": lambda f: 3 * 2 * B * S * d * V}


def _megatron_terms(blocks: int) -> tuple[Term, ...]:
    m = _megatron(blocks)
    return (Term("attention q, k, v and output projections", f"{blocks * 8} B s l h^2", ("attention_projections",),
                 m["proj"]),
            Term("MLP h -> 4h -> h", f"{blocks * 16} B s l h^2", ("router", "ffn"), m["ffn"]),
            Term("attention scores and over values", f"{blocks * 4} B s^2 l h", ("attention_scores",), m["attn"]),
            Term("logit layer", "6 B s h V", ("lm_head",), m["logits"]))


register(Convention(
    "megatron", "Megatron (Korthikanti et al. 2022), 72Bslh^2", "Korthikanti et al. 2022, Reducing Activation "
    "Recomputation in Large Transformer Models (arXiv:2205.05198), Appendix A and Section 6.3 (model FLOPs)",
    "72 B s L h^2 (1 + s/(6h) + V/(12 h L))", "model FLOPs per iteration of a GPT (h = d_model, MLP 4h, full "
    "multi-head attention): forward + backward, no recomputation",
    "training", "step", "", FULL, "MFU", _megatron_terms(3),
    written=lambda f: 72 * B * S * L * d**2 * (1 + S / (6 * d) + V / (12 * d * L)),
))

register(Convention(
    "megatron-recompute", "Megatron (Narayanan et al. 2021), 96Bslh^2", "Narayanan et al. 2021, Efficient "
    "Large-Scale Language Model Training on GPU Clusters Using Megatron-LM (arXiv:2104.04473), Section 5.1, eq. (3)",
    "96 B s l h^2 (1 + s/(6h) + V/(16 l h))", "FLOPs per iteration with activation recomputation (one extra forward "
    "of the blocks): hardware FLOPs",
    "training+recompute", "step", "", FULL, "HFU", _megatron_terms(4),
    written=lambda f: 96 * B * S * L * d**2 * (1 + S / (6 * d) + V / (16 * L * d)),
))

register(Convention(
    "torchtitan", "torchtitan", "pytorch/torchtitan torchtitan/models/utils.py, get_dense_model_nparams_and_flops "
    "(commit b5bcd76); head_dims = 2 * (dim // n_heads) in torchtitan/models/llama3/model.py; mfu = 100 * "
    "num_flops_per_token * tps / gpu_peak_flops in torchtitan/components/metrics.py",
    "6N + 6 L H (2Q) T", "model FLOPs per token; N without nn.Embedding tables unless tied; 'we follow the "
    "convention and do not account for sparsity in causal attention'",
    "training", "token", "torchtitan", FULL + "; a causal flash kernel computes half, so MFU can pass 100% at long "
    "context", "MFU",
    (Term("parameters", "6N", WEIGHTS, lambda f: 6 * f.n("torchtitan")),
     Term("self-attention", "6 L H (2Q) T", ("attention_scores",),
          lambda f: 6 * L * f.heads * 2 * f.head_dim * S)),
))


def _maxtext_ffn(f: Facts) -> sympy.Expr:
    # calculate_ffn_mamtul_tflops_per_device: 2 B S mlp_dim d len(mlp_activations) + 2 B S mlp_dim d;
    # MoE: gate 2 B S d E + that FFN times num_experts_per_tok
    ffn = 2 * B * S * d_ff * d * f.ffn_inputs + 2 * B * S * d_ff * d
    return 2 * B * S * d * sy.E + sy.k * ffn if f.moe else ffn


register(Convention(
    "maxtext", "MaxText", "AI-Hypercomputer/maxtext src/maxtext/utils/maxtext_utils.py, "
    "calculate_tflops_training_per_device and calculate_ffn_mamtul_tflops_per_device (commit e591f30)",
    "3 (L (qkv + projection + ffn) + embedding) + 3 L (4 B S^2 H Q) / 2",
    "forward + backward per step (x 3) of every weight matmul, key/value at num_kv_heads, the unembedding; "
    "attention halved 'due to causal mask'",
    "training", "step", "", "half the square (causal mask exploited)", "MFU",
    (Term("qkv and output projections", "3 L (2 B S d (H + 2 H_kv) Q + 2 B S d H Q)", ("attention_projections",),
          lambda f: 3 * L * (2 * B * S * d * (f.heads + 2 * f.kv_heads) * f.head_dim + 2 * B * S * d * f.d_attn)),
     Term("FFN (with the MoE gate)", "3 L ffn", ("router", "ffn"), lambda f: 3 * L * _maxtext_ffn(f)),
     Term("embedding (the unembedding projection)", "3 (2 B S d V)", ("lm_head",), lambda f: 3 * 2 * B * S * d * V),
     Term("causal attention", "3 L (4 B S^2 H Q) / 2", ("attention_scores",),
          lambda f: 3 * L * 4 * B * S**2 * f.d_attn / 2)),
))
