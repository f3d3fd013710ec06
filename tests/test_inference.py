"""`derive infer` and the inference accounting: published figures, hand formulas, the symbolic sums and the
roofline against brute force, the budget, and bad input. (Against transformers generating on the meta device:
tests/test_inference_torch.py.)"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner
from conftest import hand_forward_flops
from hypothesis import given, settings
from hypothesis import strategies as st

from derive import api
from derive.accounting.hardware import hardware_table
from derive.accounting.inference.passes import forward_equivalent
from derive.accounting.inference.shapes import window_sum
from derive.accounting.inference.timing import sum_of_max
from derive.cli import main
from derive.model import symbols as sy
from derive.model.architectures import derivation_for

DATA = Path(__file__).parent / "data"
HF = sorted((DATA / "hf").glob("*.json"))
LLAMA_31_8B = str(DATA / "hf" / "Llama-3.1-8B.json")
QWEN_25_7B = str(DATA / "inference" / "Qwen2.5-7B.json")
KIPPLY = str(DATA / "inference" / "kipply-52b.yaml")


def infer_json(*args: str) -> dict:
    result = CliRunner().invoke(main, ["infer", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# ---------------------------------------------------------------- published figures (tests/data/inference/SOURCES.md)
def test_published_kv_bytes_per_token():
    assert infer_json(LLAMA_31_8B)["kv_cache"]["bytes_per_token"] == 131_072
    assert infer_json(QWEN_25_7B)["kv_cache"]["bytes_per_token"] == 57_344
    fp16 = infer_json(KIPPLY, "--dtype", "fp16")
    assert fp16["kv_cache"]["bytes_per_token"] == 2_097_152
    assert fp16["roofline"]["hardware"] == "h100-bf16"  # FP16 runs at the BF16 peak (`also` in hardware.yaml)


def test_kipply_a100_flop_byte_ratio_is_208():
    report = infer_json(KIPPLY, "--hardware", "a100", "--bandwidth", "1.5e12")
    assert report["roofline"]["peak_flops"] == 312e12 and report["roofline"]["ridge_point"] == 208
    # with the datasheet's A100 80GB bandwidth the ridge is 312e12 / 2.039e12
    assert infer_json(KIPPLY, "--hardware", "a100")["roofline"]["ridge_point"] == pytest.approx(312 / 2.039)


def test_kipply_kv_cache_is_4_layers_d_model_bytes_whatever_the_heads(tmp_path):
    """2 * 2 * n_layers * n_heads * d_head = 4 * n_layers * d_model: the heads' split does not matter."""
    for heads in (32, 64, 128):
        report = infer_json(KIPPLY, "--set", f"num_heads={heads}")
        assert report["kv_cache"]["bytes_per_token"] == 4 * 64 * 8192


# ---------------------------------------------------------------- hand formulas
@settings(max_examples=25, deadline=None)
@given(L=st.integers(1, 6), kv=st.integers(1, 4), group=st.integers(1, 4), head=st.integers(1, 16),
       explicit=st.booleans(), kv_dtype=st.sampled_from(["fp32", "bf16", "fp16", "fp8"]),
       window=st.one_of(st.none(), st.integers(2, 9)), sliding=st.integers(0, 6), n=st.integers(1, 12),
       m=st.integers(1, 12), b=st.integers(1, 3))
def test_kv_cache_is_2_layers_kv_heads_head_dim_bytes(L, kv, group, head, explicit, kv_dtype, window, sliding, n, m,
                                                      b):
    h = kv * group
    cfg = {"vocab_size": 11, "context_length": 64, "num_layers": L, "d_model": h * head, "num_heads": h, "d_ff": 8,
           "num_kv_heads": kv}
    if explicit:
        cfg.update(head_dim=head + 1)
    if window is not None:
        cfg.update(sliding_window=window, num_sliding_layers=min(sliding, L))
    acc = api.infer_account(_cfg(cfg), prompt=n, generate=m, batch_size=b, kv_dtype=kv_dtype)
    d_head = head + 1 if explicit else head
    per_layer = 2 * kv * d_head * {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}[kv_dtype]
    sliding_layers = min(sliding, L) if window is not None else 0
    assert acc.kv_per_token.value == L * per_layer
    tokens = n + m
    held = (L - sliding_layers) * tokens + sliding_layers * (min(tokens, window - 1) if window else 0)
    assert acc.kv_cache.value == b * per_layer * held


def _cfg(mapping: dict):
    from derive.model.config import config_from_mapping

    return config_from_mapping(mapping, "<test>", "test")


@pytest.mark.parametrize("name, shape", [("gpt2-xl", (48, 1600, 25, 6400)), ("gpt2-small", (12, 768, 12, 3072))])
def test_assignment_prefill_and_decode_by_hand(name, shape):
    """The assignment architecture by hand (independent of derive's builders): prefill = a forward over N tokens
    minus lm_head over N - 1 positions; step i = 8 B d^2 (q, k, v, o) + 4 B d (N + i) (scores and weighted sum)
    + 6 B d d_ff per layer, + 2 B d V."""
    L, d, h, dff = shape
    V, B, N, M = 50257, 3, 100, 20
    acc = api.infer_account(api.load_config(name), prompt=N, generate=M, batch_size=B)
    assert acc.prefill.value == hand_forward_flops(V, L, d, dff, B, N) - 2 * B * (N - 1) * d * V
    assert acc.full_forward - acc.prefill.value == acc.logits_saving == 2 * B * (N - 1) * d * V
    steps = [L * (8 * B * d * d + 4 * B * d * (N + i) + 6 * B * d * dff) + 2 * B * d * V for i in range(1, M)]
    assert [acc.decode_step(i).value for i in range(1, M)] == steps
    assert acc.decode.value == sum(steps)


@pytest.mark.parametrize("path", [*HF, *(DATA.parent.parent / "configs").glob("*.json")], ids=lambda p: p.stem)
def test_inference_passes_are_built_like_the_forward_pass(path):
    """The pass builder, asked for a plain forward, gives derive's forward tree exactly (every architecture)."""
    cfg = api.load_config(str(path))
    assert sympy.expand(forward_equivalent(cfg.arch).expr - derivation_for(cfg).forward.expr) == 0


@pytest.mark.parametrize("path", HF, ids=lambda p: p.stem)
def test_decode_sum_is_the_sum_of_its_steps(path):
    """The closed form of all decode steps equals sympy's summation of a step over i = 1 .. M - 1 (no window),
    and the step-by-step sum in numbers (every architecture, windows included)."""
    cfg = api.load_config(str(path))
    acc = api.infer_account(cfg, prompt=7, generate=9, batch_size=2)
    d = acc.derivation
    if not cfg.sliding_layers:
        i, m = sy.SYMBOLS["decode_step"], sy.SYMBOLS["gen_len"]
        assert sympy.simplify(sympy.summation(d.decode_step.expr, (i, 1, m - 1)) - d.decode_total.expr) == 0
    assert acc.decode.value == sum(acc.decode_step(i).value for i in range(1, 9))


@settings(max_examples=25, deadline=None)
@given(first=st.integers(-5, 30), length=st.integers(-1, 30), window=st.integers(0, 40))
def test_window_sum_is_the_sum_of_min(first, length, window):
    last = first + length
    expected = sum(min(x, window) for x in range(first, last + 1))
    assert window_sum(sympy.Integer(first), sympy.Integer(last), sympy.Integer(window)) == expected


@settings(max_examples=25, deadline=None)
@given(a=st.fractions(-20, 20, max_denominator=7), b=st.fractions(-5, 5, max_denominator=7),
       c=st.fractions(-20, 20, max_denominator=7), e=st.fractions(-5, 5, max_denominator=7),
       lo=st.integers(-5, 10), length=st.integers(-1, 15))
def test_sum_of_max_is_the_sum_of_each_max(a, b, c, e, lo, length):
    hi = lo + length
    assert sum_of_max((a, b), (c, e), lo, hi) == sum((max(a + b * i, c + e * i) for i in range(lo, hi + 1)),
                                                     Fraction(0))


@pytest.mark.parametrize("spec, n, m", [("llama-2-7b", 300, 40), ("mixtral-8x7b", 5, 30),
                                        (str(DATA / "hf" / "gemma-3-1b-it.json"), 500, 30),
                                        (str(DATA / "hf" / "DeepSeek-V2-Lite.json"), 20, 12)])
def test_decode_time_is_the_sum_of_every_steps_bound(spec, n, m):
    for batch in (1, 64):
        acc = api.infer_account(api.load_config(spec), prompt=n, generate=m, batch_size=batch)
        assert acc.decode_seconds == sum(acc.step_roofline(i).seconds for i in range(1, m))


@pytest.mark.parametrize("spec, n, hardware", [("llama-2-7b", 64, "h100"), ("mixtral-8x7b", 16, "a100"),
                                               (str(DATA / "hf" / "Qwen3-30B-A3B.json"), 8, "mi300x")])
def test_crossover_batch_is_where_a_step_turns_compute_bound(spec, n, hardware):
    """The symbolic solution against a search over batch sizes evaluated one by one: the smallest compute-bound
    batch is ceil(B*) (mixtures of experts: the piece of min(E, B k) the crossing lies on)."""
    cfg = api.load_config(spec)

    def compute_bound(batch: int) -> bool:
        r = api.infer_account(cfg, prompt=n, generate=3, batch_size=batch, hardware=hardware).step_roofline(1)
        return r.compute_seconds >= r.memory_seconds

    root, _ = api.infer_account(cfg, prompt=n, generate=3, hardware=hardware).crossover(1)
    assert root is not None
    lo, hi = 0, 1
    while not compute_bound(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # compute - memory time is convex in the batch size and negative at 0: one crossing
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if compute_bound(mid) else (mid, hi)
    assert hi == math.ceil(root)


def test_long_context_decode_never_turns_compute_bound():
    """Each sequence brings as many bytes of K/V as it brings FLOPs at ~100 FLOP/byte, below the ridge point."""
    report = infer_json(LLAMA_31_8B, "--prompt", "8000", "--generate", "100")
    step = report["roofline"]["crossover_batch"]["first_step"]
    assert step["batch_size"] is None and step["per_sequence_intensity"] < report["roofline"]["ridge_point"]


def test_moe_decode_reads_the_routed_experts():
    """Batch 1: the active parameters (derive's, checked against transformers elsewhere) minus the embedding table
    plus the one row looked up; a batch that routes to every expert reads every parameter likewise."""
    cfg = api.load_config("mixtral-8x7b")
    base = api.account(cfg)
    table = cfg.vocab_size * cfg.d_model
    one = api.infer_account(cfg, prompt=10, generate=2, batch_size=1)
    weights = one.step_bytes(1).children[0]
    assert weights.value == (base.active_params.value - table + cfg.d_model) * 2
    many = api.infer_account(cfg, prompt=10, generate=2, batch_size=4)  # 4 tokens x 2 experts = all 8
    assert many.step_bytes(1).children[0].value == (base.total_params - table + 4 * cfg.d_model) * 2


# ---------------------------------------------------------------- the budget
def test_budget_in_gb_and_gib():
    gb = infer_json(LLAMA_31_8B, "--budget", "80GB")["budget"]
    gib = infer_json(LLAMA_31_8B, "--budget", "80GiB")["budget"]
    weights = 8_030_261_248 * 2  # Llama-3.1-8B's parameters (tests/test_hf_types.py) in bf16
    assert (gb["bytes"], gib["bytes"], gb["weights_bytes"]) == (80 * 10**9, 80 * 2**30, weights)
    assert gb["max_tokens"] == (80 * 10**9 - weights) // 131_072
    assert gib["max_tokens"] == (80 * 2**30 - weights) // 131_072
    assert gb["max_requests"] == (80 * 10**9 - weights) // (131_072 * 1024)  # 512 + 512 tokens


def test_default_budget_is_the_accelerators_memory():
    report = infer_json(LLAMA_31_8B, "--hardware", "h200")
    assert report["budget"]["bytes"] == 141 * 10**9 and not report["budget"]["given"]
    assert report["roofline"]["hardware"] == "h200-bf16"


def test_weights_beyond_the_accelerator_are_reported_not_refused():
    report = infer_json(str(DATA / "hf" / "DeepSeek-V3.json"), "--hardware", "h100", "--dtype", "fp8")
    assert report["budget"]["free_bytes"] < 0 and report["budget"]["max_tokens"] == 0
    assert not report["budget"]["batch_fits"]


def test_sliding_window_requests_are_capped_at_the_window():
    cfg = api.load_config(str(DATA / "hf" / "gemma-3-1b-it.json"))
    acc = api.infer_account(cfg, prompt=2000, generate=1000, budget="8GB")
    rows = {r["kind"]: r for r in api.infer_report(acc)["kv_cache"]["layers"]}
    assert rows["sliding_attention"]["tokens"] == cfg.sliding_window - 1
    assert rows["full_attention"]["tokens"] == 3000
    assert acc.request_bytes == 3000 * rows["full_attention"]["layers"] * 1024 + 511 * 22 * 1024


# ---------------------------------------------------------------- JSON, text, notebooks, hardware
def test_json_keys_and_exact_integers():
    report = infer_json(str(DATA / "hf" / "Mistral-7B-v0.3.json"), "--prompt", "100", "--generate", "10")
    for path in ("kv_cache.bytes_per_token", "kv_cache.bytes", "prefill.flops", "decode.flops", "decode.first_step",
                 "decode.last_step", "budget.max_tokens", "budget.max_requests", "weights_bytes"):
        node = report
        for key in path.split("."):
            node = node[key]
        assert isinstance(node, int) and not isinstance(node, bool), path
    assert set(report["roofline"]) >= {"ridge_point", "prefill", "decode_first_step", "decode_last_step",
                                       "crossover_batch", "decode_seconds", "generation_seconds"}


def test_one_generated_token_has_no_decode_step():
    report = infer_json("gpt2-small", "--prompt", "10", "--generate", "1")
    assert report["decode"]["steps"] == 0 and report["decode"]["flops"] == 0
    assert report["decode"]["first_step"] is None and report["roofline"]["decode_first_step"] is None


def test_text_output_names_what_it_counts():
    result = CliRunner().invoke(main, ["infer", LLAMA_31_8B, "--prompt", "1000", "--generate", "200", "--batch",
                                       "8"])
    assert result.exit_code == 0, result.output
    for text in ("bytes per token: ", "= 131,072", "prefill FLOPs: 115,871,859,081,216",
                 "first step (i = 1): 124,273,033,216", "ridge point 295.3 FLOP/byte", "most tokens of KV cache",
                 "note: prefill: one forward pass"):
        assert text in result.output, text


def test_notebook_display():
    acc = api.infer_account(api.load_config("gpt2-small"), prompt=10, generate=5)
    md, tex = acc._repr_markdown_(), acc._repr_latex_()
    assert f"{acc.kv_per_token.value:,}" in md and "KV cache bytes per token" in md
    assert "b_{\\mathrm{kv}}" in tex and f"{acc.kv_per_token.value:,}".replace(",", "{,}") in tex


def test_hardware_entries_keep_their_keys_and_have_bandwidths():
    table = hardware_table()
    assert (table["a100-fp32"].peak_flops, table["h100-bf16"].peak_flops) == (19_500_000_000_000, 989_400_000_000_000)
    for name in ("a100", "h100", "h200", "b200", "mi300x"):
        entries = [hw for key, hw in table.items() if key.startswith(name + "-")]
        assert any(hw.dtype == "bf16" for hw in entries), name
        for hw in entries:
            assert hw.bandwidth and hw.bandwidth_source and hw.source, hw.key
    for name in ("h100", "h200", "b200", "mi300x"):
        assert f"{name}-fp8" in table


# ---------------------------------------------------------------- bad input: one line naming the option, exit 2
@pytest.mark.parametrize("args, option", [
    (["gpt2-small", "--prompt", "1000", "--generate", "100"], "--prompt"),
    (["gpt2-small", "--prompt", "0"], "--prompt"),
    (["gpt2-small", "--generate", "-3"], "--generate"),
    (["gpt2-small", "--batch", "0"], "--batch"),
    (["gpt2-small", "--hardware", "tpu-v9"], "--hardware"),
    (["gpt2-small", "--hardware", "a100", "--dtype", "fp8"], "--hardware"),
    (["gpt2-small", "--dtype", "int3"], "--dtype"),
    (["gpt2-small", "--kv-dtype", "fp4"], "--kv-dtype"),
    (["gpt2-small", "--budget", "100MB"], "--budget"),
    (["gpt2-small", "--budget", "80 gigs"], "--budget"),
    (["gpt2-small", "--peak-flops", "-1"], "--peak-flops"),
    (["gpt2-small", "--bandwidth", "1e999999"], "--bandwidth"),
    (["gpt2-small", "--hardware", ""], "--hardware"),
    ([str(DATA / "hf" / "Llama-3.1-8B.json"), "--budget", "16GB"], "--budget"),
])
def test_bad_input_is_one_line_and_exit_2(args, option):
    result = CliRunner().invoke(main, ["infer", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in result.output
