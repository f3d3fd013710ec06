"""Exact figures for the four GPT-2 shapes and XL at 16,384, from hand formulas and published facts."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from conftest import CONTEXT, GPT2_SHAPES, VOCAB, hand_forward_flops, hand_params
from derive.accounting.account import account
from derive.model.config import ModelConfig, load_config


@pytest.mark.parametrize("name", sorted(GPT2_SHAPES))
def test_gpt2_sizes(name):
    L, d, h, dff = GPT2_SHAPES[name]
    acc = account(load_config(name))
    assert acc.total_params == hand_params(VOCAB, L, d, dff)
    assert acc.forward_flops == hand_forward_flops(VOCAB, L, d, dff, 1, CONTEXT)
    assert acc.memory("fp32").value == 4 * hand_params(VOCAB, L, d, dff)
    assert acc.memory("bf16").value == 2 * hand_params(VOCAB, L, d, dff)


def test_gpt2_xl_published_facts():
    # Facts checked against PyTorch 2.13 on the meta device (shared/DESIGN.md).
    acc = account(load_config("gpt2-xl"))
    assert acc.total_params == 2_127_057_600
    assert acc.memory("fp32").value == 8_508_230_400
    assert round(8_508_230_400 / 10**9, 2) == 8.51 and round(8_508_230_400 / 2**30, 2) == 7.92
    assert acc.forward_flops == 4_513_336_524_800
    assert acc.buffers.value == 48 * 131_072  # what the original document wrongly added: 6,291,456


def test_gpt2_xl_long_context():
    acc = account(load_config("gpt2-xl", {"context_length": 16384}))
    assert acc.forward_flops == 149_522_795_724_800
    assert acc.total_params == 2_127_057_600  # RoPE tables grow, trainable parameters do not


def test_shares_sum_to_one_and_match_hand_split():
    L, d, h, dff = GPT2_SHAPES["gpt2-xl"]
    acc = account(load_config("gpt2-xl"))
    assert sum(acc.shares.values()) == 1
    assert acc.shares["ffn"] == Fraction(6 * L * CONTEXT * d * dff, acc.forward_flops)
    assert acc.groups["lm_head"] == 2 * CONTEXT * d * VOCAB


configs = st.builds(
    lambda V, T, L, h, dk, dff, name="random": ModelConfig(name, V, T, L, h * dk, h, dff),
    V=st.integers(1, 10**6), T=st.integers(1, 10**5), L=st.integers(1, 200), h=st.integers(1, 128),
    dk=st.integers(1, 256), dff=st.integers(1, 10**5),
)


@settings(max_examples=60, deadline=None)
@given(cfg=configs, B=st.integers(1, 64), data=st.data())
def test_random_configs_match_hand_formulas(cfg, B, data):
    S = data.draw(st.integers(1, cfg.context_length))
    acc = account(cfg, B, S)
    assert acc.total_params == hand_params(cfg.vocab_size, cfg.num_layers, cfg.d_model, cfg.d_ff)
    assert acc.forward_flops == hand_forward_flops(cfg.vocab_size, cfg.num_layers, cfg.d_model, cfg.d_ff, B, S)
    assert isinstance(acc.forward_flops, int)
