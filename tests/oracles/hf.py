"""Independent oracles: Hugging Face ``transformers`` causal LMs built from config objects on the meta device.

Knows nothing about ``derive``. Never touches the Hub: models are built as ``XForCausalLM(config)`` inside
``with torch.device("meta"):`` (works as-is in transformers 5.24 / torch 2.13), then put in ``eval()`` mode.

Notation: B batch, S seq_len, N = B*S tokens, d hidden size, V vocab, L layers, h query heads, h_kv key/value
heads, hd head_dim (``config.head_dim`` if set, else d/h), f intermediate (FFN) size, E experts, k experts per
token. FlopCounterMode counts 2*M*K*N per (b)mm and nothing for element-wise ops, softmax, norms, embedding
lookups, bias adds or masks. Everything below was established by printing ``get_flop_counts()['Global']`` on
small configs and reconciling exactly (tests/test_oracles.py re-checks each formula).

Attention implementation. Default here is ``attn_implementation="eager"`` (Q@K^T and P@V as ``aten.bmm``).
On META, "sdpa" counts exactly the same: torch's meta SDPA dispatches to the math decomposition, i.e. two
``aten.bmm`` of the full S x S square. (On real CPU tensors SDPA instead hits
``aten._scaled_dot_product_flash_attention_for_cpu``, which torch 2.13's FlopCounterMode does NOT count at all
-> 0 attention FLOPs; hence: meta device + eager.) Causal masking, GQA and Mistral's ``sliding_window`` do
NOT reduce the count: the full square is always computed and then masked. Per layer the attention core is
    aten.bmm: 4 * N * S * h * hd          (K/V are repeated to h heads first; h_kv does not enter)

gpt2 (GPT2LMHeadModel). Projections are Conv1D = ``torch.addmm(bias, x, W)``: counted as ``aten.addmm`` with
2*M*K*N only -- biases add ZERO FLOPs. Per layer addmm: 2*N*(d*3d + d*d + d*4d + 4d*d) = 24*N*d^2
(c_attn, attn c_proj, c_fc, mlp c_proj; n_inner=None -> 4d). wpe/wte lookups: 0. lm_head is TIED to wte
(``lm_head.weight is transformer.wte.weight``; parameters() lists it once) but its matmul is still performed:
    aten.mm: 2*N*d*V.
    total = L*(24*N*d^2 + 4*N*S*d) + 2*N*d*V
llama / mistral / qwen2 (+ mixtral attention). q: d -> h*hd, k,v: d -> h_kv*hd, o: h*hd -> d, SwiGLU
gate/up: d -> f, down: f -> d, untied lm_head (tie_word_embeddings defaults to False for all four).
    per layer matmul = 2*N*(2*d*h*hd + 2*d*h_kv*hd) + 6*N*d*f ; attention core as above ; lm_head 2*N*d*V
  Qwen2's q/k/v have biases: those three run as ``aten.addmm`` (same 2*M*K*N, bias adds 0); the rest is mm.
  ROTARY EMBEDDING: in transformers 5.24 all four models compute
  ``freqs = position_ids[..., None].float() * inv_freq`` -- an element-wise broadcast, NOT a matmul -- so the
  rotary embedding contributes exactly 0 counted FLOPs (and cos/sin application is element-wise, also 0).
  (Older transformers 4.x used ``inv_freq[None,:,None].expand(B,-1,1) @ position_ids[:,None,:]``, a bmm of
  (B, hd/2, 1) @ (B, 1, S) = 2*B*(hd/2)*S = B*S*hd FLOPs once per forward (not per layer); verified on meta
  that this expression counts B*S*hd -- but it is NOT present in 5.24, so do not add it here.)
  inv_freq / original_inv_freq are non-persistent buffers (not parameters).
mixtral (MixtralForCausalLM). Needs ``config._experts_implementation = "batched_mm"`` on meta: the default
"grouped_mm" raises (torch._grouped_mm wants bf16 inputs) and "eager" raises on meta (it loops over
``nonzero()`` of the routing mask, data-dependent). Router (``mlp.gate``, E x d, no bias) is a plain mm over
ALL tokens: 2*N*d*E. batched_mm replicates every token k times and gathers the chosen experts' weights
(``gate_up_proj[expert_ids]``), then does two ``aten.bmm`` over the N*k (token, expert) pairs:
(N*k, 2f, d)@(N*k, d, 1) and (N*k, d, f)@(N*k, f, 1). The SHAPES depend only on N and k, never on which
experts were chosen, so on meta the count is well defined and data independent: ONLY ROUTED PAIRS are
counted (not all E experts):
    expert bmm per layer = 2*N*k*(2*f*d) + 2*N*k*(f*d) = 6*N*k*d*f
    total = L*(2*N*(2*d*h*hd + 2*d*h_kv*hd) + 2*N*d*E + 6*N*k*d*f + 4*N*S*h*hd) + 2*N*d*V
  with the attention projections + router + lm_head as ``aten.mm`` and experts + attention core as ``aten.bmm``.
  Params: experts store gate_up_proj (E, 2f, d) and down_proj (E, d, f) = 3*E*d*f per layer; router E*d.

Training step (``hf_train_step_flops``: forward + cross-entropy + backward) == 3 x forward EXACTLY for all five
types on meta: each counted forward matmul gets exactly two equal-size backward matmuls (dX, dW); bias grads are
reductions, embedding/gather backward is index_put/embedding_dense_backward, cross-entropy is log_softmax+nll --
none of them counted. (Mixtral: the router also gets dX, dW because top_k_weights carry gradient.)

Meta-device gotcha: the forward is called with ``use_cache=True``. With ``use_cache=False`` and no attention
mask, transformers' ``create_causal_mask`` runs packed-sequence detection on position_ids, which calls
``.item()`` and fails on meta tensors.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "MODEL_TYPES",
    "build_hf_model",
    "hf_params",
    "hf_forward_flops",
    "hf_forward_flop_counts",
    "hf_train_step_flops",
]

MODEL_TYPES = ("gpt2", "llama", "mistral", "mixtral", "qwen2")


def _classes(model_type: str):
    import transformers as tf

    table = {
        "gpt2": (tf.GPT2Config, tf.GPT2LMHeadModel),
        "llama": (tf.LlamaConfig, tf.LlamaForCausalLM),
        "mistral": (tf.MistralConfig, tf.MistralForCausalLM),
        "mixtral": (tf.MixtralConfig, tf.MixtralForCausalLM),
        "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM),
    }
    if model_type not in table:
        raise ValueError(f"unknown model_type {model_type!r}; expected one of {MODEL_TYPES}")
    return table[model_type]


def build_hf_model(
    model_type: str,
    *,
    attn_implementation: str = "eager",
    experts_implementation: str = "batched_mm",
    device: str | torch.device = "meta",
    **config_kwargs,
) -> nn.Module:
    """Build ``model_type`` from ``ConfigClass(**config_kwargs)`` on ``device`` (meta by default), eval mode.

    ``experts_implementation`` is only applied to mixtral.
    """
    config_cls, model_cls = _classes(model_type)
    config = config_cls(**config_kwargs)
    config._attn_implementation = attn_implementation
    if model_type == "mixtral":
        config._experts_implementation = experts_implementation
    with torch.device(device):
        model = model_cls(config)
    model.eval()
    return model


def hf_params(model: nn.Module) -> int:
    """All parameters; transformers' ``parameters()`` yields a tied weight (GPT-2 wte/lm_head) once."""
    return int(sum(p.numel() for p in model.parameters()))


def _ids(model: nn.Module, batch_size: int, seq_len: int) -> torch.Tensor:
    cfg = model.config
    max_pos = getattr(cfg, "n_positions", None) if cfg.model_type == "gpt2" else None
    if max_pos is not None and seq_len > max_pos:
        raise ValueError(f"seq_len {seq_len} > n_positions {max_pos}")
    device = next(model.parameters()).device
    return torch.randint(0, cfg.vocab_size, (batch_size, seq_len), dtype=torch.long, device=device)


def _global(fc: FlopCounterMode) -> dict[str, int]:
    # "Global" is absent when nothing countable ran
    return {str(k): int(v) for k, v in fc.get_flop_counts().get("Global", {}).items()}


def hf_forward_flop_counts(model: nn.Module, batch_size: int, seq_len: int) -> dict[str, int]:
    ids = _ids(model, batch_size, seq_len)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(input_ids=ids, use_cache=True)
    return _global(fc)


def hf_forward_flops(model: nn.Module, batch_size: int, seq_len: int) -> int:
    return int(sum(hf_forward_flop_counts(model, batch_size, seq_len).values()))


def hf_train_step_flops(model: nn.Module, batch_size: int, seq_len: int) -> int:
    """Forward + cross-entropy + backward inside one FlopCounterMode (model stays in eval mode: no dropout)."""
    ids = _ids(model, batch_size, seq_len)
    targets = _ids(model, batch_size, seq_len)
    model.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as fc:
        logits = model(input_ids=ids, use_cache=True).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
    model.zero_grad(set_to_none=True)
    return int(fc.get_total_flops())
