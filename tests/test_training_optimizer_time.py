"""AdamW FLOPs counted by running the test's own AdamW under a dispatch-mode op counter; training time by hand."""

from __future__ import annotations

import math
from fractions import Fraction

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from derive.model.config import load_config
from derive.accounting.training.optimizer import flops_per_parameter
from derive.accounting.training.run import train_account

ELEMENTWISE = {"mul", "add", "sub", "div", "sqrt"}


class CountElementwise(TorchDispatchMode):
    """Counts one FLOP per output element of each arithmetic aten op."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket.__name__.rstrip("_") in ELEMENTWISE:
            self.flops += out.numel()
        return out


def adamw_step(p, g, m, v, t, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, wd=0.1):
    """CS336 assignment 1 AdamW (Algorithm 2), written independently of derive."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g * g)
    alpha_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    p = p - alpha_t * m / (torch.sqrt(v) + eps)
    p = p - lr * wd * p
    return p, m, v


def test_adamw_flops_per_parameter_by_counting_ops():
    n = 37
    p, g, m, v = (torch.randn(n) for _ in range(4))
    v = v.abs()
    with CountElementwise() as counter:
        adamw_step(p, g, m, v, t=3)
    assert counter.flops % n == 0
    assert flops_per_parameter() == counter.flops // n


def test_gpt2_xl_optimizer_and_train_step_flops():
    t = train_account(load_config("gpt2-xl"))
    P = 2 * 50257 * 1600 + 48 * (4 * 1600**2 + 3 * 1600 * 6400 + 2 * 1600) + 1600
    assert t.optimizer.value == 14 * P
    fwd = 48 * (8 * 1024 * 1024 * 1600**2 + 4 * 1024 * 1024**2 * 1600 + 6 * 1024 * 1024 * 1600 * 6400) \
        + 2 * 1024 * 1024 * 1600 * 50257
    assert t.train_step_flops == 3 * fwd + 14 * P


def test_gpt2_xl_training_days():
    t = train_account(load_config("gpt2-xl"))
    fwd = 48 * (8 * 1024 * 1024 * 1600**2 + 4 * 1024 * 1024**2 * 1600 + 6 * 1024 * 1024 * 1600 * 6400) \
        + 2 * 1024 * 1024 * 1600 * 50257
    seconds = Fraction(400_000 * 3 * fwd, Fraction(19_500_000_000_000) / 2)
    assert t.days() == seconds / 86_400
    assert round(float(t.days()), 2) == 6583.56
