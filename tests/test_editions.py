"""Handout editions as data: the shipped files, an edition of your own, and bad edition files.

Adding an edition is adding a file: a tiny edition written here (its own d_ff rule, models, parts, hardware and
activation list) renders both sheets, which check clean. A bad file is one line naming the file and the key,
exit 2, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import derive
from derive import api
from derive.check.checker import check_text
from derive.cli import main
from derive.errors import ConfigError, UsageError
from derive.render.sheets import SHEETS

TINY = {
    "edition": "tiny",
    "handout": "A made-up handout, for the test",
    "architecture": {},
    "d_ff_rules": {"twice": {"multiplier": 2, "multiple_of": 8, "text": "the multiple of 8 nearest 2 x d_model"}},
    "models": {
        "toy-a": {"vocab_size": 1000, "context_length": 64, "num_layers": 2, "d_model": 36, "num_heads": 3,
                  "d_ff_rule": "twice"},
        "toy-b": {"vocab_size": 1000, "context_length": 64, "num_layers": 4, "d_model": 60, "num_heads": 5,
                  "d_ff": 120, "d_ff_rule": "twice"},
    },
    "transformer-accounting": {
        "problem": "tiny_accounting", "subject": "toy-b", "family": ["toy-a", "toy-b"], "long_context": 256,
        "parts": {"i": {"answers": ["parameters", "matmuls", "ranking"], "heading": "Everything about toy-b"},
                  "ii": {"answers": ["family"], "asks": "Both toys."},
                  "iii": {"answers": ["long_context"]}},
    },
    "adamw-accounting": {
        "problem": "tiny_adamw", "model": "toy-b", "d_ff": {"multiplier": 2},
        "activations": {"per_block": ["attn_norm", "qkv", "scores", "softmax", "weighted_sum", "o_proj",
                                      "ffn_norm", "w1", "silu", "w2"],
                        "once": ["final_norm", "logits", "cross_entropy"]},
        "budgets": ["1GB"], "steps": 10, "batch_size": 4, "mfu": "0.4", "time_unit": "hours",
        "hardware": {"toy-gpu": {"name": "Toy GPU", "dtype": "fp32", "peak_flops": 10**12,
                                 "memory_bytes": 10**9}},
        "parts": {"a": {"answers": ["memory"]}, "b": {"answers": ["batch"]}, "c": {"answers": ["flops"]},
                  "d": {"answers": ["time"]}},
    },
}


def _write(tmp_path: Path, data: dict, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_shipped_editions_are_named_as_their_files():
    names = api.edition_names()
    assert names == ["2024", "2025", "2026"] and api.DEFAULT_EDITION == "2025"
    for name in names:
        ed = api.load_edition(name)
        assert ed.name == name and ed.is_default == (name == "2025")
        assert ed.handout and ed.source.startswith("https://github.com/stanford-cs336/")


def test_catalog_lists_what_ships_without_sympy():
    names = derive.catalog()
    assert names["editions"] == api.edition_names() and names["default_edition"] == api.DEFAULT_EDITION
    assert names["sheets"] == sorted(SHEETS)


def test_sheet_help_lists_sheets_and_editions():
    result = CliRunner().invoke(main, ["sheet", "--help"])
    assert result.exit_code == 0
    for name in (*SHEETS, "2024", "2025 (default)", "2026", "--edition", "--detail"):
        assert name in result.output


def test_the_2025_edition_holds_derive_trains_givens():
    from derive.accounting.training.run import givens

    g = givens()
    assert {k: g[k] for k in ("steps", "batch_size", "hardware", "mfu", "budgets", "activations")} == {
        "steps": 400_000, "batch_size": 1024, "hardware": "a100-fp32", "mfu": "0.5", "budgets": ["80GB", "80GiB"],
        "activations": "problem"}
    assert g["hardware_entry"].peak_flops == 195 * 10**11  # A100 fp32: 19.5 TFLOP/s
    assert givens("2026")["hardware_entry"].peak_flops == 495 * 10**12  # the 2026 handout's H100 (TF32)


def test_an_edition_of_your_own_renders_and_checks(tmp_path):
    path = _write(tmp_path, TINY)
    ed = api.load_edition(str(path))
    assert ed.models["toy-a"].d_ff == 72 and "assumed: the multiple of 8 nearest 2 x d_model" in \
        ed.models["toy-a"].d_ff_source
    text = api.render_sheet(fmt="md", edition=str(path))
    assert "## (i) Everything about toy-b" in text and "### Matrix multiplies of one forward pass" in text
    assert "## (ii) toy-a and toy-b" in text and "## (iii) toy-b at context_length 256" in text
    report = check_text(text, "tiny.md")
    assert report.exit_code == 0 and not report.mistakes
    adamw = api.render_sheet("adamw-accounting", fmt="md", edition=str(path), detail="brief")
    assert "`tiny_adamw`" in adamw and "Toy GPU" in adamw and "hours" in adamw
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sheet", "--edition", str(path), "--out", str(out), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert (out / "transformer-accounting-edition-tiny.md").is_file()


@pytest.mark.parametrize("change, key", [
    (lambda d: d.pop("handout"), "handout"),
    (lambda d: d["models"]["toy-b"].update(d_ff=128), "models.toy-b.d_ff"),
    (lambda d: d["models"]["toy-a"].update(d_ff_rule="thrice"), "models.toy-a.d_ff_rule"),
    (lambda d: d["models"]["toy-a"].update(ffn="gelu"), "models.toy-a.ffn"),
    (lambda d: d["d_ff_rules"]["twice"].update(multiplier="two"), "d_ff_rules.twice.multiplier"),
    (lambda d: d["transformer-accounting"]["parts"]["ii"].update(answers=["everything"]),
     "transformer-accounting.parts.ii.answers"),
    (lambda d: d["transformer-accounting"]["parts"].pop("iii"), "transformer-accounting.parts"),
    (lambda d: d["transformer-accounting"].update(family=["toy-a", "no-such-model"]), "transformer-accounting"),
    # a preset's name the edition forgot to define: it would have been derive's gpt2-xl, d_ff 6,400 "given"
    (lambda d: d["transformer-accounting"].update(subject="gpt2-xl"), "transformer-accounting"),
    (lambda d: d["adamw-accounting"].update(model="gpt2-small"), "adamw-accounting.model"),
    (lambda d: d["adamw-accounting"]["activations"]["per_block"].append("dropout"), "adamw-accounting.activations"),
    (lambda d: d["adamw-accounting"].update(budgets=["80 gigs"]), "adamw-accounting.budgets"),
    (lambda d: d["adamw-accounting"].update(mfu="1.5"), "adamw-accounting.mfu"),
    (lambda d: d["adamw-accounting"].update(time_unit="fortnights"), "adamw-accounting.time_unit"),
    (lambda d: d["adamw-accounting"].update(hardware="no-such-gpu"), "adamw-accounting.hardware"),
    (lambda d: d["architecture"].update(ffn="relu"), "ffn"),
])
def test_bad_edition_is_one_line_naming_file_and_key(tmp_path, change, key):
    import copy

    data = copy.deepcopy(TINY)
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        api.load_edition(str(path))
    assert str(path.resolve()) in str(err.value) and key in str(err.value) and "\n" not in str(err.value)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sheet", "--edition", str(path), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and key in result.output
    assert not out.exists()


def test_hostile_edition_text_is_escaped(tmp_path):
    data = dict(TINY, handout="<script>alert(1)</script> \\input{/etc/passwd} $x$ `code` # heading")
    path = _write(tmp_path, data)
    html = api.render_sheet(fmt="html", edition=str(path))
    tex = api.render_sheet(fmt="tex", edition=str(path))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\\input{/etc/passwd}" not in tex


def test_unknown_edition_names_the_known_ones(tmp_path):
    result = CliRunner().invoke(main, ["sheet", "--edition", "2023", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip() == "derive: error: --edition: unknown edition '2023' (known editions: 2024, 2025, 2026)"
    with pytest.raises(UsageError):
        api.render_sheet(edition="2023")


def test_editions_belong_to_the_handout_sheets_only(tmp_path):
    for option in (["--edition", "2026"], ["--detail", "brief"]):
        result = CliRunner().invoke(main, ["sheet", "--sheet", "model-accounting", "llama-2-7b", *option,
                                           "--out", str(tmp_path)])
        assert result.exit_code == 2 and option[0] in result.output and "transformer-accounting" in result.output


def test_a_model_of_another_architecture_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["sheet", "--edition", "2024", "--sheet", "transformer-accounting",
                                       "llama-2-7b", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "2024 handout's architecture" in result.output
    result = CliRunner().invoke(main, ["sheet", "--edition", "2024", "--sheet", "adamw-accounting", "llama-2-7b",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 2 and "2024 handout's architecture" in result.output


def test_edition_models_come_before_presets():
    (xl,) = api.load_configs(["gpt2-xl"], edition="2026")
    assert xl.d_ff == 4288
    (preset,) = api.load_configs(["gpt2-xl"])
    assert preset.d_ff == 6400
    (small,) = api.load_configs(["gpt2-small"], {"context_length": 2048}, edition="2026")
    assert small.d_ff == 2048 and small.context_length == 2048
    assert api.default_sheet_for(api.load_configs(["gpt2-xl"], edition="2024"), "2024") == "transformer-accounting"


def test_a_template_of_your_own_gets_the_editions_model(tmp_path):
    template = tmp_path / "appendix.tex.j2"
    template.write_text("P=<< accounting.total_params >> edition=<< edition.name >> parts=<< parts|length >>\n")
    result = CliRunner().invoke(main, ["sheet", "--template", str(template), "--edition", "2026",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "appendix-edition-2026.tex").read_text() == "P=1640452800 edition=2026 parts=5\n"


def test_an_assumption_that_does_not_fit_the_config_is_one_line(tmp_path):
    """2026 (a) assumes d_ff = 8/3 d_model: one layer of 1,024 x 1,024 gives 56/3 x 1,024 x 1,024 activation
    elements, not a whole number (computed by hand), so the sheet says so instead of printing a fraction."""
    assert (56 * 1024 * 1024) % 3 != 0
    path = tmp_path / "odd.yaml"
    path.write_text("name: odd\nvocab_size: 1000\ncontext_length: 1024\nnum_layers: 1\nd_model: 1024\n"
                    "num_heads: 16\nd_ff: 2752\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sheet", str(path), "--edition", "2026", "--sheet", "adamw-accounting",
                                       "--out", str(out)])
    assert result.exit_code == 2 and "not a whole number" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
