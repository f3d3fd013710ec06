"""derive check on derive's own sheets (every sheet kind, with and without --config) and the reviewer's cases.

Round trips: a sheet derive renders must check clean (nothing wrong, exit 0). Each case below failed before
the fix it names: MoE active parameters compared with the all-experts tree, a wrapped `bytes` Summary line
compared with FLOPs, the architecture listing ignored without --config, short headings ignored, the AdamW
sheet's training lines compared with the forward pass, `W_o` unmatched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import hand_params
from derive import api
from derive.check.checker import check_text
from derive.cli import main

# Qwen2-0.5B's config.json fields, written out (never downloaded): q, k, v biases, GQA 14/2, tied embeddings.
QWEN2 = {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
         "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
         "max_position_embeddings": 32768, "tie_word_embeddings": True}


def _qwen2_path(tmp_path: Path) -> str:
    d = tmp_path / "Qwen2-0.5B"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(QWEN2))
    return str(d / "config.json")


def _sheet(spec: str):
    configs = api.load_configs([spec])
    return configs[0], api.render_sheet(api.default_sheet_for(configs), configs, fmt="md")


def _assert_nothing_wrong(report) -> None:
    bad = [(c.number, c.verdict, c.claim, c.explanation) for c in report.lines
           if c.verdict in ("wrong", "arithmetic error")]
    assert bad == []
    assert report.exit_code == 0
    # the only lines not understood are the closed forms (a formula named `P`, not a quantity's name)
    assert all(c.claim.startswith("Closed form") for c in report.lines if c.verdict == "not understood")


@pytest.mark.parametrize("spec", ["gpt2-xl", "llama-2-7b", "mixtral-8x7b", "gpt2-small-hf", "qwen2"])
@pytest.mark.parametrize("with_config", [True, False], ids=["config", "listing"])
def test_round_trip_every_sheet(spec: str, with_config: bool, tmp_path: Path) -> None:
    cfg, text = _sheet(_qwen2_path(tmp_path) if spec == "qwen2" else spec)
    report = check_text(text, "sheet.md", cfg if with_config else None)
    _assert_nothing_wrong(report)
    assert len(report.lines) > 40
    if not with_config:  # the listing gave back the same model: sizes and architecture options
        assert report.config.values() == cfg.values() and report.config.arch == cfg.arch
        assert report.config.symbol_values() == cfg.symbol_values()


def test_mixtral_active_parameters_are_their_own_section() -> None:
    cfg, text = _sheet("mixtral-8x7b")
    report = check_text(text, "sheet.md", cfg)
    active = next(c for c in report.lines if c.name == "total_active_parameters")
    # hand formula: everything but the experts, plus k of E experts (3 d d_ff each) in every layer
    V, d, L, f, h, kv, E, k = 32000, 4096, 32, 14336, 32, 8, 8, 2
    dense = 2 * V * d + d + L * (2 * d * d + 2 * d * (kv * d // h) + 2 * d + d * E)
    assert active.verdict == "ok" and active.expected == dense + L * k * 3 * d * f == 12_879_925_248
    total = next(c for c in report.lines if c.name == "total_parameters")
    assert total.expected == dense + L * E * 3 * d * f
    # a mistake in the active section is measured against the active tree, and carried into its totals
    broken = text.replace("active_experts: 3 * d_ff * d_model * experts_per_token = 2 * 176,160,768 = 352,321,536",
                          "active_experts: 3 * d_ff * d_model * experts_per_token = 352,321,536 + 1")
    assert broken != text
    report = check_text(broken, "sheet.md", cfg)
    assert [c.name for c in report.mistakes] == ["active_experts"]
    assert report.mistakes[0].expected == k * 3 * d * f and report.mistakes[0].claimed_value == k * 3 * d * f + 1
    assert report.exit_code == 1


def test_bytes_line_is_memory_whatever_its_heading(tmp_path: Path) -> None:
    text = ("vocab_size : 50,257\ncontext_length : 1,024\nnum_layers : 48\nd_model : 1,600\nnum_heads : 25\n"
            "d_ff : 6,400\n\n### Forward-pass matmul FLOPs\n\n"
            "8,508,230,400 bytes = 8.51 GB = 7.92 GiB in fp32;\n4,254,115,200 bytes = 4.25 GB in bf16\n")
    report = check_text(text, "a.md")
    assert [(c.target, c.verdict, c.expected) for c in report.lines] == [
        ("memory_fp32", "ok", 4 * hand_params(50257, 48, 1600, 6400)),
        ("memory_bf16", "ok", 2 * hand_params(50257, 48, 1600, 6400))]


def test_architecture_listing_without_config(tmp_path: Path) -> None:
    cfg, text = _sheet("gpt2-small-hf")
    report = check_text(text, "sheet.md")
    assert report.config.norm == "layernorm" and report.config.ffn == "gelu" and report.config.bias
    assert report.config.positions == "learned" and report.config.tie_embeddings
    position = next(c for c in report.lines if c.name == "position_embedding")  # the parameters, then FLOPs
    assert position.verdict == "ok" and position.expected == 1024 * 768


def test_architecture_listing_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "answer.md"
    path.write_text("vocab_size : 100\ncontext_length : 8\nnum_layers : 1\nd_model : 8\nnum_heads : 2\nd_ff : 4\n"
                    "n_experts : 4\n\nq_proj: 8 * 8 = 64\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output and "n_experts" in result.output and "Traceback" not in result.output


def test_adamw_sheet_checks_clean() -> None:
    text = api.render_sheet("adamw-accounting", fmt="md")
    report = check_text(text, "adamw.md")
    assert report.exit_code == 0
    assert not [c for c in report.lines if c.verdict in ("wrong", "arithmetic error")]
    # training quantities are explained now (issue 11): the activations total is derive train's
    activations = next(c for c in report.lines if c.name == "total_activations")
    assert activations.verdict == "ok" and activations.expected == 3_879_438_336
    # the arithmetic is still checked in a training section: a slip there exits 1
    broken = text.replace("= 48 * 78,643,200 = 3,774,873,600", "= 48 * 78,643,200 = 3,774,873,601")
    assert broken != text
    report = check_text(broken, "adamw.md")
    assert report.exit_code == 1 and [c.verdict for c in report.mistakes] == ["arithmetic error"]


def test_activations_in_passing_do_not_make_a_training_document() -> None:
    text = ("vocab_size : 50,257\ncontext_length : 1,024\nnum_layers : 48\nd_model : 1,600\nnum_heads : 25\n"
            "d_ff : 6,400\n\n## Parameters (weights only, no activations)\n\n"
            "total_parameters: 2,127,057,601\n")
    report = check_text(text, "a.md")
    assert [c.verdict for c in report.lines] == ["wrong"] and report.exit_code == 1
    adamw = (text.replace(" (weights only, no activations)", "")
             + "\n## (b) Peak memory with AdamW\n\nactivations: 1,638,400\n")
    # issue 11: a training line is checked against the training accounting (not the weights): 1,638,400 is one
    # activation tensor of one block, not the activations of a training step
    report = check_text(adamw, "a.md")
    assert [c.verdict for c in report.lines] == ["wrong", "wrong"]
    assert "activations" in report.lines[1].target
