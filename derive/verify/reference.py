"""A plain PyTorch implementation of the assignment architecture, for `derive verify` (imports torch).

Written from the architecture's description (pre-norm; RMSNorm weight only; causal multi-head attention with
separate q, k, v, o and RoPE; SwiGLU W2(SiLU(W1 x) * W3 x); final RMSNorm; untied lm_head; no biases), not
from derive's derivation, so that comparing the two means something. Built on the meta device: no memory,
and FlopCounterMode counts scaled_dot_product_attention's two full-square bmm there.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class RotaryEmbedding(nn.Module):
    """cos/sin tables (context_length x d_k) as non-persistent buffers; applying them is element-wise."""

    def __init__(self, d_k: int, context_length: int, theta: float = 10000.0):
        super().__init__()
        inv_freq = theta ** (-torch.arange(0, d_k, 2).float() / d_k)
        angles = torch.outer(torch.arange(context_length).float(), inv_freq).repeat_interleave(2, dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.shape[-2]
        pairs = x.unflatten(-1, (-1, 2))
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * self.cos[:s] + rotated * self.sin[:s]


class Attention(nn.Module):
    def __init__(self, d_model: int, num_heads: int, context_length: int):
        super().__init__()
        self.h = num_heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
            nn.Linear(d_model, d_model, bias=False) for _ in range(4))
        self.rope = RotaryEmbedding(d_model // num_heads, context_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = (p(x).view(b, s, self.h, d // self.h).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(self.rope(q), self.rope(k), v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, d))


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff, bias=False)
        self.w3 = nn.Linear(d_model, d_ff, bias=False)
        self.w2 = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, d_model: int, num_heads: int, d_ff: int, context_length: int):
        super().__init__()
        self.ln1 = nn.RMSNorm(d_model, elementwise_affine=True)
        self.attn = Attention(d_model, num_heads, context_length)
        self.ln2 = nn.RMSNorm(d_model, elementwise_affine=True)
        self.ffn = SwiGLU(d_model, d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class AssignmentTransformerLM(nn.Module):
    def __init__(self, vocab_size: int, context_length: int, num_layers: int, d_model: int, num_heads: int,
                 d_ff: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.token_embeddings = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(Block(d_model, num_heads, d_ff, context_length) for _ in range(num_layers))
        self.ln_final = nn.RMSNorm(d_model, elementwise_affine=True)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.token_embeddings(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.ln_final(x))


def build_assignment(vocab_size: int, context_length: int, num_layers: int, d_model: int, num_heads: int,
                     d_ff: int, device: str = "meta") -> AssignmentTransformerLM:
    with torch.device(device):
        return AssignmentTransformerLM(vocab_size, context_length, num_layers, d_model, num_heads, d_ff).eval()
