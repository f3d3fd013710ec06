"""Tensors a training step keeps for backward, declared per component: what each op's backward needs.

A `Saved` is one tensor: its shape in the accounting's Dims, its dtype kind (bytes come later, from the
precision), how tensor/sequence parallelism splits it, and whether selective recomputation drops it. Two named
sets are declared from the same component tree (derive/model/layers.py):

- `full`: what autograd keeps for the reference PyTorch module (transformers' implementation of the model type,
  or transformers' Llama for a YAML config), summed by storage: two saved views of one tensor are one tensor,
  and a dtype conversion that changes nothing (`.to(float32)` of an fp32 tensor) makes no copy. Dropout is off
  (p = 0, as modern LLM pre-training runs), weights are parameters (model states, not activations).
- `korthikanti`: Korthikanti et al. 2022 (arXiv:2205.05198), Section 4.1: every op stores its inputs in 16 bits
  (the compute dtype), dropout masks in 1 byte; attention keeps Q, K (after RoPE), V, the softmax output, its
  dropout mask and output; LayerNorm keeps its input; a GELU its input. Extended to the other components by the
  same rule (SwiGLU keeps its gate, up, activation and product; keys and values at num_kv_heads heads).

Dtype kinds: `act` (the compute dtype), `fp32`, `copy` (a compute-dtype copy of an fp32 tensor: no tensor of its
own when computing in fp32, `copy_of` names the tensor it then is), `int64`, `int32`, `mask` (1 byte).
Split kinds: `seq` (the residual width: sequence parallelism splits the sequence), `heads`/`width` (a column-
parallel region: tensor parallelism splits dims[split]), `vocab` (vocabulary-parallel logits), `pairs` (routed
(token, expert) pairs; expert tensor parallelism splits dims[split]), `none` (replicated).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .dims import (
    D, DFF, H, HKV, ONE, TWO, B, S, Dim, head_width, kv_width, q_width,
)
from .options import ArchOptions

SETS: dict[str, str] = {
    "full": "what autograd keeps for the reference PyTorch module (transformers' implementation), by storage, "
            "dropout off",
    "korthikanti": "Korthikanti et al. 2022, Section 4.1: every op's inputs in the compute dtype, 1-byte dropout "
                   "masks, extended to every component by the same rule",
}


@dataclass(frozen=True)
class Saved:
    key: str
    title: str
    dims: tuple[Dim, ...]
    dtype: str = "act"
    split: str = "seq"
    at: int | None = None  # index of the dim that tensor parallelism splits (heads, width, vocab, pairs)
    core: bool = False  # the attention core: what selective recomputation drops
    tensor: str = ""  # storage identity (default: key); two entries with one identity are one tensor
    copy_of: str = ""  # dtype kind `copy` or an fp32 copy: the tensor it is when computing in fp32
    storage: tuple[Dim, ...] = ()  # in fp32, the shape of copy_of's whole storage when this is a view of part of it
    description: str = ""

    @property
    def identity(self) -> str:
        return self.tensor or self.key


@dataclass(frozen=True)
class Profile:
    """How one implementation computes (what differs between transformers' modeling files)."""

    name: str
    norm: str = "hf"  # hf: weight * normed.to(dtype); fp32: (weight * normed).to(dtype); gemma: (1 + weight) fp32
    act: str = "fused"  # fused: torch's silu/gelu (saves its input); gelu_new: GPT-2's tanh formula in Python
    softmax_fp32: bool = True  # softmax(dtype=float32) then .to(dtype); False: in the compute dtype
    attn_softcap: bool = False
    final_softcap: bool = False
    rope_cos_sin: bool = True  # cos/sin computed each forward (transformers); False: precomputed buffers
    kv_index: bool = False  # k and v taken from the fused qkv by an index list (Falcon's [-2], [-1]): 2 int64
    rope_fp32: bool = False  # cos/sin kept in fp32 (OLMo 2 rotates in fp32), not cast to the compute dtype
    rope_half: bool = False  # cos/sin of half the rotated width (gpt-oss rotates the two halves, no cat)
    rope_complex: bool = False  # one complex64 freqs_cis of half the rotated width (DeepSeek-V2's view_as_complex)
    router: str = "topk_norm"  # mixture of experts routing (see moe_saved)
    # one key/value head for several query heads: at a micro-batch of 1, repeat_kv's expand + reshape and the
    # score bmm's reshape are views, so k and v keep one head (set per config by the accounting, not per type)
    single_kv: bool = False


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("llama"),
    Profile("assignment", rope_cos_sin=False),
    Profile("gpt2", act="gelu_new", softmax_fp32=False), Profile("phi", act="gelu_new"),
    Profile("gemma", norm="gemma"), Profile("gemma3_text", norm="gemma"),
    Profile("gemma2", norm="gemma", attn_softcap=True, final_softcap=True),
    Profile("falcon", softmax_fp32=False, kv_index=True), Profile("olmo2", norm="fp32", rope_fp32=True),
    Profile("qwen2_moe", router="topk"), Profile("qwen3_moe", router="topk"),
    Profile("deepseek_v2", router="deepseek_v2", rope_complex=True),
    Profile("deepseek_v3", router="deepseek_v3"), Profile("gpt_oss", norm="fp32", router="gpt_oss", rope_half=True),
)}


def profile_for(model_type: str, assignment: bool) -> Profile:
    """The implementation a config's full set follows: its transformers model type, derive's own reference for
    the homework's assignment architecture, transformers' Llama otherwise."""
    if model_type in PROFILES:
        return PROFILES[model_type]
    return PROFILES["assignment" if assignment and not model_type else "llama"]


def norm_saved(opts: ArchOptions, prof: Profile, key: str, source: str, shape: tuple[Dim, ...], split: str,
               at: int | None, kind: str, storage: tuple[Dim, ...] = ()) -> list[Saved]:
    """A norm reading tensor `source` of `shape` (last dim normalised); `storage`: the shape of the tensor
    `source` is a view of (its fp32 input is then that whole storage)."""
    rows = shape[:-1]
    name = key.rsplit(".", 1)[-1]
    if kind == "korthikanti":
        return [Saved(f"{key}.input", f"{name}_input", shape, "act", split, at, tensor=source,
                      description="norm input (Korthikanti: each norm stores its input)")]
    if opts.norm == "layernorm":  # native_layer_norm: input, then mean and rstd in fp32
        return [Saved(f"{key}.input", f"{name}_input", shape, "act", split, at, tensor=source,
                      description="LayerNorm input"),
                Saved(f"{key}.mean", f"{name}_mean", rows, "fp32", split, at, description="LayerNorm mean"),
                Saved(f"{key}.rstd", f"{name}_rstd", rows, "fp32", split, at, description="LayerNorm 1 / std")]
    out = [Saved(f"{key}.input", f"{name}_input_fp32", shape, "fp32", split, at, copy_of=source, storage=storage,
                 description="norm input in fp32 (x.float(): the input itself in fp32)"),
           Saved(f"{key}.rstd", f"{name}_rstd", rows, "fp32", split, at, description="1 / rms, fp32")]
    if prof.norm == "gemma":
        return out + [Saved(f"{key}.normed", f"{name}_normalized", shape, "fp32", split, at,
                            description="normalised input, fp32 (multiplied by 1 + weight)"),
                      Saved(f"{key}.scale", f"{name}_one_plus_weight", shape[-1:], "fp32", "none",
                            description="1 + weight in fp32 (a tensor of its own)")]
    if prof.norm == "fp32":  # (weight * normed).to(dtype): the product is taken in fp32
        return out + [Saved(f"{key}.normed", f"{name}_normalized", shape, "fp32", split, at,
                            description="normalised input, fp32 (multiplied by the weight before the cast)")]
    return out + [Saved(f"{key}.normed", f"{name}_normalized", shape, "act", split, at,
                        description="normalised input in the compute dtype (multiplied by the weight)")]


def _out(key: str, title: str, shape: tuple[Dim, ...], split: str = "seq", at: int | None = None, **kw) -> Saved:
    return Saved(key, title, shape, "act", split, at, **kw)


def attention_saved(opts: ArchOptions, prof: Profile, kind: str, source: str) -> list[Saved]:
    """Multi-head / grouped-query attention reading tensor `source` (B, S, d_model).

    full (transformers' eager attention): q after RoPE, k and v repeated to num_heads heads (repeat_kv copies
    them), each a (B, h, S, head) tensor the score and weighted-sum bmm keep; the fp32 softmax output and its copy
    in the compute dtype (.to(query.dtype)); the o_proj input. korthikanti: Q, K, V (keys and values at
    num_kv_heads), softmax output, dropout mask and output, o_proj input, the residual dropout mask."""
    if opts.attention == "mla":
        return mla_saved(opts, prof, kind, source)
    head, q, kv = head_width(opts), q_width(opts), kv_width(opts)
    heads = (B, H, S, head)
    square = (B, H, S, S)
    out = [_out("attention.input", "attention_input", (B, S, D), tensor=source,
                description="input of the q, k, v projections")]
    if opts.qk_norm != "none":
        per_head = opts.qk_norm == "head"
        for name, width, n in (("q", q, H), ("k", kv, HKV)):
            shape = (B, S, n, head) if per_head else (B, S, width)
            out += norm_saved(opts, prof, f"attention.{name}_norm", f"attention.{name}_proj.out", shape,
                              "heads" if per_head else "width", 2, kind)
    if kind == "korthikanti":
        kv_heads = (B, HKV if opts.gqa else H, S, head)  # keys and values once per key/value head
        return out + [
            _out("attention.q", "query", heads, "heads", 1, description="Q after RoPE"),
            _out("attention.k", "key", kv_heads, "heads", 1, description="K after RoPE (num_kv_heads heads)"),
            _out("attention.v", "value", kv_heads, "heads", 1, description="V (num_kv_heads heads)"),
            _out("attention.probs", "softmax_output", square, "heads", 1, core=True, description="softmax output"),
            Saved("attention.dropout_mask", "attention_dropout_mask", square, "mask", "heads", 1, core=True,
                  description="dropout mask on the attention probabilities, 1 byte"),
            _out("attention.dropped", "attention_dropout_output", square, "heads", 1, core=True,
                 description="dropout output (multiplies V)"),
            _out("attention.o_in", "o_proj_input", (B, S, q), "width", 2, description="input of o_proj"),
            Saved("attention.resid_mask", "residual_dropout_mask", (B, S, D), "mask", description="dropout mask "
                  "after o_proj, 1 byte"),
        ]
    if prof.kv_index and (opts.gqa or (opts.residual, opts.block_norms) == ("parallel", "pre")):
        out += [Saved(f"attention.{n}_index", f"{n}_index", (ONE,), "int64", "none", description=f"the index "
                      f"list that selects {n} from the fused qkv (multi-query / new decoder layout)") for n in "kv"]
    kv_split = "kv_view" if prof.single_kv else "heads"  # saved_memory: num_heads, or 1 head at batch 1
    out += [_out("attention.q", "query", heads, "heads", 1, description="Q after RoPE, kept by the score bmm"),
            _out("attention.k", "key", heads, kv_split, 1,
                 description="K after RoPE, repeated to num_heads heads (repeat_kv), kept by the score bmm"),
            _out("attention.v", "value", heads, kv_split, 1,
                 description="V repeated to num_heads heads, kept by the weighted-sum bmm")]
    if opts.attention_sinks:  # gpt-oss: cat(scores, sink) - max, softmax in the compute dtype, sink dropped
        sinked = (B, H, S, Dim("seq_len + 1", S.expr + 1, "S + 1"))
        return out + [
            Saved("attention.max_index", "logit_max_indices", (B, H, S, ONE), "int64", "heads", 1, core=True,
                  description="argmax of each row of the logits and sink (max's backward)"),
            _out("attention.probs", "softmax_output_with_sink", sinked, "heads", 1, core=True,
                 description="softmax over the scores and the sink logit; the bmm keeps a view of it"),
            _out("attention.o_in", "o_proj_input", (B, S, q), "width", 2, description="input of o_proj")]
    if prof.attn_softcap:
        out.append(_out("attention.softcap", "softcap_tanh", square, "heads", 1, core=True,
                        description="tanh(scores / cap), kept by tanh's backward (logit soft-capping)"))
    if prof.softmax_fp32:
        out += [Saved("attention.probs", "softmax_output_fp32", square, "fp32", "heads", 1, core=True,
                      description="softmax output, fp32 (softmax(dtype=float32))"),
                Saved("attention.probs_copy", "softmax_output_copy", square, "copy", "heads", 1, core=True,
                      copy_of="attention.probs", description="the probabilities in the compute dtype (.to), "
                                                             "kept by the weighted-sum bmm")]
    else:
        out.append(_out("attention.probs", "softmax_output", square, "heads", 1, core=True,
                        description="softmax output in the compute dtype"))
    return out + [_out("attention.o_in", "o_proj_input", (B, S, q), "width", 2,
                       description="input of o_proj (heads concatenated)")]


def ffn_saved(opts: ArchOptions, prof: Profile, kind: str, source: str, width: Dim = DFF,
              prefix: str = "ffn") -> list[Saved]:
    """A dense feed-forward block of `width` (SwiGLU/GeGLU: gate, up, activation, product; GELU MLP: up,
    activation) reading tensor `source` (B, S, d_model); TP splits its width (column, then row parallel)."""
    shape = (B, S, width)
    tag = "" if prefix == "ffn" else f"{prefix}_"  # the shared expert's tensors say so
    out = [_out(f"{prefix}.input", f"{prefix}_input", (B, S, D), tensor=source,
                description="input of the up (and gate) projection")]
    if opts.ffn == "gelu":
        out.append(_out(f"{prefix}.up", f"{tag}fc_output", shape, "width", 2,
                        description="up projection output (GELU input)"))
        if kind == "full" and prof.act == "gelu_new":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            out += [_out(f"{prefix}.tanh", f"{tag}gelu_tanh", shape, "width", 2,
                         description="tanh(...) of gelu_new"),
                    _out(f"{prefix}.half_x", f"{tag}gelu_half_input", shape, "width", 2,
                         description="0.5 x of gelu_new"),
                    _out(f"{prefix}.one_plus", f"{tag}gelu_one_plus_tanh", shape, "width", 2,
                         description="1 + tanh(...) of gelu_new")]
        out.append(_out(f"{prefix}.act", f"{tag}gelu_output", shape, "width", 2,
                        description="GELU output (down input)"))
    else:
        if opts.fused_gate_up:  # gate and up are views of one (B, S, 2 d_ff) output: one storage
            out.append(Saved(f"{prefix}.gate_up", f"{tag}gate_up_output", (B, S, TWO, width), "act", "width", 3,
                             description="gate and up outputs: one tensor (gate_up_proj)"))
        else:
            out += [_out(f"{prefix}.gate", f"{tag}gate_output", shape, "width", 2,
                         description="gate projection output (activation input)"),
                    _out(f"{prefix}.up", f"{tag}up_output", shape, "width", 2, description="up projection output")]
        out += [_out(f"{prefix}.act", f"{tag}activation_output", shape, "width", 2,
                     description="activation of the gate"),
                _out(f"{prefix}.product", f"{tag}gated_product", shape, "width", 2,
                     description="activation * up (down projection input)")]
    if kind == "korthikanti" and prefix == "ffn":
        out.append(Saved(f"{prefix}.resid_mask", "residual_dropout_mask", (B, S, D), "mask",
                         description="dropout mask after the feed-forward, 1 byte"))
    return out


def mla_saved(opts: ArchOptions, prof: Profile, kind: str, source: str) -> list[Saved]:
    """Multi-head latent attention (DeepSeek-V2/V3, transformers' DeepseekV3Attention) reading `source`: the
    latent norms (kv_a_layernorm reads a view of the kv_a output, whose whole storage an fp32 run keeps), the
    up-projections' inputs, q and k of nope + rope width per head, v, the softmax and the o_proj input."""
    from .dims import D_QK, D_ROPE, MLA_KV_A, MLA_KV_B, MLA_O, R_KV, R_Q

    out = [_out("attention.input", "attention_input", (B, S, D), tensor=source,
                description="input of the query and key-value down-projections")]
    if opts.q_lora:
        out += norm_saved(opts, prof, "attention.q_a_layernorm", "attention.q_a.out", (B, S, R_Q), "seq", None, kind)
        out.append(_out("attention.q_b_input", "q_b_proj_input", (B, S, R_Q), tensor="attention.q_a_layernorm.out",
                        description="input of q_b_proj (normalised query latent)"))
    out += norm_saved(opts, prof, "attention.kv_a_layernorm", "attention.kv_a.out", (B, S, R_KV), "seq", None, kind,
                      storage=(B, S, MLA_KV_A))
    out.append(_out("attention.kv_b_input", "kv_b_proj_input", (B, S, R_KV), tensor="attention.kv_a_layernorm.out",
                    description="input of kv_b_proj (normalised key-value latent)"))
    square = (B, H, S, S)
    qk = (B, H, S, D_QK)
    # full: bmm's reshape of the value (a slice of kv_b's output, heads transposed) copies it, except at a batch
    # of 1 where it is a view and keeps kv_b's whole output; korthikanti: the value alone
    v_width = MLA_O if kind == "korthikanti" else Dim(
        "num_heads * (qk_nope_head_dim + v_head_dim) if batch_size = 1 else num_heads * v_head_dim",
        sympy.Piecewise((MLA_KV_B.expr, sympy.Eq(B.expr, 1)), (MLA_O.expr, True)),
        r"h (d_{\mathrm{nope}} + d_v)|_{B=1},\ h d_v")
    out += [_out("attention.q", "query", qk, "heads", 1, description="query: nope and rope parts of every head"),
            _out("attention.k", "key", qk, "heads", 1, description="key: each head's nope part and the shared "
                                                                    "rope key"),
            _out("attention.v", "value", (B, S, v_width), "width", 2,
                 description="value of every head (at batch 1 a view of kv_b_proj's output: all of it is kept)")]
    if kind == "korthikanti":
        return out + [
            _out("attention.probs", "softmax_output", square, "heads", 1, core=True, description="softmax output"),
            Saved("attention.dropout_mask", "attention_dropout_mask", square, "mask", "heads", 1, core=True,
                  description="dropout mask on the attention probabilities, 1 byte"),
            _out("attention.dropped", "attention_dropout_output", square, "heads", 1, core=True,
                 description="dropout output (multiplies V)"),
            _out("attention.o_in", "o_proj_input", (B, S, MLA_O), "width", 2, description="input of o_proj"),
            Saved("attention.resid_mask", "residual_dropout_mask", (B, S, D), "mask",
                  description="dropout mask after o_proj, 1 byte")]
    _ = D_ROPE
    return out + [Saved("attention.probs", "softmax_output_fp32", square, "fp32", "heads", 1, core=True,
                        description="softmax output, fp32"),
                  Saved("attention.probs_copy", "softmax_output_copy", square, "copy", "heads", 1, core=True,
                        copy_of="attention.probs", description="the probabilities in the compute dtype"),
                  _out("attention.o_in", "o_proj_input", (B, S, MLA_O), "width", 2, description="input of o_proj")]
