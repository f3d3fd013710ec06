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
