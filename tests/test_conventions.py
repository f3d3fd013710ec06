"""FLOP conventions beside the exact count: published figures reproduced from their configs, and each
convention's difference checked against terms derived here by hand from the sources.

Every config below is written out with its source; expected figures are the sources' own printed numbers.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.accounting.conventions.facts import Facts, facts_of
from derive.accounting.conventions.reconcile import exact_total, reconcile
from derive.accounting.conventions.registry import CONVENTIONS, PER
from derive.accounting.conventions.run import Measured, conventions_account
from derive.model import symbols as sy
from derive.model.architectures import build
from derive.model.config import ArchOptions, config_from_mapping, load_config, preset_names

B, S, T, L, d, V, h, d_ff = sy.B, sy.S, sy.T, sy.L, sy.d, sy.V, sy.h, sy.d_ff

# GPT-3 175B: Brown et al. 2020, Table 2.1 (96 layers, d_model 12,288, 96 heads, n_ctx 2,048, d_ff = 4 d_model);
# vocabulary 51,200 as Megatron-LM pads it (Narayanan et al. 2021, Section 5.1); GPT-2's block (LayerNorm and
# biases, GELU MLP, learned positions, tied lm_head).
GPT3 = dict(name="gpt3", vocab_size=51200, context_length=2048, num_layers=96, d_model=12288, num_heads=96,
            d_ff=49152, norm="layernorm", ffn="gelu", positions="learned", bias=True, tie_embeddings=True)
# The figure quoted for GPT-3 at s = 2,048, B = 1: 72 B s L h^2 (1 + s/6h + V/12hL), evaluated by hand below too.
GPT3_STEP = 2_204_555_173_429_248

# nanoGPT's GPT-2 small as transformer_sizing.ipynb sizes it (karpathy/nanoGPT, commit 3341b4c): block_size 1024,
# vocab_size 50257, n_layer 12, n_head 12, n_embd 768, bias=False (no bias in Linear or LayerNorm), MLP 4 x n_embd
# with GELU, learned positions, lm_head tied to wte.
NANOGPT = dict(name="nanogpt-gpt2", vocab_size=50257, context_length=1024, num_layers=12, d_model=768,
               num_heads=12, d_ff=3072, norm="layernorm", ffn="gelu", positions="learned", bias=False, norm_bias=False,
               tie_embeddings=True)
NANOGPT_FLOPS = 874_944_921_600  # flops()['total'] (forward + backward at 1,024 tokens)
NANOGPT_PALM = 875_062_886_400  # palm_flops(): (6N + 12 L H Q T) T with N = params()['total'] - wpe
NANOGPT_PARAMS = 124_337_664  # params()['total'], "we see: 124337664, expected: 124337664"


def _config(data: dict):
    return config_from_mapping(data, "test", data["name"])


def _value(expr, **values) -> int:
    subs = {sy.SYMBOLS[k]: v for k, v in values.items()}
    return int(sympy.sympify(expr).xreplace(subs))


# ---------------------------------------------------------------- published figures


def test_gpt3_175b_exact_count_equals_megatron():
    acc = conventions_account(_config(GPT3), batch_size=1, seq_len=2048)
    rows = {r.convention.key: r for r in acc.rows}
    assert acc.exact["training"] == GPT3_STEP
    assert rows["megatron"].flops == GPT3_STEP and rows["megatron"].exact == GPT3_STEP
    # Korthikanti et al. 2022, Appendix A, evaluated here with exact fractions
    b, s, l, hid, v = 1, 2048, 96, 12288, 51200
    assert 72 * b * s * l * hid**2 * (1 + Fraction(s, 6 * hid) + Fraction(v, 12 * hid * l)) == GPT3_STEP
    # Narayanan et al. 2021, eq. (3): with recomputation = the exact count with the block forward done twice
    recompute = 96 * b * s * l * hid**2 * (1 + Fraction(s, 6 * hid) + Fraction(v, 16 * l * hid))
    assert rows["megatron-recompute"].flops == recompute == acc.exact["training+recompute"]
    # the difference is a closed form that vanishes because d_ff = 4 d_model here
    assert sympy.factor(rows["megatron"].difference) == 12 * B * S * L * d * (d_ff - 4 * d)


def test_gpt3_preset_is_the_written_config():
    preset = load_config("gpt3-175b")
    assert preset.values() == _config(GPT3).values() and preset.arch == _config(GPT3).arch
    assert conventions_account(preset).exact["training"] == GPT3_STEP


def test_nanogpt_gpt2_small_exact_count():
    acc = conventions_account(_config(NANOGPT), batch_size=1, seq_len=1024)
    assert acc.exact["training"] == NANOGPT_FLOPS
    assert acc.exact["forward"] == 291_648_307_200  # forward_total in the notebook


def test_nanogpt_formula_with_the_notebooks_parameter_count():
    # N = params()['total'] - params()['emebedding/position'] = 124,337,664 - 1024 * 768
    facts = Facts.given(NANOGPT_PARAMS, 12, 64, position_embedding=1024 * 768)
    per_sequence = CONVENTIONS["nanogpt"].expr(facts)
    assert _value(per_sequence, num_layers=12, context_length=1024) == NANOGPT_PALM


def test_nanogpt_palm_estimate_from_the_config():
    acc = conventions_account(_config(NANOGPT), batch_size=1, seq_len=1024)
    rows = {r.convention.key: r for r in acc.rows}
    assert acc.value(facts_of(acc.derivation).params) == NANOGPT_PARAMS
    assert rows["nanogpt"].flops == NANOGPT_PALM


def test_palm_540b_mfu_with_and_without_attention():
    # Chowdhery et al. 2022: Table 1 (118 layers, 48 heads, 540.35B parameters), head dimension 256 (with a 256k
    # vocabulary, 18,432 x 256,000 tied embedding, multi-query attention and SwiGLU 4 x d_model it gives 540.35B),
    # sequence length 2,048; Section 4.1 / Appendix B: 238.3K tokens/s on 6144 TPU v4 chips at 275 TFLOP/s.
    facts = Facts.given(540_350_000_000, 48, 256)
    shape = dict(num_layers=118, seq_len=2048, batch_size=1)
    measured = Measured(Fraction("238.3e3"), 6144, Fraction(275 * 10**12), "TPU v4")
    palm = _value(CONVENTIONS["palm"].per_step(facts), **shape)
    six_n = _value(CONVENTIONS["6n"].per_step(facts), **shape)
    assert round(float(measured.utilization(palm, 2048)) * 100, 1) == 46.2
    assert round(float(measured.utilization(six_n, 2048)) * 100, 1) == 45.7
    assert round(palm / 2048 / 10**12, 2) == 3.28  # Table 22: TFLOPs per token (non-attn + attn)
    # the paper's own arithmetic for 45.7%: (238.3 x 6 x 540) / (275 x 6144)
    assert round(238.3 * 6 * 540 / (275 * 6144) * 100, 1) == 45.7


def test_palm_540b_parameter_count_supports_head_dim_256():
    # hand count (no biases, tied 256k embedding, multi-query k/v of one head, parallel block with one LayerNorm
    # scale): it lands on Table 1's 540.35B only with head dimension 256, not d_model / heads = 384
    def palm(q: int) -> int:
        dm, layers, heads, vocab = 18432, 118, 48, 256000
        block = dm * heads * q * 2 + 2 * dm * q + 3 * dm * 4 * dm + dm
        return vocab * dm + layers * block + dm
    assert palm(256) // 10**7 == 54035  # 540,356,474,880: Table 1 prints 540.35 (two decimals, truncated)
    assert palm(384) > 560 * 10**9


# ---------------------------------------------------------------- the registry's formulas


@pytest.mark.parametrize("key", [k for k, c in CONVENTIONS.items() if c.written is not None])
def test_terms_add_up_to_the_formula_as_printed(key):
    c = CONVENTIONS[key]
    f = facts_of(build(ArchOptions()))
    assert sympy.expand(c.expr(f) - c.written(f)) == 0


def test_every_exact_group_is_compared_once():
    d = build(ArchOptions(norm="layernorm", ffn="moe", positions="learned", bias=True, gqa=True))
    for key in CONVENTIONS:
        r = reconcile(d, key)
        groups = [g for row in r.rows for g in row.groups]
        assert sorted(groups) == sorted(d.forward_groups), key
        total = sympy.Add(*(row.difference for row in r.rows))
        assert sympy.expand(total - r.difference) == 0, key
        assert sympy.expand(r.exact - exact_total(d, CONVENTIONS[key].scope) / PER[r.convention.per]) == 0


def test_swiglu_gqa_differences_name_the_terms():
    """Llama-style (SwiGLU, grouped-query attention, untied, RMSNorm): each difference derived by hand."""
    der = build(ArchOptions(gqa=True))
    d_kv = sy.h_kv * d / h
    rows = {row.label: row.difference for row in reconcile(der, "megatron").rows}
    # exact q, k, v, o x 3 = 3 L (2 B S d (2d + 2 d_kv)); Megatron assumes 24 B s L h^2
    assert sympy.expand(rows["attention q, k, v and output projections"] - 12 * B * S * L * d * (d_kv - d)) == 0
    # exact SwiGLU x 3 = 18 B S L d d_ff; Megatron's MLP h -> 4h -> h: 48 B s L h^2
    assert sympy.expand(rows["MLP h -> 4h -> h"] - (18 * B * S * L * d * d_ff - 48 * B * S * L * d**2)) == 0
    assert rows["attention scores and over values"] == 0 and rows["logit layer"] == 0
    # MaxText halves attention: exact - MaxText = 3 x half of 4 B S^2 L d
    assert sympy.expand(reconcile(der, "maxtext").difference - 6 * B * S**2 * L * d) == 0
    # Chinchilla: + the embedding matmul and softmax, - k/v as wide as q, - the third SwiGLU matrix (per sequence)
    chin = 3 * (L * (2 * S * d * 2 * (d_kv - d) + 2 * S * d * d_ff + -3 * h * S**2) - 2 * S * V * d)
    assert sympy.expand(reconcile(der, "chinchilla").difference - chin) == 0


def test_palm_matches_the_adamw_sheet_estimate():
    # training/derivation.py reads the same registry entries: one formula, two places it is printed
    from derive.accounting.training.derivation import training

    t = training()
    f = facts_of(t.model)
    assert t.approximations(B * S)["palm"] == CONVENTIONS["palm"].expr(f) * B * S
    assert t.approximations(B * S)["kaplan"] == CONVENTIONS["6n"].expr(f) * B * S


@settings(max_examples=20, deadline=None)
@given(L_=st.integers(1, 8), heads=st.integers(1, 8), dk=st.sampled_from([2, 8, 64]), ff=st.integers(1, 999),
       V_=st.integers(2, 60000), extra=st.integers(0, 64), B_=st.integers(1, 4), data=st.data())
def test_values_follow_the_sources_formulas(L_, heads, dk, ff, V_, extra, B_, data):
    """Random GPT-2-style configs: each value against the source's formula evaluated here with plain integers."""
    dm = heads * dk
    T_ = data.draw(st.integers(1, 64))
    cfg = _config(dict(name="r", vocab_size=V_, context_length=T_ + extra, num_layers=L_, d_model=dm,
                       num_heads=heads, d_ff=ff, norm="layernorm", ffn="gelu", positions="learned", bias=True,
                       tie_embeddings=True))
    acc = conventions_account(cfg, B_, T_)
    rows = {r.convention.key: r.flops for r in acc.rows}
    ctx = T_ + extra
    P = V_ * dm + ctx * dm + L_ * (4 * dm * dm + 4 * dm + 2 * dm * ff + ff + dm + 4 * dm) + 2 * dm
    N_ne = P - V_ * dm - ctx * dm
    tokens = B_ * T_
    assert rows["6n"] == 6 * P * tokens
    assert rows["palm"] == (6 * P + 12 * L_ * heads * dk * T_) * tokens
    assert rows["nanogpt"] == (6 * (P - ctx * dm) + 12 * L_ * heads * dk * ctx) * ctx * B_
    assert rows["torchtitan"] == (6 * P + 6 * L_ * heads * 2 * dk * T_) * tokens  # tied: N = all parameters
    assert rows["kaplan"] == (2 * N_ne + 2 * L_ * T_ * dm) * tokens
    assert rows["kaplan-6n"] == 6 * N_ne * tokens
    fwd = 2 * T_ * V_ * dm + L_ * (8 * T_ * dm * dm + 4 * T_ * T_ * dm + 3 * heads * T_ * T_ + 4 * T_ * dm * ff) \
        + 2 * T_ * dm * V_
    assert rows["chinchilla"] == 3 * fwd * B_
    assert rows["megatron"] == 72 * B_ * T_ * L_ * dm**2 + 12 * B_ * T_**2 * L_ * dm + 6 * B_ * T_ * dm * V_
    exact = 3 * (L_ * (8 * tokens * dm * dm + 4 * tokens * T_ * dm + 4 * tokens * dm * ff) + 2 * tokens * dm * V_)
    assert acc.exact["training"] == exact
    assert rows["maxtext"] == exact - 3 * L_ * 2 * tokens * T_ * dm  # attention halved


def test_mfu_is_the_ratio_of_flops_per_second_to_peak():
    m = Measured(Fraction(1000), 8, Fraction(10**12), "x")
    # 4,096 tokens per step: 1000 / 4096 steps per second
    assert m.utilization(4096 * 10**9, 4096) == Fraction(1000 * 10**9, 8 * 10**12)
    acc = conventions_account(load_config("gpt2-small"), measured_throughput=m)
    rows = {r.convention.key: r for r in acc.rows}
    assert rows["kaplan"].utilization is None  # a forward count gives no training MFU
    assert rows["6n"].utilization == m.utilization(rows["6n"].flops, acc.tokens_per_step)
    eu = acc.exact_utilization()
    assert eu["training+recompute"] > eu["training"] > eu["training_causal"]


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_reconciles(name):
    """Any config derive loads: every convention's term differences add up to exact - convention, per step."""
    acc = conventions_account(load_config(name))
    assert acc.exact["training"] == 3 * acc.exact["forward"]
    for r in acc.rows:
        unit = r.exact // r.exact_per_unit
        assert sum(t.exact - t.convention for t in r.terms) * unit == r.exact - r.flops, (name, r.convention.key)
        assert acc.value(r.difference) * unit == r.exact - r.flops, (name, r.convention.key)
