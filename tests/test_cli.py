"""The CLI through click's CliRunner: JSON contracts, readable output, and every bad-input case."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import hand_forward_flops, hand_params
from derive.cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def _run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return _run


def test_every_command_has_help(run):
    result = run("--help")
    assert result.exit_code == 0
    for name, command in main.commands.items():
        assert command.help, f"{name} has no help text"
        sub = run(name, "--help")
        assert sub.exit_code == 0 and "Usage:" in sub.output


def test_params_json_is_exact(run):
    result = run("params", "gpt2-xl", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["total"] == hand_params(50257, 48, 1600, 6400) == 2_127_057_600
    assert isinstance(data["total"], int)
    titles = [c["title"] for c in data["components"]]
    assert titles == ["token_embedding", "transformer_block", "final_rms_norm", "lm_head"]
    assert data["buffers"]["total"] == 6_291_456
    assert data["memory_bytes"]["fp32"] == 8_508_230_400


def test_flops_json_with_set(run):
    result = run("flops", "gpt2-xl", "--set", "context_length=16384", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["forward"]["total"] == hand_forward_flops(50257, 48, 1600, 6400, 1, 16384) == 149_522_795_724_800
    assert data["seq_len"] == 16384


def test_flops_batch_and_seq_len(run):
    data = json.loads(run("flops", "gpt2-small", "--batch", "4", "--seq-len", "128", "--json").output)
    assert data["forward"]["total"] == hand_forward_flops(50257, 12, 768, 3072, 4, 128)
    assert sum(g["flops"] for g in data["forward"]["groups"].values()) == data["forward"]["total"]


def test_readable_tables(run):
    out = run("params", "gpt2-xl").output
    assert "total_parameters" in out and "2,127,057,600" in out and "7.92 GiB" in out and "8.51 GB" in out
    out = run("flops", "gpt2-xl").output
    assert "4,513,336,524,800" in out and "attention_scores" in out


def test_sheet_writes_both_formats(run, tmp_path):
    result = run("sheet", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert (tmp_path / "transformer-accounting.md").is_file()
    assert (tmp_path / "transformer-accounting.tex").is_file()
    assert not list(tmp_path.glob(".*.tmp")), "temporary files must be renamed or removed"


def test_sheet_for_a_named_config(run, tmp_path):
    result = run("sheet", "gpt2-small", "--format", "md", "--out", str(tmp_path))
    assert result.exit_code == 0
    text = (tmp_path / "transformer-accounting-gpt2-small.md").read_text()
    assert f"{hand_params(50257, 12, 768, 3072):,}" in text


BAD_CONFIGS = {
    "unknown.yaml": ("vocab_size: 10\ncontext_length: 8\nnum_layers: 1\nd_model: 4\nnum_heads: 2\nd_ff: 8\n"
                     "colour: blue\n", "colour"),
    "missing.yaml": ("vocab_size: 10\ncontext_length: 8\nnum_layers: 1\nd_model: 4\nnum_heads: 2\n", "d_ff"),
    "negative.yaml": ("vocab_size: 10\ncontext_length: 8\nnum_layers: -1\nd_model: 4\nnum_heads: 2\nd_ff: 8\n",
                      "num_layers"),
    "float.yaml": ("vocab_size: 10.5\ncontext_length: 8\nnum_layers: 1\nd_model: 4\nnum_heads: 2\nd_ff: 8\n",
                   "vocab_size"),
    "string.yaml": ("vocab_size: ten\ncontext_length: 8\nnum_layers: 1\nd_model: 4\nnum_heads: 2\nd_ff: 8\n",
                    "vocab_size"),
    "bool.yaml": ("vocab_size: true\ncontext_length: 8\nnum_layers: 1\nd_model: 4\nnum_heads: 2\nd_ff: 8\n",
                  "vocab_size"),
    "indivisible.yaml": ("vocab_size: 10\ncontext_length: 8\nnum_layers: 1\nd_model: 6\nnum_heads: 4\nd_ff: 8\n",
                         "num_heads"),
    "list.yaml": ("- 1\n- 2\n", "mapping"),
    "broken.yaml": ("vocab_size: [1, 2\n", "not valid YAML"),
    "empty.yaml": ("", "empty"),
}


@pytest.mark.parametrize("command", ["params", "flops", "sheet"])
@pytest.mark.parametrize("filename", sorted(BAD_CONFIGS))
def test_bad_config_is_one_line_exit_2(command, filename, tmp_path):
    text, key = BAD_CONFIGS[filename]
    path = tmp_path / filename
    path.write_text(text)
    result = CliRunner().invoke(main, [command, str(path), *(["--out", str(tmp_path)] if command == "sheet" else [])])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert str(path) in lines[0] and key in lines[0]
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("*.md")), "nothing may be written on bad input"


@pytest.mark.parametrize("args, needle", [
    (["params", "gpt3-xxl"], "unknown preset"),
    (["params", "missing-file.yaml"], "no such file"),
    (["params", "gpt2-xl", "--set", "d_model=1601"], "num_heads"),
    (["params", "gpt2-xl", "--set", "colour=blue"], "colour"),
    (["params", "gpt2-xl", "--set", "d_ff"], "KEY=VALUE"),
    (["params", "gpt2-xl", "--set", "d_ff=0"], "d_ff"),
    (["flops", "gpt2-xl", "--seq-len", "4096"], "context_length"),
    (["flops", "gpt2-xl", "--batch", "0"], "--batch"),
    (["sheet", "--sheet", "nope"], "known sheets"),
])
def test_bad_options_exit_2(args, needle):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_help_does_not_import_sympy():
    import subprocess
    import sys

    code = ("import sys\nfrom derive.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('sympy' in sys.modules, 'jinja2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


def test_non_utf8_config_is_one_line_exit_2(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("# r\xe9sum\xe9\nvocab_size: 10\n".encode("latin-1"))
    result = CliRunner().invoke(main, ["params", str(path)])
    assert result.exit_code == 2 and "UTF-8" in result.output and str(path) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_output_file_names_are_safe(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: \"meta-llama/Llama 2 #7b\"\nvocab_size: 100\ncontext_length: 16\nnum_layers: 2\n"
                   "d_model: 8\nnum_heads: 2\nd_ff: 16\n")
    result = CliRunner().invoke(main, ["sheet", str(cfg), "--out", str(tmp_path / "out"), "--format", "md"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "transformer-accounting-meta-llama-Llama-2-7b.md" in names
    assert all("/" not in n and " " not in n and "#" not in n for n in names)


def test_weight_memory_is_rounded_exactly_even_when_huge(run):
    # 4 * P bytes with P far beyond float precision: the GB figure must be the exact bytes / 10^9, rounded.
    out = run("params", "gpt2-xl", "--set", "d_model=16000000000000000000000", "--set", "num_heads=1").output
    line = next(ln for ln in out.splitlines() if ln.startswith("weights in fp32"))
    n = int(line.split(": ")[1].split(" bytes")[0].replace(",", ""))
    gb = line.split(" = ")[1].split(" GB")[0].replace(",", "")
    whole, frac = divmod(round(n * 100 // 10**9 + (1 if (n * 100) % 10**9 * 2 > 10**9 else 0)), 100)
    assert gb == f"{whole}.{frac:02d}"
