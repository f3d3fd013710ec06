"""`derive train`: JSON contract, values against hand formulas, and bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from derive.cli import main

P_XL = 2 * 50257 * 1600 + 48 * (4 * 1600**2 + 3 * 1600 * 6400 + 2 * 1600) + 1600
ACT_XL = 48 * (1024 * (8 * 1600 + 2 * 6400) + 2 * 25 * 1024**2) + 1024 * 1600 + 2 * 1024 * 50257


def hand_forward(B: int) -> int:
    return 48 * (8 * B * 1024 * 1600**2 + 4 * B * 1024**2 * 1600 + 6 * B * 1024 * 1600 * 6400) \
        + 2 * B * 1024 * 1600 * 50257


def run(*args: str):
    return CliRunner().invoke(main, ["train", *args])


def test_json_contract_for_gpt2_xl():
    result = run("gpt2-xl", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["memory"]["fixed_bytes"] == 16 * P_XL
    assert data["memory"]["per_example_bytes"] == 4 * ACT_XL
    assert data["max_batch_size"] == 2
    assert data["step_flops"] == 3 * hand_forward(1024)
    assert data["optimizer_flops"] == 14 * P_XL
    assert abs(data["days"] - 400_000 * 3 * hand_forward(1024) / (19.5e12 * 0.5) / 86_400) < 1e-6
    for key in ("fixed_bytes", "per_example_bytes"):
        assert isinstance(data["memory"][key], int)


def test_options_change_the_figures():
    data = json.loads(run("gpt2-xl", "--json", "--budget", "80GiB", "--batch", "8", "--steps", "10",
                          "--hardware", "h100-bf16", "--mfu", "0.4").output)
    assert data["max_batch_size"] == 3
    assert data["step_flops"] == 3 * hand_forward(8)
    assert data["hardware"]["peak_flops"] == 989_400_000_000_000
    assert abs(data["seconds"] - 10 * 3 * hand_forward(8) / (989.4e12 * 0.4)) < 1e-6


def test_full_activation_set_and_recompute():
    # The handout's list with the whole SwiGLU was `full` before issue 17; `full` is now what autograd keeps for
    # the reference module (tests/test_saved_tensors.py), and this set is `problem-swiglu`.
    full = json.loads(run("gpt2-xl", "--json", "--activations", "problem-swiglu").output)
    assert full["memory"]["per_example_bytes"] == 4 * (ACT_XL + 2 * 48 * 1024 * 6400)
    rec = json.loads(run("gpt2-xl", "--json", "--recompute", "full").output)
    assert rec["recompute_flops"] == hand_forward(1024) - 2 * 1024 * 1024 * 1600 * 50257


def test_text_output():
    result = run("gpt2-xl")
    assert result.exit_code == 0
    assert "memory = 15,517,753,344 * batch_size + 34,032,921,600 bytes" in result.output
    assert "6,583.56 days" in result.output


@pytest.mark.parametrize("args, words", [
    (["--budget", "80gb"], ["--budget", "'80gb'", "GB", "GiB"]),
    (["--budget", "lots"], ["--budget", "'lots'"]),
    (["--hardware", "tpu-v9"], ["--hardware", "'tpu-v9'", "a100-fp32", "h100-bf16"]),
    (["--activations", "most"], ["--activations", "'most'", "problem", "full"]),
    (["--mfu", "1.5"], ["--mfu"]),
    (["--mfu", "abc"], ["--mfu"]),
    (["--batch", "0"], ["--batch"]),
    (["--steps", "-1"], ["--steps"]),
])
def test_bad_input_is_one_line_exit_2(args, words):
    result = run("gpt2-xl", *args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    for w in words:
        assert w in lines[0]


def test_bad_config_and_choice():
    assert run("nope").exit_code == 2
    assert run("hardware").exit_code == 2
    assert run("gpt2-xl", "--recompute", "half").exit_code == 2


def test_backward_and_causal_conventions():
    exact = json.loads(run("gpt2-xl", "--json").output)
    twice = json.loads(run("gpt2-xl", "--json", "--backward", "2x-forward").output)
    assert twice["step_flops"] == exact["step_flops"]
    causal = json.loads(run("gpt2-xl", "--json", "--causal").output)
    # the two attention-square matmuls (2 * 2*B*S^2*d per block) halved, forward and backward: 3 x that saving
    assert exact["step_flops"] - causal["step_flops"] == 3 * 48 * 2 * 1024 * 1024**2 * 1600
    assert causal["conventions"]["causal"] is True


def test_train_refuses_the_handouts_list_for_architectures_it_does_not_describe():
    # Before issue 17, derive train refused every architecture but the assignment's; now every architecture trains
    # (default set: full) and only the handout's own lists are refused for the others.
    from click.testing import CliRunner

    from derive.cli import main

    for preset, needle in (("mixtral-8x7b", "--activations problem"), ("gpt2-small-hf", "--activations problem")):
        assert CliRunner().invoke(main, ["train", preset]).exit_code == 0
        result = CliRunner().invoke(main, ["train", preset, "--activations", "problem"])
        assert result.exit_code == 2, result.output
        assert needle in result.output and len(result.output.strip().splitlines()) == 1
