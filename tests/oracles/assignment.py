"""Independent PyTorch reference of the CS336 assignment-1 Transformer LM.

Knows nothing about ``derive``. Built on the meta device by default, so
construction and FlopCounterMode-instrumented forward/backward passes cost
(almost) nothing even at GPT-2 XL size.

Architecture (pre-norm, decoder-only):
  token embedding (V x d) ->
  L x [ x + MHA(RMSNorm(x)) ; x + SwiGLU(RMSNorm(x)) ] ->
  final RMSNorm -> untied lm_head (d -> V, no bias).
Attention: separate q/k/v/o (d x d, no bias), RoPE on q and k (element-wise
only, cos/sin tables are buffers of shape (context_length, d_k)), scores
computed explicitly as Q @ K^T (full S x S square, causal mask applied
afterwards) unless ``use_sdpa=True``.
SwiGLU: W2(SiLU(W1 x) * W3 x), W1/W3: d -> d_ff, W2: d_ff -> d, no bias.

FlopCounterMode counts 2*M*N*K per matmul; with B, S, d, d_ff, V, L:
  forward = L*(8*B*S*d^2 + 4*B*S^2*d + 6*B*S*d*d_ff) + 2*B*S*d*V
(projections, FFN and lm_head as aten.mm; Q@K^T and P@V as aten.bmm; RMSNorm, RoPE, softmax, mask: 0).
train step (forward + cross-entropy + backward) == 3 x forward exactly: every counted matmul gets two
equal-size backward matmuls (dX and dW; dX is needed even in layer 0 because the embedding output requires
grad), while cross-entropy, softmax backward and the embedding backward (embedding lookup -> index_put /
embedding_dense_backward) are not matmuls and count 0.

use_sdpa=True counts the same ON META (meta SDPA is the math decomposition: two full-square aten.bmm). On real
CPU tensors SDPA dispatches to aten._scaled_dot_product_flash_attention_for_cpu, which torch 2.13's
FlopCounterMode does not count at all (0 attention FLOPs) -- use the meta device.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "AssignmentLM",
    "build_assignment_model",
    "trainable_params",
    "buffer_numel",
    "forward_flops",
    "forward_flop_counts",
    "train_step_flops",
    "train_step_flop_counts",
]


class Linear(nn.Module):
    """y = x @ W^T, W of shape (d_out, d_in), no bias."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_out, d_in))
        if self.weight.device.type != "meta":
            nn.init.trunc_normal_(self.weight, std=math.sqrt(2.0 / (d_in + d_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T


class Embedding(nn.Module):
    def __init__(self, num_embeddings: int, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_embeddings, d))
        if self.weight.device.type != "meta":
            nn.init.trunc_normal_(self.weight, std=1.0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.weight[ids]


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # element-wise only: no matmul FLOPs
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x / rms * self.weight


class RoPE(nn.Module):
    """Rotary embedding on interleaved pairs; tables are buffers, not parameters."""

    def __init__(self, d_k: int, context_length: int, theta: float = 10000.0):
        super().__init__()
        assert d_k % 2 == 0, "d_k must be even for RoPE"
        inv_freq = theta ** (-torch.arange(0, d_k, 2, dtype=torch.float32) / d_k)  # (d_k/2,)
        pos = torch.arange(context_length, dtype=torch.float32)
        angles = pos[:, None] * inv_freq[None, :]  # outer product by broadcasting, (T, d_k/2)
        angles = torch.repeat_interleave(angles, 2, dim=-1)  # (T, d_k)
        self.register_buffer("cos", torch.cos(angles), persistent=False)
        self.register_buffer("sin", torch.sin(angles), persistent=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        # x: (..., S, d_k); positions: (S,)
        cos = self.cos[positions]
        sin = self.sin[positions]
        x_even = x[..., 0::2]
        x_odd = x[..., 1::2]
        rotated = torch.stack((-x_odd, x_even), dim=-1).flatten(-2)
        return x * cos + rotated * sin


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int, rope: RoPE, use_sdpa: bool = False):
        super().__init__()
        assert d_model % num_heads == 0
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.q_proj = Linear(d_model, d_model)
        self.k_proj = Linear(d_model, d_model)
        self.v_proj = Linear(d_model, d_model)
        self.output_proj = Linear(d_model, d_model)
        self.rope = rope  # shared module; its buffers are counted once
        self.use_sdpa = use_sdpa

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, _ = x.shape
        h, dk = self.num_heads, self.d_k

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, S, h, dk).transpose(1, 2)  # (B, h, S, d_k)

        q = split(self.q_proj(x))
        k = split(self.k_proj(x))
        v = split(self.v_proj(x))
        positions = torch.arange(S, device=x.device)
        q = self.rope(q, positions)
        k = self.rope(k, positions)
        if self.use_sdpa:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(dk)  # (B, h, S, S), full square
            mask = torch.ones(S, S, dtype=torch.bool, device=x.device).tril()
            scores = scores.masked_fill(~mask, float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            out = probs @ v  # (B, h, S, d_k)
        out = out.transpose(1, 2).reshape(B, S, self.d_model)
        return self.output_proj(out)


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.w1 = Linear(d_model, d_ff)
        self.w2 = Linear(d_ff, d_model)
        self.w3 = Linear(d_model, d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, d_model: int, num_heads: int, d_ff: int, rope: RoPE, use_sdpa: bool):
        super().__init__()
        self.ln1 = RMSNorm(d_model)
        self.attn = MultiHeadSelfAttention(d_model, num_heads, rope, use_sdpa)
        self.ln2 = RMSNorm(d_model)
        self.ffn = SwiGLU(d_model, d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class AssignmentLM(nn.Module):
    def __init__(self, vocab_size, context_length, num_layers, d_model, num_heads, d_ff, use_sdpa=False):
        super().__init__()
        self.vocab_size = vocab_size
        self.context_length = context_length
        self.token_embeddings = Embedding(vocab_size, d_model)
        self.rope = RoPE(d_model // num_heads, context_length)
        self.layers = nn.ModuleList(
            TransformerBlock(d_model, num_heads, d_ff, self.rope, use_sdpa) for _ in range(num_layers)
        )
        self.ln_final = RMSNorm(d_model)
        self.lm_head = Linear(d_model, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        assert ids.shape[-1] <= self.context_length
        x = self.token_embeddings(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.ln_final(x))


def build_assignment_model(
    vocab_size: int,
    context_length: int,
    num_layers: int,
    d_model: int,
    num_heads: int,
    d_ff: int,
    *,
    use_sdpa: bool = False,
    device: str | torch.device = "meta",
) -> AssignmentLM:
    with torch.device(device):
        return AssignmentLM(vocab_size, context_length, num_layers, d_model, num_heads, d_ff, use_sdpa)


def trainable_params(model: nn.Module) -> int:
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return int(total)


def buffer_numel(model: nn.Module) -> int:
    seen: set[int] = set()
    total = 0
    for b in model.buffers():
        if id(b) not in seen:
            seen.add(id(b))
            total += b.numel()
    return int(total)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _ids(model: nn.Module, batch_size: int, seq_len: int) -> torch.Tensor:
    vocab = getattr(model, "vocab_size", 2)
    return torch.randint(0, vocab, (batch_size, seq_len), dtype=torch.long, device=_device_of(model))


def forward_flops(model: nn.Module, batch_size: int, seq_len: int) -> int:
    ids = _ids(model, batch_size, seq_len)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(ids)
    return int(fc.get_total_flops())


def forward_flop_counts(model: nn.Module, batch_size: int, seq_len: int) -> dict[str, int]:
    ids = _ids(model, batch_size, seq_len)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(ids)
    return {str(k): int(v) for k, v in fc.get_flop_counts().get("Global", {}).items()}


def train_step_flops(model: nn.Module, batch_size: int, seq_len: int) -> int:
    return sum(train_step_flop_counts(model, batch_size, seq_len).values())


def train_step_flop_counts(model: nn.Module, batch_size: int, seq_len: int) -> dict[str, int]:
    ids = _ids(model, batch_size, seq_len)
    targets = _ids(model, batch_size, seq_len)
    model.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as fc:
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
    model.zero_grad(set_to_none=True)
    return {str(k): int(v) for k, v in fc.get_flop_counts().get("Global", {}).items()}
