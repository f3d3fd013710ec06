"""Hugging Face config.json loading, architecture-option validation, `derive verify` and the sheet choice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from derive.cli import main
from derive.model.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def write(tmp_path: Path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


TINY_LLAMA = {"model_type": "llama", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 40,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 64, "tie_word_embeddings": True}


def test_params_of_a_config_json(tmp_path):
    d = tmp_path / "tiny-llama"
    d.mkdir()
    path = write(d, "config.json", TINY_LLAMA)
    result = run("params", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["config"] == "tiny-llama"  # a config.json is named after its directory
    # hand formula: tied embedding V*d; per layer q,o d*d, k,v d*(h_kv*d/h), SwiGLU 3*d*f, 2 norms; final norm
    V, d, f, L, h, hkv = 100, 32, 40, 2, 4, 2
    assert report["total"] == V * d + L * (2 * d * d + 2 * d * hkv * d // h + 3 * d * f + 2 * d) + d


@pytest.mark.parametrize("data, key", [
    ({**TINY_LLAMA, "model_type": "bert"}, "model_type"),
    ({k: v for k, v in TINY_LLAMA.items() if k != "model_type"}, "model_type"),
    # issue 12: a missing field is read with transformers' default, so these are wrong values, not absences
    ({**TINY_LLAMA, "hidden_size": "32"}, "hidden_size"),
    ({**TINY_LLAMA, "num_attention_heads": "4"}, "num_attention_heads"),
    ({**TINY_LLAMA, "head_dim": 0}, "head_dim"),
    ({**TINY_LLAMA, "attention_bias": "yes"}, "attention_bias"),
    ({**TINY_LLAMA, "num_key_value_heads": 3}, "num_kv_heads"),
    ({**TINY_LLAMA, "model_type": "mixtral", "num_local_experts": 2, "num_experts_per_tok": 3},
     "experts_per_token"),
    ({**TINY_LLAMA, "model_type": "gpt2", "n_embd": 30, "n_head": 4}, "num_heads"),
])
def test_bad_config_json_is_one_line_exit_2(tmp_path, data, key):
    path = write(tmp_path, "config.json", data)
    result = run("params", path)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert path in result.output and key in result.output
    if key == "model_type":
        assert "gpt2, llama, mistral, mixtral, qwen2" in result.output


def test_invalid_json(tmp_path):
    result = run("params", write(tmp_path, "c.json", "{\n  \"model_type\": "))
    assert result.exit_code == 2 and "not valid JSON at line 2" in result.output


@pytest.mark.parametrize("extra, key", [
    ({"norm": "batchnorm"}, "norm"),
    ({"bias": "yes"}, "bias"),
    ({"num_kv_heads": 3}, "num_kv_heads"),
    ({"num_kv_heads": 0}, "num_kv_heads"),
    ({"ffn": "moe", "n_experts": 4}, "experts_per_token"),
    ({"ffn": "moe", "n_experts": 2, "experts_per_token": 3}, "experts_per_token"),
    ({"n_experts": 4}, "n_experts"),
    ({"attention": "mla"}, "attention"),
])
def test_bad_architecture_options_in_yaml(tmp_path, extra, key):
    base = "vocab_size: 10\ncontext_length: 8\nnum_layers: 1\nd_model: 8\nnum_heads: 2\nd_ff: 4\n"
    path = tmp_path / "m.yaml"
    path.write_text(base + "".join(f"{k}: {json.dumps(v)}\n" for k, v in extra.items()))
    result = run("params", str(path))
    assert result.exit_code == 2 and key in result.output and "Traceback" not in result.output


def test_set_architecture_option():
    cfg = load_config("gpt2-small", {"tie_embeddings": True, "num_kv_heads": 4})
    assert cfg.tie_embeddings and cfg.num_kv_heads == 4 and not cfg.arch.is_assignment
    assert run("params", "gpt2-small", "--set", "ffn=rnn").exit_code == 2


def test_default_config_is_the_assignment_architecture():
    assert load_config("gpt2-xl").arch.is_assignment


def test_verify_assignment_and_hf(tmp_path):
    for args in (("gpt2-small",), ("gpt2-small-hf", "--seq-len", "32"), ("mixtral-8x7b", "--seq-len", "16"),
                 ("qwen-like", "--batch", "2")):
        if args[0] == "qwen-like":
            args = (write(tmp_path, "config.json", {**TINY_LLAMA, "model_type": "qwen2"}), *args[1:])
        result = run("verify", *args)
        assert result.exit_code == 0, result.output
        assert result.output.count(" ok") == 2 and "all figures match" in result.output


def test_verify_reports_mismatch_with_exit_1(monkeypatch):
    import derive.verify.compare as v

    real = v.build_reference

    def extra_param(config):
        label, model, inputs = real(config)
        import torch

        model.register_parameter("stray", torch.nn.Parameter(torch.empty(3, device="meta")))
        return label, model, inputs

    monkeypatch.setattr(v, "build_reference", extra_param)
    result = run("verify", "gpt2-small", "--seq-len", "8")
    assert result.exit_code == 1 and "MISMATCH (+3)" in result.output


def test_verify_without_torch_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    result = run("verify", "gpt2-small")
    assert result.exit_code == 2
    assert "pip install 'torch==2.13.0' 'transformers==5.24.0'" in result.output
    assert "derive[verify]" not in result.output and result.output.count("\n") == 1


def test_help_does_not_import_torch():
    code = ("import sys; from click.testing import CliRunner; from derive.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0; "
            "r = CliRunner().invoke(main, ['verify', '--help']); assert r.exit_code == 0; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_sheet_picks_generic_sheet_for_other_models(tmp_path):
    result = run("sheet", "llama-2-7b", "mixtral-8x7b", "--format", "md", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "model-accounting-llama-2-7b-mixtral-8x7b.md").read_text()
    assert "6,738,415,616" in text and "46,702,792,704" in text and "12,879,925,248" in text
    result = run("sheet", "gpt2-small", "--format", "md", "--out", str(tmp_path))
    assert (tmp_path / "transformer-accounting-gpt2-small.md").exists(), result.output
    result = run("sheet", "mistral-7b", "--sheet", "transformer-accounting", "--out", str(tmp_path))
    assert result.exit_code == 2 and "model-accounting" in result.output


def test_generic_sheet_latex_compiles(tmp_path):
    result = run("sheet", "gpt2-small-hf", "mixtral-8x7b", "--format", "tex", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    tex = tmp_path / "model-accounting-gpt2-small-hf-mixtral-8x7b.tex"
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_verify_reports_a_reference_that_cannot_run_on_one_line(tmp_path):
    # d_k = 125 is odd: derive counts it, but a RoPE implementation cannot rotate pairs of 125 dimensions.
    cfg = tmp_path / "odd.yaml"
    cfg.write_text("vocab_size: 100\ncontext_length: 32\nnum_layers: 1\nd_model: 1000\nnum_heads: 8\nd_ff: 64\n")
    result = run("verify", str(cfg), "--seq-len", "16")
    assert result.exit_code == 2, result.output
    assert "reference model could not be built or run" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_config_json_saved_as_yaml_is_read_as_one(tmp_path):
    """JSON is YAML: a config.json under another name (model.yaml) is the same model, counted the same
    (Llama-3.2-1B: 1,235,814,400 parameters, the published count), not 'architectures: unknown key'."""
    from click.testing import CliRunner

    from derive.cli import main

    src = Path(__file__).parent / "data" / "hf" / "Llama-3.2-1B.json"
    renamed = tmp_path / "llama.yaml"
    renamed.write_text(src.read_text())
    result = CliRunner().invoke(main, ["params", str(renamed), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 1_235_814_400
