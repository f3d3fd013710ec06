"""derive train's defaults that follow the run: the hardware's peak follows the precision's compute dtype (as derive
infer completes --hardware from --dtype), and --seq-len."""

from __future__ import annotations

import json
from fractions import Fraction

from click.testing import CliRunner

from derive.cli import main

# NVIDIA A100 datasheet: 312 TFLOP/s BF16 (and FP16) dense tensor core, 19.5 TFLOP/s FP32; H100 SXM 989.4 BF16.
A100_BF16, A100_FP32, H100_BF16 = 312 * 10**12, 195 * 10**11, 9894 * 10**11


def run(*args: str):
    result = CliRunner().invoke(main, ["train", *args])
    return result


def _days(report, peak: int) -> Fraction:
    t = report["time"]
    return Fraction(t["step_flops"] * t["steps"]) / (t["devices"] * peak * Fraction(report["mfu"])) / 86400


def test_mixed_precision_is_timed_at_its_compute_dtype_peak():
    """The new user's repro: bf16-mixed over 8 ranks was timed at A100's fp32 peak (717.05 days)."""
    result = run("llama-2-7b", "--precision", "bf16-mixed", "--dp", "8", "--zero", "1", "--batch", "64")
    assert result.exit_code == 0, result.output
    assert "on 8 x a100-bf16 at 50% MFU" in result.output and "44.82 days" in result.output
    assert "peak 312.0 TFLOP/s bf16 per device: the problem's a100 at bf16-mixed's compute dtype, bf16" in result.output
    report = json.loads(run("llama-2-7b", "--precision", "bf16-mixed", "--dp", "8", "--zero", "1", "--batch", "64",
                            "--json").output)
    assert report["hardware"]["name"] == "a100-bf16" and report["hardware"]["peak_flops"] == A100_BF16
    assert round(_days(report, A100_BF16), 2) == Fraction(4482, 100)
    fp16 = json.loads(run("llama-2-7b", "--precision", "fp16-mixed", "--batch", "8", "--json").output)
    assert fp16["hardware"]["peak_flops"] == A100_BF16 and "fp16" in fp16["hardware"]["choice"]


def test_the_homework_keeps_a100_fp32():
    result = run("gpt2-xl")
    assert result.exit_code == 0, result.output
    assert "time: 400,000 steps on a100-fp32 at 50% MFU = 568,819,274 s = 6,583.56 days\n" in result.output
    report = json.loads(run("gpt2-xl", "--json").output)
    assert report["hardware"] == {"name": "a100-fp32", "peak_flops": A100_FP32, "dtype": "fp32", "choice": ""}


def test_hardware_is_completed_or_its_dtype_named():
    report = json.loads(run("llama-2-7b", "--precision", "bf16-mixed", "--hardware", "h100", "--batch", "8",
                            "--json").output)
    assert report["hardware"]["name"] == "h100-bf16" and report["hardware"]["peak_flops"] == H100_BF16
    given = run("llama-2-7b", "--precision", "bf16-mixed", "--hardware", "a100-fp32", "--batch", "8")
    assert "717.05 days (peak 19.5 TFLOP/s fp32 per device: given; its fp32 peak, not bf16-mixed's compute dtype " \
           "bf16)" in given.output
    bad = run("llama-2-7b", "--precision", "bf16-mixed", "--hardware", "zz", "--batch", "8")
    assert bad.exit_code == 2 and bad.output.startswith("derive: error: --hardware: unknown hardware 'zz' for bf16")
    assert len(bad.output.strip().splitlines()) == 1


def test_seq_len_is_the_training_sequence(tmp_path):
    """--seq-len S counts everything at S tokens per sequence: the same run as a config whose context_length is S
    (Llama: the context length sizes nothing else); the default is context_length; longer is refused."""
    llama = [*(a for k, v in {"num_layers": 4, "context_length": 8192}.items() for a in ("--set", f"{k}={v}"))]
    common = ["--precision", "bf16-mixed", "--dp", "8", "--zero", "1", "--tp", "8", "--sp", "--pp", "2",
              "--recompute", "selective", "--batch", "64", "--json"]
    short = json.loads(run("llama-2-7b", *llama, "--seq-len", "2048", *common).output)
    as_context = json.loads(run("llama-2-7b", "--set", "num_layers=4", "--set", "context_length=2048",
                                *common).output)
    assert short["seq_len"] == 2048
    for key in ("memory", "step_flops", "time", "largest_batch", "fewest_devices", "params"):
        assert short[key] == as_context[key], key
    default = json.loads(run("llama-2-7b", *llama, *common).output)
    assert default["seq_len"] == 8192 and default["memory"]["activations_per_layer"] > \
        short["memory"]["activations_per_layer"]
    for bad, words in (("8193", "--seq-len 8,193: exceeds llama-2-7b's context_length (8,192)"),
                       ("0", "--seq-len: must be a positive integer, got 0")):
        result = run("llama-2-7b", *llama, "--seq-len", bad)
        assert result.exit_code == 2 and words in result.output and len(result.output.strip().splitlines()) == 1
    odd = run("llama-2-7b", *llama, "--seq-len", "2047", "--tp", "8", "--sp")
    assert odd.exit_code == 2 and "--sp: --tp 8 does not divide seq_len (2,047)" in odd.output


# --edition: the givens and the model of a handout edition's AdamW problem (CS336 assignment 1: 2026 v26.0.3, an H100
# at the handout's 495 TFLOP/s TF32, 50% MFU, 400K steps of 1,024 sequences; GPT-2 XL with d_ff 4,288).
def _swiglu_forward(L: int, d: int, dff: int, S: int, B: int, V: int = 50257) -> int:
    return L * (8 * B * S * d * d + 4 * B * S * S * d + 6 * B * S * d * dff) + 2 * B * S * d * V


def test_edition_2026_gives_its_model_and_givens():
    result = run("gpt2-xl", "--edition", "2026", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["params"] == 1_640_452_800  # the figure for the 2026 XL (d_ff 4,288)
    step = 3 * _swiglu_forward(48, 1600, 4288, 1024, 1024)
    assert report["time"]["step_flops"] == step
    assert report["time"]["peak_flops_per_device"] == 495 * 10**12
    hours = Fraction(400_000 * step) / (495 * 10**12 * Fraction(1, 2)) / 3600
    assert round(float(hours), 2) == 4850.06  # the issue: about 4,850.1 hours (202.1 days)
    assert report["largest_batch"] == 3
    assert "problem-swiglu" in json.dumps(report["conventions"])  # the 2026 list: the whole SwiGLU


def test_edition_2024_trains_its_own_model_and_an_unknown_one_is_one_line():
    report = json.loads(run("gpt2-xl", "--edition", "2024", "--json").output)
    assert report["params"] == 1_556_764_800  # GELU MLP, learned positions, tied lm_head (the 2024 handout)
    bad = run("gpt2-xl", "--edition", "2023")
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "known editions: 2024, 2025, 2026" in bad.output


def test_edition_accelerator_at_another_precision_is_that_accelerator_at_its_dtype():
    report = json.loads(run("llama-2-7b", "--edition", "2026", "--precision", "bf16-mixed", "--json").output)
    assert report["time"]["peak_flops_per_device"] == H100_BF16
