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
