"""The usual alternative to derive: build the model in PyTorch on the meta device and count.

The assignment architecture, written independently of derive: token embedding; num_layers pre-norm blocks
of RMSNorm, q/k/v/o Linear (no bias), RoPE (element-wise, cos/sin tables as buffers), causal attention
with explicit score and weighted-sum matmuls, RMSNorm, SwiGLU (W1, W3: d_model -> d_ff, W2: d_ff ->
d_model); final RMSNorm; untied lm_head. Run as a script it prints JSON {params, forward_flops} for a
YAML config, so the benchmark can time it in a fresh interpreter (torch import included).
"""

from __future__ import annotations

import json
import sys

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


class RMSNorm(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class RoPE(nn.Module):
    def __init__(self, d_k: int, context: int) -> None:
        super().__init__()
        inv = 1.0 / (10000 ** (torch.arange(0, d_k, 2).float() / d_k))
        ang = torch.outer(torch.arange(context).float(), inv)
        self.register_buffer("cos", torch.cos(ang), persistent=False)
        self.register_buffer("sin", torch.sin(ang), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.shape[-2]
        x1, x2 = x[..., 0::2], x[..., 1::2]
        c, si = self.cos[:s], self.sin[:s]
        return torch.stack((x1 * c - x2 * si, x1 * si + x2 * c), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, d: int, h: int, d_ff: int, context: int) -> None:
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = RMSNorm(d), RMSNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.w1, self.w3 = nn.Linear(d, d_ff, bias=False), nn.Linear(d, d_ff, bias=False)
        self.w2 = nn.Linear(d_ff, d, bias=False)
        self.rope = RoPE(d // h, context)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        y = self.ln1(x)
        q, k, v = (p(y).view(b, s, self.h, d // self.h).transpose(1, 2) for p in (self.q, self.k, self.v))
        q, k = self.rope(q), self.rope(k)
        scores = torch.matmul(q, k.transpose(-1, -2)) / (d // self.h) ** 0.5
        mask = torch.ones(s, s, dtype=torch.bool, device=x.device).tril()
        att = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        x = x + self.o(torch.matmul(att, v).transpose(1, 2).reshape(b, s, d))
        y = self.ln2(x)
        return x + self.w2(torch.nn.functional.silu(self.w1(y)) * self.w3(y))


class LM(nn.Module):
    def __init__(self, c: dict) -> None:
        super().__init__()
        self.embed = nn.Embedding(c["vocab_size"], c["d_model"])
        self.blocks = nn.ModuleList(Block(c["d_model"], c["num_heads"], c["d_ff"], c["context_length"])
                                    for _ in range(c["num_layers"]))
        self.ln_f = RMSNorm(c["d_model"])
        self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for blk in self.blocks:
            x = blk(x)
        return self.lm_head(self.ln_f(x))


def count(c: dict, batch: int = 1, seq: int | None = None) -> dict[str, int]:
    """Trainable parameters and forward FLOPs (FlopCounterMode) of the model built on the meta device."""
    with torch.device("meta"):
        model = LM(c)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    ids = torch.zeros((batch, seq or c["context_length"]), dtype=torch.long, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(ids)
    return {"params": params, "forward_flops": counter.get_total_flops()}


if __name__ == "__main__":
    import yaml

    with open(sys.argv[1], encoding="utf-8") as fh:
        print(json.dumps(count(yaml.safe_load(fh))))
