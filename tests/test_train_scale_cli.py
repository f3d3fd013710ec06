"""`derive train` at scale from the command line: every architecture derive loads trains, the JSON keys users rely
on, bad input (one line naming the option, exit 2), and the training-at-scale sheet in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from derive import api
from derive.cli import main
from tex_helpers import compile_fragment, compile_tex

HF = sorted(str(p) for p in (Path(__file__).parent / "data" / "hf").glob("*.json"))


def run(*args: str):
    return CliRunner().invoke(main, ["train", *args])


@pytest.mark.parametrize("config", [*api.preset_names(), *HF])
def test_every_architecture_trains(config):
    result = run(config, "--json", "--batch", "8")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    mem = data["memory"]
    for key in ("model_states_per_device", "activations_per_layer", "activations_per_device", "total_per_device"):
        assert isinstance(mem[key], int) and mem[key] > 0, key
    assert mem["total_per_device"] == mem["model_states_per_device"] + mem["activations_per_device"]
    assert isinstance(data["largest_batch"], int) and isinstance(data["step_flops"], int)
    assert {"convention", "step_flops", "seconds", "days", "mfu", "devices"} <= set(data["time"])
    default = "problem" if api.load_config(config).arch.is_assignment else "full"
    assert data["conventions"]["activations"] == default


def test_the_readme_example_at_scale():
    result = run("llama-2-7b", "--precision", "bf16-mixed", "--zero", "3", "--dp", "64", "--tp", "2", "--batch",
                 "512", "--micro-batch", "1", "--recompute", "selective", "--hardware", "h100-bf16", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    V, L, d, f = 32000, 32, 4096, 11008
    per_rank = V // 2 * d + L * (4 * d * d // 2 + 3 * d * f // 2 + 2 * d) + d + d * V // 2  # Megatron's TP 2
    assert data["memory"]["parameters_per_device"] == per_rank
    assert data["memory"]["model_states_per_device"] == 16 * -(-per_rank // 64)  # ZeRO-3: all 16 bytes sharded
    assert data["setup"]["devices"] == 128 and data["precision"]["bytes_per_parameter"] == 16


@pytest.mark.parametrize("args, words", [
    (["gpt2-xl", "--tp", "3"], ["--tp 3", "num_heads"]),
    (["llama-2-7b", "--tp", "64"], ["--tp 64", "num_heads"]),
    (["gpt2-xl", "--pp", "5"], ["--pp 5", "num_layers"]),
    (["mixtral-8x7b", "--ep", "3", "--dp", "3", "--batch", "3"], ["--ep 3", "n_experts"]),
    (["gpt2-xl", "--ep", "2", "--dp", "2"], ["--ep 2", "no experts"]),
    (["gpt2-xl", "--zero", "2"], ["--zero 2", "--dp"]),
    (["gpt2-xl", "--zero", "5", "--dp", "2"], ["--zero"]),
    (["gpt2-xl", "--precision", "fp8"], ["--precision", "'fp8'", "bf16-mixed"]),
    (["gpt2-xl", "--optimizer", "lion"], ["--optimizer", "'lion'", "adamw"]),
    (["gpt2-xl", "--flops", "kaplan"], ["--flops kaplan", "forward"]),
    (["gpt2-xl", "--flops", "nope"], ["--flops", "'nope'"]),
    (["gpt2-xl", "--sp"], ["--sp", "--tp"]),
    (["gpt2-xl", "--micro-batch", "3"], ["--batch 1,024", "micro-batch"]),
    (["gpt2-xl", "--dp", "0"], ["--dp"]),
    (["gpt2-xl", "--measured-step-time", "-1"], ["--measured-step-time"]),
    (["gpt2-xl", "--measured-step-time", "1", "--tokens-per-second", "5"], ["--measured-step-time"]),
    (["gpt2-xl", "--activations", "most"], ["--activations", "'most'"]),
    (["mixtral-8x7b", "--activations", "problem"], ["--activations problem"]),
    (["gpt2-xl", "--tp", "5", "--activations", "problem"], ["--activations problem", "tensor"]),
    (["gpt2-xl", "--recompute", "half"], ["--recompute", "'half'"]),
    (["gpt2-xl", "--window", "diagonal"], ["--window"]),
    (["tests/data/hf/gemma-2-9b.json", "--window", "band", "--causal"], ["--causal", "band"]),
])
def test_bad_input_is_one_line_naming_the_option(args, words):
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_text_output_shows_the_run_at_scale():
    result = run("gpt3-175b", "--precision", "bf16-mixed", "--activations", "korthikanti", "--tp", "8", "--sp",
                 "--recompute", "selective", "--batch", "1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "16 bytes per parameter = weights 2 + gradients 2 + master 4 + optimizer 8" in out
    assert "106,954,752 bytes per micro-batch" in out  # Korthikanti Table 2, TP 8 + SP + selective
    assert "dp 1 x tp 8 + sp x pp 1 = 8 device(s)" in out


@pytest.mark.parametrize("configs", [[], ["mixtral-8x7b"], ["tests/data/hf/DeepSeek-V3.json"]])
def test_sheet_in_every_format(configs, tmp_path):
    loaded = api.load_configs(configs)
    md = api.render_sheet("training-at-scale", loaded, fmt="md")
    html = api.render_sheet("training-at-scale", loaded, fmt="html")
    for text in (md, html):
        assert "Bytes per parameter" in text and "Memory per device" in text
    if not configs:  # GPT-3 175B as Korthikanti et al. train it: Table 2's rows
        for value in ("2,868,903,936", "106,954,752", "50,331,648"):
            assert value in md and value in html
    compile_tex(api.render_sheet("training-at-scale", loaded, fmt="tex"), tmp_path)


def test_sheet_fragment_fits_a_plain_article(tmp_path):
    compile_fragment(api.render_sheet("training-at-scale", fmt="tex", fragment=True), tmp_path)


def test_train_writes_the_sheet_of_its_setup(tmp_path):
    result = run("llama-2-7b", "--precision", "bf16-mixed", "--zero", "3", "--dp", "64", "--tp", "2", "--batch",
                 "512", "--micro-batch", "1", "--sheet", "all", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"training-at-scale-llama-2-7b.{ext}" for ext in ("html", "md", "tex")]
    md = (tmp_path / "training-at-scale-llama-2-7b.md").read_text()
    assert "ZeRO stage 3" in md and "tp = 2" in md


def test_the_sheet_checks_clean(tmp_path):
    """Every sheet derive renders passes derive check (its training lines are reported as not understood)."""
    from derive.check.checker import check_text

    cfg = api.load_config("gpt3-175b")
    report = check_text(api.render_sheet("training-at-scale", fmt="md"), "sheet.md", cfg)
    assert report.exit_code == 0 and not [c for c in report.lines if c.verdict in ("wrong", "arithmetic error")], \
        api.check_report_text(report)


def test_band_convention_trains_sliding_layers_on_their_band():
    band = json.loads(run("tests/data/hf/gemma-2-9b.json", "--window", "band", "--batch", "2", "--json").output)
    full = json.loads(run("tests/data/hf/gemma-2-9b.json", "--batch", "2", "--json").output)
    assert band["setup"]["window"] == "band" and band["forward_flops"] < full["forward_flops"]
    assert band["backward_flops"] == 2 * band["forward_flops"]  # both gradients over the window's pairs
    assert band["memory"] == full["memory"]  # eager attention keeps the full square either way


def test_the_readme_shows_what_derive_prints():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    result = run("llama-2-7b", "--precision", "bf16-mixed", "--zero", "3", "--dp", "64", "--tp", "2", "--sp",
                 "--batch", "512", "--micro-batch", "1", "--recompute", "selective", "--hardware", "h100-bf16",
                 "--mfu", "0.4", "--measured-step-time", "1.9")
    assert result.exit_code == 0, result.output
    shown = result.output.splitlines()[-13:]
    for line in shown:
        assert line in readme, line


def test_every_readme_train_example_prints_what_it_shows():
    """Each `$ derive train ...` of README's training-at-scale console block: every output line shown under it
    (the elided `...` apart) is a line derive prints for that command."""
    import shlex

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Training at scale"):]
    block = section[section.index("```console\n") + len("```console\n"):]
    block = block[:block.index("```\n")].replace("\\\n", " ")
    examples: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            examples.append((shlex.split(line[2:], comments=True), []))
        elif line.strip() != "..." and examples:
            examples[-1][1].append(line)
    checked = 0
    for argv, shown in examples:
        if argv[:2] != ["derive", "train"] or not shown:
            continue
        result = run(*argv[2:])
        assert result.exit_code == 0, (argv, result.output)
        printed = result.output.splitlines()
        for line in shown:
            assert line in printed, (argv, line)
        checked += 1
    assert checked >= 2


def test_a_budget_below_the_fixed_part_says_no_micro_batch_fits():
    """GPT-3 175B with ZeRO-1 over 8 ranks and no model parallelism: the model states alone exceed 80 GB, so
    floor((budget - b) / a) is negative; the sheet says none fits instead of writing floor(0.0000) = 0 (an equation
    that does not hold), in every format."""
    from derive import api

    cfg = api.load_config("gpt3-175b")
    for fmt in ("md", "tex", "html"):
        text = api.render_sheet("training-at-scale", [cfg], fmt=fmt)
        assert "floor(0.0000)" not in text and "exceeds" in text
    md = api.render_sheet("training-at-scale", [cfg], fmt="md")
    (line,) = [ln for ln in md.splitlines() if ln.startswith("largest micro-batch in")]
    b = int(line.split("alone, ")[1].split(" bytes")[0].replace(",", ""))
    assert b > 80_000_000_000
