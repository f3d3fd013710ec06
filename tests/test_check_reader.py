"""Classes of input `derive check` reads (issue 11, last part): a parenthesis against a number, a subscript after a
symbol macro in LaTeX, models of a document's own, a formula with a remark, quantities equal at some sizes, and
the part names of issue 12's architectures (transformers' names and the words people use).

Every expected figure is worked out by hand next to it (or comes from transformers' modeling code, named),
never copied from derive's output."""

from __future__ import annotations

from fractions import Fraction

import pytest

from conftest import hand_params
from derive import api
from derive.check.arith import evaluate
from derive.check.checker import check_text
from derive.check.formula import to_sympy
from derive.check.latex import Converter, read_macros
from derive.check.values import NotUnderstood
from derive.model.config import ModelConfig

# ------------------------------------------------------------------ a parenthesis after a number


@pytest.mark.parametrize("text, symbols, value, unit", [
    ("4(1,600 + 48)", {}, 4 * 1648, None),  # against the number: a product
    ("4(d_model + 2) bytes", {"d_model": 1600}, 4 * 1602, "bytes"),
    ("2 (d_model + 1)", {"d_model": 1600}, 2 * 1601, None),  # a sum over names after a space: a product too
    ("4(P + P + 2 * P + A) bytes", {"P": 10, "A": 5}, 4 * 45, "bytes"),
    ("3(L)", {"L": 48}, 144, None),
])
def test_a_parenthesis_against_a_number_multiplies(text, symbols, value, unit):
    q = evaluate(text, symbols)
    assert q.value == value and q.unit == unit and q.stripped == ()


def test_a_product_of_unknown_names_is_not_the_bare_number():
    # the adamw sheet's `M = 4(P + P + 2P + A) bytes` read as "4 bytes" before
    for text in ("4(P + P + 2P + A) bytes", "4 (P + P + 2P + A) bytes"):
        with pytest.raises(NotUnderstood, match="unknown symbol 'P'"):
            evaluate(text)


@pytest.mark.parametrize("text, value, remark", [
    ("2,127,057,600 (2.1B)", 2_127_057_600, "(2.1B)"),  # the number said again
    ("80 GB (decimal)", 80 * 10**9, "(decimal)"),
    ("1,600 (d)", 1600, "(d)"),
    ("48 (L)", 48, "(L)"),
    ("12 (as 2 layers per block)", 12, "(as 2 layers per block)"),
    ("2(a)", 2, "(a)"),  # a part label against the number: no symbol a
])
def test_a_restatement_or_words_after_a_number_stay_a_remark(text, value, remark):
    for implicit in (False, True):
        q = evaluate(text, {"d": 1600, "L": 48}, implicit=implicit)
        assert q.value == value and q.stripped == (remark,)


def test_numbers_after_a_space_are_not_multiplied():
    with pytest.raises(NotUnderstood, match=r"unexpected '\('"):
        evaluate("2 (3 + 4)")  # no implicit multiplication between written numbers (test_claims keeps this too)
    with pytest.raises(NotUnderstood):
        evaluate("1,024 (2^10)")


# ------------------------------------------------------------------ LaTeX

def test_a_subscript_after_a_symbol_macro_belongs_to_its_name():
    tex = r"\providecommand{\batch}{B}\providecommand{\dmodel}{d}"
    conv = Converter(read_macros(tex))
    assert conv.convert(r"$\batch_{\max} = \lfloor \cdot \rfloor$").split("=")[0].strip() == "batch_size_max"
    assert conv.convert(r"$\dmodel _{\mathrm{new}} = 2$").split("=")[0].strip() == "d_model_new"
    assert conv.convert(r"$2 \batch \dmodel$").split() == ["2", "batch_size", "d_model"]  # no subscript: apart


def test_char_codes_are_their_characters():
    conv = Converter()
    assert conv.convert(r"readings of {\ttfamily\char34}80 GB{\ttfamily\char34} agree") == 'readings of "80 GB" agree'
    assert conv.convert(r"\char'42x" + '\\char"22') == '"x"'


def test_the_2026_adamw_sheet_in_tex_reads_clean():
    text = api.render_sheet("adamw-accounting", fmt="tex", edition="2026")
    report = check_text(text, "sheet.tex")
    assert [(c.number, c.claim[:60]) for c in report.lines if c.verdict != "ok"] == []
    # its budget table: 80 GB - b = 80,000,000,000 - 26,168,601,600 = 53,831,398,400; / 16,356,614,144 = 3.2911
    rows = [c for c in report.lines if c.claim.startswith("80GB") and "3.2911" in c.claim or "floor" in c.claim]
    assert rows and all(c.verdict == "ok" for c in rows)
    assert 3 * 16_356_614_144 + 26_168_601_600 <= 80 * 10**9 < 4 * 16_356_614_144 + 26_168_601_600


# ------------------------------------------------------------------ models of the document's own

# toy-c: L 3, d 48, d_ff 96, V 1,000: 48,000 + 48,000 + 3 x (4 x 2,304 + 3 x 48 x 96 + 96) + 48 = 165,456
OWN = """# Three toys

vocab_size: 1000
context_length: 64
num_layers: 4
d_model: 60
num_heads: 5
d_ff: 120

## Parameters

| model | num_layers | d_model | num_heads | d_ff | parameters |
|---|---:|---:|---:|---:|---:|
| toy-a | 2 | 36 | 3 | 72 | {a} |
| toy-c | 3 | 48 | 4 | 96 | {c} |
| toy-b | 4 | 60 | 5 | 120 | {b} |
"""


def test_models_of_the_documents_own_are_read_from_their_rows():
    a, b, c = hand_params(1000, 2, 36, 72), hand_params(1000, 4, 60, 120), hand_params(1000, 3, 48, 96)
    assert (a, b, c) == (98_100, 264_540, 165_456)
    report = check_text(OWN.format(a=f"{a:,}", b=f"{b:,}", c=f"{c:,}"), "toys.md")
    assert report.exit_code == 0 and [x.verdict for x in report.lines] == ["ok"] * 3
    wrong = check_text(OWN.format(a=f"{a:,}", b=f"{b:,}", c=f"{c + 9:,}"), "toys.md")
    assert [(x.verdict, x.expected) for x in wrong.lines] == [("ok", a), ("wrong", c), ("ok", b)]


def test_a_line_naming_a_model_of_its_own_sizes_it():
    text = OWN.split("## Parameters")[0] + (
        "- toy-a: 2 layers, d_model 36, num_heads 3, d_ff 72.\n\n"
        "| model | parameters |\n|---|---:|\n| toy-a | 98,100 |\n| toy-a | 98,109 |\n")
    report = check_text(text, "toys.md")
    assert [(x.verdict, x.expected) for x in report.lines if x.claim.startswith("toy-a")] == [
        ("ok", 98_100), ("wrong", 98_100)]


@pytest.mark.parametrize("fmt, detail", [("md", "full"), ("tex", "full"), ("tex", "brief")])
def test_a_made_up_edition_checks_clean_with_its_comparison_models(tmp_path, fmt, detail):
    from test_editions import TINY, _write

    text = api.render_sheet(fmt=fmt, edition=str(_write(tmp_path, TINY)), detail=detail)
    report = check_text(text, f"tiny.{fmt}")
    assert [(c.number, c.claim[:60]) for c in report.lines if c.verdict != "ok"] == []
    if fmt == "md":
        toy_a = [c for c in report.lines if c.claim.startswith("toy-a") and c.expected == 98_100]
        assert toy_a  # its parameter cell is toy-a's (hand_params(1000, 2, 36, 72)), not toy-b's 264,540


def test_a_made_up_editions_training_run_is_its_own(tmp_path):
    # the edition's batch_size 4 (not the handout's 1,024): forward 4 x 30,044,160 = 120,176,640 (hand_forward_flops),
    # backward twice that; its 1GB budget: b = 16 x 264,540 = 4,232,640, a = 1,920,000 (the sheet's), and
    # (10^9 - b) / a = 518.6: memory at 518 is 998,792,640 bytes, at 519 1,000,712,640 (over the budget)
    from conftest import hand_forward_flops
    from test_editions import TINY, _write

    assert hand_forward_flops(1000, 4, 60, 120, 4, 64) == 120_176_640
    assert (10**9 - 16 * 264_540) // 1_920_000 == 518 and 518 * 1_920_000 + 4_232_640 == 998_792_640
    text = api.render_sheet("adamw-accounting", fmt="md", edition=str(_write(tmp_path, TINY)))
    report = check_text(text, "tiny.md")
    lines = [c for c in report.lines if "240,353,280" in c.claim or "memory at 518" in c.claim]
    assert len(lines) == 2 and all(c.verdict == "ok" for c in lines)


# ------------------------------------------------------------------ formulas

def test_a_remark_after_a_formula_is_no_factor():
    bare = to_sympy("2 * context_length / (3 * d_ff + 4 * d_model)", {})
    assert to_sympy("2 * context_length / (3 * d_ff + 4 * d_model) (num_layers cancels)", {}) == bare
    assert to_sympy("L(8nd^2 + 4n^2 d) (per forward pass)", {}) == to_sympy("L(8nd^2 + 4n^2 d)", {})


def test_the_formula_chooses_between_ratios_equal_at_these_sizes():
    # d 32, d_ff 128, S 64: scores / (projections + FFN) = 2S / (3 d_ff + 4d) = 128 / 512 and projections /
    # (scores + FFN) = 4d / (3 d_ff + 2S) = 128 / 512: equal here, and the sheet's formula is the first
    d, d_ff, s = 32, 128, 64
    assert Fraction(2 * s, 3 * d_ff + 4 * d) == Fraction(4 * d, 3 * d_ff + 2 * s) == Fraction(1, 4)
    cfg = ModelConfig("random", 50, s, 1, d, 4, d_ff)
    report = check_text(api.render_sheet(configs=[cfg], fmt="md"), "sheet.md", cfg)
    assert [(c.number, c.claim[:60]) for c in report.lines if c.verdict != "ok"] == []


# ------------------------------------------------------------------ issue 12's part names

HF = "tests/data/hf/"


PARTS = {
    # DeepSeek-V2-Lite (modeling_deepseek_v2): kv_a_proj_with_mqa d x (kv_lora_rank + qk_rope_head_dim)
    # = 2,048 x 576; kv_a_layernorm kv_lora_rank; kv_b_proj kv_lora_rank x h (qk_nope + v_head_dim) = 512 x 16 x 256;
    # shared experts: SwiGLU at moe_intermediate_size x n_shared_experts = 2,816: 3 x 2,048 x 2,816; router 64 x 2,048
    "DeepSeek-V2-Lite": [("kv_a_proj_with_mqa: {} parameters", 2048 * 576), ("kv_a_layernorm: {} parameters", 512),
                         ("kv_b_proj: {} parameters", 512 * 16 * 256),
                         ("The KV up-projection has {} parameters.", 512 * 16 * 256),
                         ("The shared experts hold {} parameters per layer.", 3 * 2048 * 2816),
                         ("router: {} parameters", 64 * 2048)],
    # DeepSeek-V3: q_a_proj d x q_lora_rank = 7,168 x 1,536; q_b_proj q_lora_rank x h x (128 + 64) = 1,536 x 128 x 192
    "DeepSeek-V3": [("q_a_proj: {} parameters", 7168 * 1536),
                    ("The query up-projection q_b_proj has {} parameters", 1536 * 128 * 192),
                    ("q_a_layernorm: {} parameters", 1536)],
    # Qwen1.5-MoE-A2.7B (modeling_qwen2_moe): shared_expert SwiGLU at 5,632; shared_expert_gate d x 1; gate 60 x d
    "Qwen1.5-MoE-A2.7B": [("shared expert: {} parameters", 3 * 2048 * 5632), ("shared_expert_gate: {} parameters", 2048),
                          ("router: {} parameters", 60 * 2048)],
    # gpt-oss-20b (modeling_gpt_oss): sinks, one per head (64) in each of 24 layers; router d x 32 + 32 bias
    "gpt-oss-20b": [("sinks: {} parameters per layer", 64), ("attention sinks: {} parameters in all layers", 64 * 24),
                    ("router: {} parameters", 2880 * 32 + 32)],
    # Gemma 2 (modeling_gemma2): post_attention_layernorm and post_feedforward_layernorm, d = 2,304 each
    "gemma-2-2b": [("post-attention norm: {} parameters", 2304), ("post_feedforward_layernorm: {} parameters", 2304)],
    # Qwen3 (modeling_qwen3): q_norm and k_norm over head_dim = 128
    "Qwen3-0.6B": [("q_norm: {} parameters", 128), ("k_norm: {} parameters", 128),
                   ("q_norm and k_norm: {} parameters", 256)],
    # Llama (modeling_llama): post_attention_layernorm is the norm before the MLP, d = 2,048
    "Llama-3.2-1B": [("post_attention_layernorm: {} parameters", 2048)],
}


@pytest.mark.parametrize("config", list(PARTS))
def test_issue_12_part_names_name_their_part(config):
    path, parts = f"{HF}{config}.json", PARTS[config]
    right = check_text("# Parts\n\n" + "\n\n".join(line.format(f"{n:,}") for line, n in parts) + "\n", "parts.md",
                       config=path)
    assert [(c.verdict, c.expected) for c in right.lines] == [("ok", n) for _, n in parts]
    wrong = check_text("# Parts\n\n" + "\n\n".join(line.format(f"{n + 1:,}") for line, n in parts) + "\n",
                       "parts.md", config=path)
    assert [(c.verdict, c.expected) for c in wrong.lines] == [("wrong", n) for _, n in parts]  # the part itself


@pytest.mark.parametrize("words, roles", [
    ("q_a_proj", {"q_a_proj"}), ("query down-projection", {"q_a_proj"}), ("kv_b_proj", {"kv_b_proj"}),
    ("kv down projection", {"kv_a_proj_with_mqa"}), ("kv_a_layernorm", {"kv_a_layernorm"}),
    ("shared experts", {"shared_expert"}), ("routed experts", {"experts"}), ("expert router", {"router"}),
    ("attention sinks", {"sinks"}), ("sliding-window layers", {"sliding_blocks"}),
    ("one sliding window layer", {"sliding_block"}), ("dense layers", {"dense_blocks"}),
    ("post-feedforward norm", {"post_ffn_norm"}), ("pre_feedforward_layernorm", {"ffn_norm"}),
    ("qk norm", {"q_norm", "k_norm"}), ("q_norm and k_norm", {"q_norm", "k_norm"}), ("key norm", {"k_norm"}),
    # the older names keep their parts
    ("Q, K, V projections", {"q_proj", "k_proj", "v_proj"}), ("attention and ffn norms", {"attn_norm", "ffn_norm"}),
    ("gate", {"w1"}), ("router", {"router"}),
])
def test_words_for_issue_12_parts(words, roles):
    from derive.check.vocabulary import read_words

    assert read_words(words).roles == roles


def test_the_roles_the_words_name_exist_in_the_derivation():
    from derive.check.candidates import account

    have = set()
    for name in ("DeepSeek-V3", "Qwen1.5-MoE-A2.7B", "gpt-oss-20b", "gemma-2-2b", "Qwen3-0.6B"):
        acc = account(api.load_configs([f"{HF}{name}.json"])[0], 1, 16)
        have |= {n.key.rsplit(".", 1)[-1] for n in acc.params.walk()}
    gemma = account(api.load_configs([f"{HF}gemma-2-2b.json"])[0], 1, 8192, window="band")
    have |= {n.key.rsplit(".", 1)[-1] for n in gemma.forward.walk()}
    assert {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "kv_a_layernorm", "q_a_layernorm",
            "shared_expert", "shared_expert_gate", "router", "sinks", "post_attn_norm", "post_ffn_norm", "q_norm",
            "k_norm", "sliding_block", "sliding_blocks", "dense_blocks"} <= have
