"""Shared fixtures; hand formulas here are written independently of derive's builders."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# CI replays the same examples every run (a red CI must mean a change broke something); locally hypothesis
# keeps exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

GPT2_SHAPES = {
    # name: (num_layers, d_model, num_heads, d_ff) -- the homework's shapes; d_ff = 4 d_model except XL,
    # where the problem gives 6,400 (also 4 x 1,600).
    "gpt2-small": (12, 768, 12, 3072),
    "gpt2-medium": (24, 1024, 16, 4096),
    "gpt2-large": (36, 1280, 20, 5120),
    "gpt2-xl": (48, 1600, 25, 6400),
}
VOCAB = 50257
CONTEXT = 1024


def hand_params(V: int, L: int, d: int, d_ff: int) -> int:
    """Embedding + L x (4 attention matrices + 3 SwiGLU matrices + 2 RMSNorm weights) + final norm + lm_head."""
    return V * d + L * (4 * d * d + 3 * d * d_ff + 2 * d) + d + d * V


def hand_forward_flops(V: int, L: int, d: int, d_ff: int, B: int, S: int) -> int:
    """2 FLOPs per MAC: q,k,v,o (4 x 2BSd^2), QK^T and AV (2 x 2BS^2d), SwiGLU (3 x 2BSd d_ff), lm_head 2BSdV."""
    per_block = 4 * 2 * B * S * d * d + 2 * 2 * B * S * S * d + 3 * 2 * B * S * d * d_ff
    return L * per_block + 2 * B * S * d * V


@pytest.fixture
def xl_shape():
    return GPT2_SHAPES["gpt2-xl"]
