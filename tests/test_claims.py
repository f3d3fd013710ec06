"""Tests for derive.check.document: parsing hand derivations and exact evaluation of their chains."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.check.document import (
    NotUnderstood, Quantity, agree, alternate_unit_match, check_chain, check_document, evaluate,
    parse_document, parse_line,
)

ORIGINAL = Path("/work/shared/original/000_baea12327518bcb1.txt")
GPT2_XL = {"vocab_size": 50257, "context_length": 1024, "num_layers": 48, "d_model": 1600,
           "num_heads": 25, "d_ff": 6400}


def value(segment: str, **symbols: int) -> Fraction:
    return evaluate(segment, symbols).value


# ------------------------------------------------------------------ the original document

@pytest.fixture(scope="module")
def original():
    if not ORIGINAL.exists():
        pytest.skip("original document not available")
    return parse_document(ORIGINAL.read_text())


def test_original_config(original):
    assert original.config == GPT2_XL


def test_original_claim_count(original):
    # 35 claim lines, by hand (file line numbers):
    # (a) 18 embedding; 22-25 q/k/v/o_proj; 26 total_attention; 29-31 gate/signal/down_proj;
    #     32 `total_ffn: 30,720,000`; 35 d_k; 36 cos and sin cache; 39 rms_norm; 41 total per block;
    #     43 all blocks; 46 `d_model = 1,600`; 49 lm_head; 52 total_parameters; 55 memory   -> 19
    # (b) 68 d_k; 70-73 q/k/v/o_proj; 75 scores; 76 output; 78 total_attention; 81-83 ffn;
    #     85 total_ffn; 87 per block; 89 all blocks; 92 lm_head; 95 total FLOPs          -> 16
    # Not claims: the config listing (4-9), headings, the question prose, `Note: ...`, and
    # `Assuming batch_size = 1 and sequence_length = context_length = 1024.` (a sentence).
    claims = [line.number for line in original.claims]
    assert claims == [18, 22, 23, 24, 25, 26, 29, 30, 31, 32, 35, 36, 39, 41, 43, 46, 49, 52, 55,
                      68, 70, 71, 72, 73, 75, 76, 78, 81, 82, 83, 85, 87, 89, 92, 95]
    assert [line.number for line in original.lines if line.is_config] == [4, 5, 6, 7, 8, 9]


def test_original_chains_consistent_except_memory(original):
    results = check_document(original)
    bad = [r for r in results if not r.ok]
    assert [r.line.number for r in bad] == [55]
    memory = bad[0]
    assert memory.line.segments == ("2,133,349,056 * 4", "8,533,396,224 bytes", "7.95 GB")
    i, j, left, right = memory.first_mismatch
    assert (i, j) == (1, 2)
    assert left.value == 8_533_396_224 and left.unit == "bytes"
    assert right.unit_written == "GB" and right.approx_digits == 2
    assert alternate_unit_match(left, right) == "GiB"
    assert memory.pairs[1].alternate_unit == "GiB"
    # every other chain is fully understood once d_k is learned from `d_k = ...`
    assert all(r.complete for r in results if r.line.defines is None)
    assert results[-1].final.unit == "FLOPs"


def test_original_context_and_names(original):
    by_number = {line.number: line for line in original.lines}
    q = by_number[22]
    assert q.name == "q_proj" and q.indent == 8
    assert q.context == ("transformer_block_(num_layer_times)", "causal_multi_head_attention")
    assert by_number[36].name == "cos_and_sin_cache"
    assert by_number[35].name is None and by_number[35].defines == "d_k"
    assert by_number[20].is_heading and by_number[20].segments == ()
    assert by_number[43].context == ()
    assert by_number[75].context == ("per_transformer_block_(repeated_48_times)",
                                     "causal_multi_head_attention")
    rms = check_chain(by_number[39], GPT2_XL)
    assert rms.ok and rms.quantities[0].stripped == ("(as 2 layers per block)",)


# ------------------------------------------------------------------ parsing lines and documents

def test_segments_split_on_single_equals_only():
    line = parse_line("cond: a == b = 3 <= 4 = 5 >= 2")
    assert line.segments == ("a == b", "3 <= 4", "5 >= 2")


def test_markdown_variants():
    doc = parse_document(
        "# Parameters\n"
        "## Attention\n"
        "- **q_proj**: `d_model * d_model` = 1,600 × 1,600 = **2,560,000**\n"
        "* **k_proj:** d_model x d_model = 1,600 x 1,600 = 2,560,000\n"
        "```\n"
        "total_attention: 4 * 2,560,000 = 10,240,000\n"
        "```\n"
        "## FFN\n"
        "**SwiGLU**\n"
        "- gate: 1,600 · 6,400 = 10,240,000\n"
        "# Memory\n"
        "bytes: 2,133,349,056 * 4 = 8,533,396,224 bytes ≈ 7.95 GiB\n")
    lines = {line.name: line for line in doc.lines}
    assert lines["q_proj"].context == ("parameters", "attention")
    assert lines["k_proj"].segments[0] == "d_model x d_model"
    assert lines["total_attention"].context == ("parameters", "attention")
    assert lines["gate"].context == ("parameters", "ffn", "swiglu")
    assert lines["bytes"].context == ("memory",)
    assert lines["bytes"].segments[-1] == "≈ 7.95 GiB"
    for line in doc.claims:
        assert check_chain(line, {"d_model": 1600}).ok, line.text
    assert len(doc.claims) == 5


def test_config_listing_variants():
    doc = parse_document("vocab_size: 50,257\n- `d_model` : 1600\nnum_heads : 2.5\n"
                         "vocab_size : 7\nq: 2 * 3 = 6\ntotal_ffn: 30,720,000\n")
    assert doc.config == {"vocab_size": 50257, "d_model": 1600}  # first wins; after a chain, not config
    assert [line.is_claim for line in doc.lines] == [False, False, True, False, True, True]


def test_config_under_config_heading_after_chains():
    doc = parse_document("a: 2 * 3 = 6\n## Model configuration\n- batch_size: 8\n")
    assert doc.config == {"batch_size": 8}


def test_prose_is_not_claim():
    doc = parse_document("Assuming batch_size = 1 and sequence_length = context_length = 1024.\n"
                         "So we need the following:\nNote: only matmuls count.\n(b) Identify the FLOPs.\n")
    assert doc.claims == []


# ------------------------------------------------------------------ evaluate: syntax

@pytest.mark.parametrize("text, expected", [
    ("50,257", 50257),
    ("2,133,349,056", 2133349056),
    ("1,600 // 25", 64),
    ("1,601 // 25", 64),
    ("1,600 / 3", Fraction(1600, 3)),
    ("4 * 2,560,000", 10240000),
    ("4 x 2,560,000", 10240000),
    ("4x2,560,000", 10240000),
    ("4 × 2,560,000", 10240000),
    ("4 · 2,560,000", 10240000),
    (r"4 \times 2,560,000", 10240000),
    (r"4 \cdot 10^{3}", 4000),
    ("2^30", 2**30),
    ("2**30", 2**30),
    ("10^9", 10**9),
    ("2 ^ 3 ^ 2", 2**9),
    ("-2^2", -4),
    ("2^-1", Fraction(1, 2)),
    ("-(3 - 5) * 2", 4),
    ("2 * (1,024 + 1)", 2050),
    ("1.2e9", 1_200_000_000),
    ("1e9", 10**9),
    ("0.5 * 1024", 512),
    (".25 * 8", 2),
    ("50_257", 50257),
    ("10⁹", 10**9),
    ("`d_model` * 2", 3200),
    ("**3,200**", 3200),
    (r"\frac{1600}{25}", 64),
    ("64.", 64),
    ("2 * d_k", 128),
    ("2.13 billion", 2_130_000_000),
    ("80,411,200 parameters", 80411200),
])
def test_evaluate_syntax(text, expected):
    assert value(text, d_model=1600, d_k=64) == expected


def test_symbols_and_x_as_symbol():
    assert value("vocab_size * d_model", vocab_size=50257, d_model=1600) == 80411200
    assert value("2 * x", x=5) == 10  # `x` in operand position is a symbol
    assert value("x x 3", x=5) == 15


def test_prose_in_parentheses_is_stripped():
    q = evaluate("d_model * 2 (as 2 layers per block)", {"d_model": 1600})
    assert q.value == 3200 and q.stripped == ("(as 2 layers per block)",)
    q = evaluate("(per layer) 4 * 2,560,000 (approx.)")
    assert q.value == 10240000 and q.stripped == ("(per layer)", "(approx.)")
    assert evaluate("8,533,396,224 bytes (fp32)").unit == "bytes"
    assert evaluate("2 * (1 + 2)").stripped == ()


def test_matmul_shapes():
    q = evaluate("(1, 1024, 1600) @ (1600, 1600)")
    assert q.value == 2 * 1024 * 1600 * 1600 and q.unit == "FLOPs"
    assert value("(1, 25, 1024, 64) @ (1, 25, 64, 1024)") == 2 * 25 * 1024 * 64 * 1024
    assert value("(1,1024,1600) @ (1600,6400)") == 2 * 1024 * 1600 * 6400  # 1,1024 is not 11,024
    assert value("(B, T, d_model) @ (d_model, d_ff)", B=2, T=8, d_model=4, d_ff=16) == 2 * 2 * 8 * 4 * 16
    assert value("(2, 1, 3, 4) @ (5, 4, 6)") == 2 * 10 * 3 * 4 * 6  # broadcast batch (2, 5)
    assert value("48 * (1024, 1600) @ (1600, 1600)") == 48 * 2 * 1024 * 1600 * 1600
    assert value("(1024, 1600) × (1600, 1600)") == 2 * 1024 * 1600 * 1600


def test_matmul_errors():
    with pytest.raises(NotUnderstood, match=r"inner dimensions.*k=3.*4"):
        evaluate("(2, 3) @ (4, 5)")
    with pytest.raises(NotUnderstood, match="broadcast"):
        evaluate("(2, 3, 4) @ (5, 4, 6)")
    with pytest.raises(NotUnderstood, match="shape"):
        evaluate("(2, 3) + 1")
    with pytest.raises(NotUnderstood, match="shape"):
        evaluate("(1, 1024, 1600)")
    with pytest.raises(NotUnderstood, match="'@'"):
        evaluate("3 @ 4")
    with pytest.raises(NotUnderstood, match="FLOPs"):
        evaluate("(2, 3) @ (3, 4) bytes")


@pytest.mark.parametrize("text, reason", [
    ("hello world", "unknown symbol 'hello'"),
    ("", "no expression"),
    ("2 +", "ends"),
    ("2 * d_k", "unknown symbol 'd_k'"),
    ("1 / 0", "division by zero"),
    ("2 ^ (1/2)", "fractional exponent"),
    ("2 ^ 100000", "too large"),
    ("(2 + 3", "unbalanced"),
    ("50,2570", "unexpected ','"),
    ("6 for both layers", "unexpected word 'for'"),
    ("GB", "unit 'GB'"),
    ("2 (3 + 4)", "unexpected '('"),  # no implicit multiplication
    ("7,95", "unexpected ','"),
])
def test_not_understood(text, reason):
    with pytest.raises(NotUnderstood) as info:
        evaluate(text)
    assert reason in info.value.reason
    assert info.value.segment == text


# ------------------------------------------------------------------ units and rounding

@pytest.mark.parametrize("text, base, unit, written", [
    ("8,533,396,224 bytes", 8533396224, "bytes", "bytes"),
    ("4 B", 4, "bytes", "B"),
    ("3 KB", 3000, "bytes", "KB"),
    ("3 KiB", 3072, "bytes", "KiB"),
    ("2 MiB", 2 * 2**20, "bytes", "MiB"),
    ("2 GiB", 2 * 2**30, "bytes", "GiB"),
    ("2 TB", 2 * 10**12, "bytes", "TB"),
    ("2 TiB", 2 * 2**40, "bytes", "TiB"),
    ("2,133,349,056 * 4 bytes", 8533396224, "bytes", "bytes"),
    ("7 FLOPs", 7, "FLOPs", "FLOPs"),
    ("3 GFLOPs", 3 * 10**9, "FLOPs", "GFLOPs"),
    ("3 MFLOPs", 3 * 10**6, "FLOPs", "MFLOPs"),
    ("3 PFLOPs", 3 * 10**15, "FLOPs", "PFLOPs"),
    ("3 EFLOPs", 3 * 10**18, "FLOPs", "EFLOPs"),
    ("3 flops", 3, "FLOPs", "flops"),
    ("312 TFLOP/s", 312 * 10**12, "FLOP/s", "TFLOP/s"),
    ("1,024 * 64", 65536, None, None),
])
def test_units(text, base, unit, written):
    q = evaluate(text)
    assert (q.value, q.unit, q.unit_written) == (base, unit, written)


def test_approx_digits_and_bounds():
    q = evaluate("7.95 GB")
    assert q.approx_digits == 2 and q.value == 7_950_000_000
    assert q.bounds() == (7_945_000_000, 7_955_000_000)
    assert evaluate("4.51 TFLOPs").approx_digits == 2
    assert evaluate("1.2e9").approx_digits == -8
    assert evaluate("8,533,396,224").approx_digits is None
    assert evaluate("1e9").approx_digits is None
    assert evaluate("~ 8,500,000,000").approx_digits == -8


@pytest.mark.parametrize("left, right, ok", [
    ("7,945,000,000 bytes", "7.95 GB", True),      # lower edge included
    ("7,954,999,999 bytes", "7.95 GB", True),
    ("7,955,000,000 bytes", "7.95 GB", False),     # upper edge excluded
    ("7,944,999,999", "7.95 GB", False),
    ("7,945,000,000", "7.95 GB", True),            # plain number = bytes in base units
    ("8,533,396,224", "8,533,396,224 bytes", True),
    ("8,533,396,224 bytes", "7.95 GiB", True),
    ("8,533,396,224 bytes", "8.53 GB", True),
    ("8,533,396,224 / 2^30", "7.95 GiB", True),    # plain number read in the written unit
    ("4,513,336,524,800 FLOPs", "4.51 TFLOPs", True),
    ("4,513,336,524,800", "4.52 TFLOPs", False),
    ("7.95 GB", "7.9 GB", True),                   # overlapping roundings
    ("7.95 GB", "8.1 GB", False),
    ("8 bytes", "8 FLOPs", False),                 # bytes never equal FLOPs
    ("8 FLOPs", "8 FLOP/s", False),
    ("10", "10", True),
])
def test_agree(left, right, ok):
    assert (agree(evaluate(left), evaluate(right)) is not None) is ok


def test_alternate_unit_match():
    b = evaluate("8,533,396,224 bytes")
    assert alternate_unit_match(b, evaluate("7.95 GB")) == "GiB"
    assert alternate_unit_match(b, evaluate("8.53 GiB")) == "GB"
    assert alternate_unit_match(evaluate("7.95 GB"), b) == "GiB"
    assert alternate_unit_match(evaluate("3,000 bytes"), evaluate("3 KiB")) == "KB"
    assert alternate_unit_match(evaluate("2,097,152"), evaluate("2.10 MB")) is None  # fits GB-style only
    assert alternate_unit_match(b, evaluate("9.1 GB")) is None


# ------------------------------------------------------------------ check_chain

def test_check_chain_memory_line():
    r = check_chain("memory: 2,133,349,056 * 4 = 8,533,396,224 bytes = 7.95 GB")
    assert not r.ok and r.first_mismatch[:2] == (1, 2)
    assert r.pairs[0].ok and r.pairs[0].how == "exact"
    assert r.final.unit_written == "GB"


def test_check_chain_fine_cases():
    for text in ("d_k = 1,600 // 25 = 64", "4 * 2,560,000 = 10,240,000", "1,024 * 64 = 65,536",
                 "x: 4.51 TFLOPs = 4,513,336,524,800", "2^30 = 1 GiB = 1,073,741,824 bytes"):
        r = check_chain(text)
        assert r.ok and r.first_mismatch is None, text


def test_check_chain_skips_unreadable_segment():
    r = check_chain("d_k = d_model // num_heads = 1,600 // 25 = 65", {})
    assert isinstance(r.quantities[0], NotUnderstood) and isinstance(r.quantities[1], NotUnderstood)
    assert not r.ok and r.first_mismatch[:2] == (2, 3) and not r.complete
    assert r.final.value == 65


def test_check_chain_empty_and_single():
    assert check_chain("total_ffn: 30,720,000").ok
    r = check_chain("words: nothing here")
    assert r.ok and r.final is None and r.pairs == ()


def test_check_document_definitions():
    doc = parse_document("d_model : 1,600\nhead:\n  d_k = d_model // 25 = 64\n  c: 2 * d_k = 128\n"
                         "  d_k = 32\n  e: d_k * 2 = 64\n  d_model = 1,700\n")
    results = check_document(doc)
    assert [r.ok for r in results] == [True, True, True, True, False]  # config is never rebound


# ------------------------------------------------------------------ property: matches Python

_OPS = st.sampled_from([("+", "+"), ("-", "-"), ("*", "*"), ("x", "*"), ("×", "*"), ("·", "*"),
                        ("/", "/"), ("//", "//")])


def _render_int(n: int, grouped: bool) -> str:
    return f"{n:,}" if grouped else str(n)


@st.composite
def expressions(draw, depth: int = 3) -> tuple[str, str]:
    """(our notation, Python source over Fractions) for the same random expression."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        n = draw(st.integers(0, 5_000_000))
        return _render_int(n, draw(st.booleans())), f"F({n})"
    kind = draw(st.integers(0, 5))
    if kind == 0:
        ours, py = draw(expressions(depth - 1))
        return f"-{ours}" if draw(st.booleans()) else f"- {ours}", f"-{py}"
    if kind == 1:
        ours, py = draw(expressions(depth - 1))
        exp = draw(st.integers(-2, 3))
        op = draw(st.sampled_from(["^", "**"]))
        return f"({ours}) {op} {exp}", f"F({py}) ** {exp}"  # F(): Fraction // Fraction is an int
    left, lpy = draw(expressions(depth - 1))
    right, rpy = draw(expressions(depth - 1))
    op, pyop = draw(_OPS)
    if draw(st.booleans()):
        return f"({left} {op} {right})", f"({lpy} {pyop} {rpy})"
    return f"{left} {op} {right}", f"{lpy} {pyop} {rpy}"


@settings(max_examples=300, deadline=None)
@given(expressions())
def test_matches_python(pair):
    ours, py = pair
    try:
        expected = eval(py, {"F": Fraction})  # noqa: S307 - our own generated source
    except ZeroDivisionError:
        with pytest.raises(NotUnderstood):
            evaluate(ours)
        return
    q = evaluate(ours)
    assert q.value == expected and q.unit is None and q.approx_digits is None, ours


_NOISE = st.text(st.sampled_from(list("0123456789,._ ()+-*/^@x×·=:#`~≈eEGBiTFLOPs ab_\n$\\{}⁹")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_NOISE)
def test_garbage_only_raises_not_understood(text):
    try:
        evaluate(text, {"a": 3})
    except NotUnderstood as exc:
        assert exc.reason
    for result in check_document(parse_document(text)):
        assert isinstance(result.ok, bool)
