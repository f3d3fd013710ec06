"""Each handout edition's key figures, recomputed here with formulas written in this file (not derive's builders),
and the 2024 model checked against a PyTorch model of the 2024 handout written here too.

Sources: the handouts (CS336 assignment 1: spring 2024 v0.1.6, spring 2025 v1.0.6, spring 2026 v26.0.3) give the
configs, d_ff (2026: 4,288 for XL, "the nearest multiple of 64 to 8/3 x 1,600"), the activation lists and the
hardware (2024/2025: A100 19.5 TFLOP/s fp32, days; 2026: H100 495 TFLOP/s TF32, hours). The 2026 figures the
issue states (1,640,452,800; 3,516,769,894,400; 133,577,729,638,400; 1,635,537,600; 16,356,614,144 x B +
26,168,601,600; batch 3; 202.1 days, 4,850.1 hours) are asserted literally as well.
"""

from __future__ import annotations

from fractions import Fraction

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from derive import api

V, T = 50257, 1024
SIZES = {"gpt2-small": (12, 768, 12), "gpt2-medium": (24, 1024, 16), "gpt2-large": (36, 1280, 20),
         "gpt2-xl": (48, 1600, 25)}


def nearest_64(x: Fraction) -> int:
    """The multiple of 64 nearest x (no tie occurs for these sizes)."""
    q = x / 64
    lo = q.numerator // q.denominator
    return 64 * (lo + 1 if q - lo > Fraction(1, 2) else lo)


def swiglu_params(L, d, dff):  # token embedding, L blocks (q k v o, W1 W2 W3, 2 RMSNorms), final norm, lm_head
    return V * d + L * (4 * d * d + 3 * d * dff + 2 * d) + d + d * V


def swiglu_forward(L, d, dff, S, B=1):
    return L * (8 * B * S * d * d + 4 * B * S * S * d + 6 * B * S * d * dff) + 2 * B * S * d * V


def gelu_tied_params(L, d, dff, ctx=T):  # token + position embeddings, L blocks (4 attn, W1 W2, 2 norms), norm
    return V * d + ctx * d + L * (4 * d * d + 2 * d * dff + 2 * d) + d


def gelu_forward(L, d, dff, S, B=1):
    return L * (8 * B * S * d * d + 4 * B * S * S * d + 4 * B * S * d * dff) + 2 * B * S * d * V


def md(edition: str, sheet: str = "transformer-accounting", detail: str = "full") -> str:
    return api.render_sheet(sheet, fmt="md", edition=edition, detail=detail)


def test_2026_d_ff_is_the_nearest_multiple_of_64():
    expected = {"gpt2-small": 2048, "gpt2-medium": 2752, "gpt2-large": 3392, "gpt2-xl": 4288}
    ed = api.load_edition("2026")
    for name, (L, d, h) in SIZES.items():
        assert nearest_64(Fraction(8, 3) * d) == expected[name] == ed.models[name].d_ff


def test_2026_transformer_accounting_figures():
    text = md("2026")
    L, d, h = SIZES["gpt2-xl"]
    assert swiglu_params(L, d, 4288) == 1_640_452_800
    assert swiglu_forward(L, d, 4288, T) == 3_516_769_894_400
    assert swiglu_forward(L, d, 4288, 16384) == 133_577_729_638_400
    for figure in ("1,640,452,800", "3,516,769,894,400", "133,577,729,638,400"):
        assert figure in text
    for name, (L, d, h) in SIZES.items():
        dff = nearest_64(Fraction(8, 3) * d)
        row = f"| {name} | {L} | {d:,} | {h} | {dff:,} | {swiglu_params(L, d, dff):,} | {swiglu_forward(L, d, dff, T):,} |"
        assert row in text
    assert f"{4 * swiglu_params(48, 1600, 4288):,} bytes" in text


def _activations_2026(L, d, h, S=T):
    """The 2026 list per sequence: 2 RMSNorms, QKV, QK^T, softmax, weighted sum, output projection, W1, W3,
    SiLU, gate product, W2 per block (d_ff = 8/3 d), then final norm, logits and cross-entropy."""
    dff = Fraction(8, 3) * d
    per_block = S * d * (2 + 3 + 1 + 1 + 1) + 2 * h * S * S + 4 * S * dff
    return L * per_block + S * d + 2 * S * V


def test_2026_adamw_accounting_figures():
    text = md("2026", "adamw-accounting")
    L, d, h = SIZES["gpt2-xl"]
    params = V * d + L * (4 * d * d + 3 * d * Fraction(8, 3) * d + 2 * d) + d + d * V
    a, b = 4 * _activations_2026(L, d, h), 16 * params
    assert (params, a, b) == (1_635_537_600, 16_356_614_144, 26_168_601_600)
    a, b = int(a), int(b)  # whole numbers (asserted above), formatted with thousands separators below
    batch = (80 * 10**9 - b) // a
    assert batch == 3
    assert f"memory = {a:,} * batch_size + {b:,} bytes" in text
    assert f"= **{batch}**" in text and "3 for 80GB and 3 for 80GiB" in text
    # (d): the XL config (d_ff 4,288); forward + backward = 3 x forward; 400K steps, batch 1,024; 495e12 x 50%
    seconds = Fraction(400_000 * 3 * swiglu_forward(L, d, 4288, T, B=1024), 495 * 10**12 // 2)
    hours, days = seconds / 3600, seconds / 86400
    assert f"{float(hours):,.2f}" == "4,850.06" and f"{float(days):,.2f}" == "202.09"
    assert "About 4,850.06 hours (202.09 days)" in text
    assert "| 4,850.1 | 202.1 |" in text
    # with d_ff = 8/3 d_model as (a) assumes, the step FLOPs and the time beside it
    forward_83 = L * (8 * 1024 * T * d * d + 4 * 1024 * T * T * d + 16 * 1024 * T * d * d) + 2 * 1024 * T * d * V
    assert f"step_flops = {3 * forward_83:,}" in text
    assert f"{float(Fraction(400_000 * 3 * forward_83, 495 * 10**12 // 2) / 3600):,.2f} hours" in text


def test_2024_transformer_accounting_figures():
    text = md("2024")
    for name, (L, d, h) in SIZES.items():
        dff = 4 * d
        row = f"| {name} | {L} | {d:,} | {h} | {dff:,} | {gelu_tied_params(L, d, dff):,} | {gelu_forward(L, d, dff, T):,} |"
        assert row in text
    assert gelu_tied_params(48, 1600, 6400) == 1_556_764_800
    assert f"{gelu_forward(48, 1600, 6400, 16384):,}" in text
    assert "## (a) Parameters, memory and the matrix multiplies of one forward pass" in text
    assert "## (d) gpt2-xl at context_length 16,384" in text and "## (e)" not in text
    # a GELU MLP crosses over where 4 S^2 d = 4 S d d_ff: seq_len* = d_ff
    assert "`seq_len* = d_ff = 6,400` tokens" in text


def test_2024_adamw_accounting_figures():
    text = md("2024", "adamw-accounting")
    L, d, h, dff = 48, 1600, 25, 6400
    per_block = T * d * (2 + 3 + 1 + 1 + 1) + 2 * h * T * T + 2 * T * dff  # the list with W1 and GELU outputs
    acts = L * per_block + T * d + 2 * T * V
    params = gelu_tied_params(L, d, dff)
    a, b = 4 * acts, 16 * params
    assert f"memory = {a:,} * batch_size + {b:,} bytes" in text
    seconds = Fraction(400_000 * 3 * gelu_forward(L, d, dff, T, B=1024), 19_500_000_000_000 // 2)
    assert f"About {float(seconds / 86400):,.2f} days" in text
    assert f"{(80 * 10**9 - b) // a} for 80GB and {(80 * 2**30 - b) // a} for 80GiB" in text


def test_2025_is_unchanged_by_the_editions():
    text = md("2025")
    assert f"{swiglu_params(48, 1600, 6400):,}" in text and f"{swiglu_forward(48, 1600, 6400, 16384):,}" in text
    assert "About 6,583.56 days" in md("2025", "adamw-accounting")


# ---- the 2024 model in PyTorch, written from the handout (section 3): an oracle independent of derive -------------
class Model2024(torch.nn.Module):
    """Pre-norm LM: token + learned position embeddings, L x [MHA(RMSNorm x) ; W2 GELU(W1 RMSNorm x)], final
    RMSNorm, lm_head tied to the token embedding; no biases; RMSNorm with a gain only."""

    def __init__(self, vocab, ctx, layers, d, heads, dff):
        super().__init__()
        nn = torch.nn
        self.heads = heads
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            blk = nn.Module()
            blk.g1, blk.g2 = nn.Parameter(torch.ones(d)), nn.Parameter(torch.ones(d))
            blk.q, blk.k, blk.v, blk.o = (nn.Linear(d, d, bias=False) for _ in range(4))
            blk.w1, blk.w2 = nn.Linear(d, dff, bias=False), nn.Linear(dff, d, bias=False)
            self.blocks.append(blk)
        self.gf = nn.Parameter(torch.ones(d))
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight

    @staticmethod
    def rms(x, g):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5) * g

    def forward(self, ids):
        B, S = ids.shape
        x = self.tok(ids) + self.pos(torch.arange(S, device=ids.device))
        for b in self.blocks:
            h = self.rms(x, b.g1)
            q, k, v = (m(h).view(B, S, self.heads, -1).transpose(1, 2) for m in (b.q, b.k, b.v))
            scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
            mask = torch.ones(S, S, dtype=torch.bool, device=ids.device).triu(1)
            att = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
            x = x + b.o(att.transpose(1, 2).reshape(B, S, -1))
            x = x + b.w2(torch.nn.functional.gelu(b.w1(self.rms(x, b.g2))))
        return self.head(self.rms(x, self.gf))


@settings(max_examples=12, deadline=None)
@given(L=st.integers(1, 3), h=st.integers(1, 4), dk=st.integers(1, 8), dff=st.integers(1, 40),
       vocab=st.integers(2, 60), S=st.integers(1, 12), B=st.integers(1, 3))
def test_2024_architecture_matches_a_torch_model(L, h, dk, dff, vocab, S, B):
    d = h * dk
    ed = api.load_edition("2024")
    cfg = api.load_config("gpt2-small").replace(name="t", vocab_size=vocab, context_length=S, num_layers=L,
                                               d_model=d, num_heads=h, d_ff=dff, norm=ed.arch.norm,
                                               ffn=ed.arch.ffn, positions=ed.arch.positions,
                                               tie_embeddings=ed.arch.tie_embeddings)
    with torch.device("meta"):
        model = Model2024(vocab, S, L, d, h, dff)
        ids = torch.zeros(B, S, dtype=torch.long)
    acc = api.account(cfg, batch_size=B)
    assert sum(p.numel() for p in model.parameters()) == acc.total_params
    with FlopCounterMode(display=False) as fwd:
        logits = model(ids)
    assert fwd.get_total_flops() == acc.forward_flops
    with FlopCounterMode(display=False) as bwd:
        logits.float().sum().backward()
    train = api.train_account(cfg, batch_size=B, conventions=api.training_conventions(activations="cs336-2024"))
    assert bwd.get_total_flops() == train.backward.value == 2 * acc.forward_flops


def test_every_closed_form_beside_a_figure_in_2026_part_c_holds_for_that_figure():
    """(c) counts XL as configured (d_ff 4,288) while (a) assumes 8/3 d_model: the step's closed form and the
    estimates' formulas printed beside (c)'s figures must evaluate to those figures (a closed form at 8/3 d_model
    beside a figure at 4,288 was an equation that does not hold)."""
    import re

    import sympy

    text = api.render_sheet("adamw-accounting", fmt="md", edition="2026")
    L, d, dff, B = 48, 1600, 4288, 1024
    subs = {"batch_size": B, "context_length": T, "d_model": d, "d_ff": dff, "num_layers": L, "vocab_size": V}
    step = 3 * swiglu_forward(L, d, dff, T, B)  # backward = 2 x forward, per matmul
    assert step == 10_803_517_115_596_800
    (value,) = re.findall(r"^step_flops \(forward \+ backward\) = ([\d,]+)$", text, re.M)
    (form,) = re.findall(r"^step_flops = (batch_size \*.*)$", text, re.M)
    assert int(value.replace(",", "")) == step
    assert sympy.sympify(form.replace("^", "**")).subs(subs) == step
    rows = re.findall(r"^\| 6N[^|]* \| `([^`]+)` \| ([\d,]+) \|", text, re.M)
    assert len(rows) == 2
    for formula, flops in rows:
        assert sympy.sympify(formula.replace("^", "**")).subs(subs) == int(flops.replace(",", ""))
