"""Golden files for the default sheet's layout (tests/data/sheets); numbers are checked separately below.

Regenerate after an intended layout change with: DERIVE_UPDATE_GOLDEN=1 pytest tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import CONTEXT, GPT2_SHAPES, VOCAB, hand_forward_flops, hand_params
from derive import api

CASES = Path(__file__).parent / "data" / "sheets"


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_default_sheet_matches_golden(fmt):
    text = api.render_sheet(fmt=fmt)
    golden = CASES / f"transformer-accounting.{fmt}"
    if os.environ.get("DERIVE_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_default_sheet_figures_are_independently_right():
    text = api.render_sheet(fmt="md")
    for name, (L, d, h, dff) in GPT2_SHAPES.items():
        assert f"| {name} |" in text
        assert f"{hand_params(VOCAB, L, d, dff):,}" in text
        assert f"{hand_forward_flops(VOCAB, L, d, dff, 1, CONTEXT):,}" in text
    L, d, h, dff = GPT2_SHAPES["gpt2-xl"]
    assert f"{hand_forward_flops(VOCAB, L, d, dff, 1, 16384):,}" in text
    assert "8,508,230,400 bytes = 8.51 GB = 7.92 GiB" in text
    ratio = hand_forward_flops(VOCAB, L, d, dff, 1, 16384) / hand_forward_flops(VOCAB, L, d, dff, 1, CONTEXT)
    assert f"{ratio:.2f} times" in text


def test_part_c_and_d_sentences_follow_the_numbers():
    text = api.render_sheet(fmt="md")
    # FFN: 6 S d d_ff L of the total is the largest group for every size here (computed by hand).
    L, d, h, dff = GPT2_SHAPES["gpt2-xl"]
    ffn = 6 * CONTEXT * d * dff * L
    assert f"The feed-forward (SwiGLU) matmuls need the most FLOPs: {ffn:,}" in text
    small, xl = GPT2_SHAPES["gpt2-small"], GPT2_SHAPES["gpt2-xl"]

    def lm_share(shape):
        L, d, h, dff = shape
        return 2 * CONTEXT * d * VOCAB / hand_forward_flops(VOCAB, L, d, dff, 1, CONTEXT)

    assert (f"The share of lm_head (output projection) shrinks steadily from {lm_share(small) * 100:.1f}% "
            f"(gpt2-small) to {lm_share(xl) * 100:.1f}% (gpt2-xl).") in text
