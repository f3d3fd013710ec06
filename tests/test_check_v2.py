"""derive check, second version (issue 11): the report's promises, the CLI, and a property test over random
configs where every figure is written in a random style from hand formulas (conftest), then one is changed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import hand_forward_flops, hand_params
from derive.check.checker import check_text
from derive.check.report import as_json, as_text
from derive.cli import main

DATA = Path(__file__).parent / "data"
ORIGINAL = DATA / "check" / "original.txt"
CASES = DATA / "check_cases"


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


# ------------------------------------------------------------------ the original document

def test_original_states_the_rope_overcount() -> None:
    text = run("check", str(ORIGINAL), "--config", "gpt2-xl").output
    rope_total = 48 * 2 * 1024 * (1600 // 25)  # one cos/sin pair of context_length x d_k per block
    assert rope_total == 6_291_456
    assert "the total is 6,291,456 too high" in text
    assert "2 mistake(s): line 41 (rope_buffers), line 55 (gb_vs_gib)." in text


def test_report_formats_agree() -> None:
    as_flag = json.loads(run("check", str(ORIGINAL), "--json").output)
    as_format = json.loads(run("check", str(ORIGINAL), "--format", "json").output)
    assert as_flag == as_format
    line = next(x for x in as_format["lines"] if x["number"] == 55)
    assert {"number", "claim", "verdict", "expected", "explanation", "claims"} <= set(line)
    assert as_format["summary"]["claims_found"] == as_format["summary"]["claims_checked"] == 35
    assert run("check", str(ORIGINAL), "--format", "md").output.startswith("# derive check")


def test_standard_input_and_a_file_agree() -> None:
    text = ORIGINAL.read_text()
    from_stdin = json.loads(run("check", "-", "--json", stdin=text).output)
    from_file = json.loads(run("check", str(ORIGINAL), "--json").output)
    assert from_stdin["lines"] == from_file["lines"]


# ------------------------------------------------------------------ summary promises

LISTING = ("vocab_size : 50,257\ncontext_length : 1,024\nnum_layers : 48\nd_model : 1,600\nnum_heads : 25\n"
           "d_ff : 6,400\n\n")


def test_never_no_mistakes_found_while_claims_go_unexplained() -> None:
    report = check_text(LISTING + "q_proj: 1,600 * 1,600 = 2,560,000\nmystery: 12 * 8 = 96\n", "a.md")
    text = as_text(report)
    assert report.exit_code == 0
    assert "No mistakes found" not in text
    assert "1 of 2 numeric claim(s) checked" in text and "1 claim(s) not understood (line(s) 9)" in text
    assert "nearest" in report.lines[1].explanation


def test_config_that_disagrees_with_the_listing_is_named() -> None:
    result = run("check", str(CASES / "assumed-dff.md"), "--config", "gpt2-small")
    assert result.exit_code == 1
    assert "--config gpt2-small disagrees with the document: d_ff 2,048 in the document (line 1), 3,072 in gpt2-small" \
        in result.output
    assert "An assumption that differs: you used d_ff = 2,048; the config has 3,072" in result.output


def test_set_applies_to_the_document_model(tmp_path: Path) -> None:
    path = tmp_path / "answer.md"
    path.write_text(LISTING + "w1: d_model * d_ff = 1,600 * 4,000 = 6,400,000\n")
    assert run("check", str(path)).exit_code == 1
    # the listing says 6,400, --set says 4,000: the document's own arithmetic is read with its own sizes,
    # the expected values come from the config with --set
    assert run("check", str(path), "--set", "d_ff=4000").exit_code == 1
    path.write_text(LISTING.replace("d_ff : 6,400\n", "") + "w1: 1,600 * 4,000 = 6,400,000\n")
    assert run("check", str(path), "--set", "d_ff=4000").exit_code == 0
    assert run("check", str(path), "--set", "d_ff=4000", "--set", "nonsense=1").exit_code == 2


def test_json_report_is_json_ready() -> None:
    report = check_text(ORIGINAL.read_text(), "original.txt", "gpt2-xl")
    data = as_json(report)
    assert json.loads(json.dumps(data)) == data
    assert data["summary"]["propagated"] == {"43": 41, "52": 41, "55": 41}


# ------------------------------------------------------------------ random configs, random styles

def _figures(V: int, T: int, L: int, d: int, h: int, f: int) -> list[tuple[str, str, int, str]]:
    """(label, written arithmetic, value, unit) from hand formulas, independent of derive's builders."""
    S, dk = T, d // h
    block = 4 * d * d + 3 * d * f + 2 * d
    return [
        ("token_embedding", f"{V} * {d}", V * d, ""),
        ("q_proj", f"{d} * {d}", d * d, ""),
        ("total_ffn", f"3 * {d} * {f}", 3 * d * f, ""),
        ("total_per_transformer_block", f"4 * {d}^2 + 3 * {d} * {f} + 2 * {d}", block, ""),
        ("all_transformer_blocks", f"{L} * {block}", L * block, ""),
        ("total_parameters", f"2 * {V} * {d} + {L} * {block} + {d}", hand_params(V, L, d, f), ""),
        ("attention_scores FLOPs", f"2 * {h} * {S} * {dk} * {S}", 2 * h * S * dk * S, "FLOPs"),
        ("lm_head FLOPs", f"2 * {S} * {d} * {V}", 2 * S * d * V, "FLOPs"),
        ("total forward FLOPs", "", hand_forward_flops(V, L, d, f, 1, S), "FLOPs"),
    ]


def _write(label: str, expr: str, value: int, unit: str, style: int) -> str:
    unit_text = f" {unit}" if unit else ""
    if style == 0 or not expr:
        return f"- {label}: {value:,}{unit_text}"
    if style == 1:
        return f"- {label}: {expr} = {value:,}{unit_text}"
    if style == 2:
        return f"{label.replace(' ', '_')} = {expr} = {value}"
    if style == 3:
        tex = expr.replace("*", r"\times").replace("^2", "^{2}")
        return f"${label.split()[0]} = {tex} = {value:,}".replace(",", "{,}") + (r"\ \text{" + unit + "}$"
                                                                                  if unit else "$")
    return f"| {label} | {value:,}{unit_text} |"


@settings(max_examples=10, deadline=None)
@given(layers=st.integers(1, 6), heads=st.integers(1, 4), d_k=st.sampled_from([8, 16, 32]),
       ff=st.integers(2, 5), vocab=st.integers(300, 5000), seed=st.integers(0, 10**6))
def test_random_configs_in_random_styles(layers: int, heads: int, d_k: int, ff: int, vocab: int,
                                         seed: int) -> None:
    d, T = heads * d_k, 64
    rng = random.Random(seed)
    figures = _figures(vocab, T, layers, d, heads, ff * d)
    head = (f"vocab_size : {vocab:,}\ncontext_length : {T}\nnum_layers : {layers}\nd_model : {d}\n"
            f"num_heads : {heads}\nd_ff : {ff * d}\n\nAssuming batch_size = 1 and seq_len = {T}.\n\n")
    lines, tables = [], []
    for label, expr, value, unit in figures:
        style = rng.randrange(5)
        (tables if style == 4 else lines).append(_write(label, expr, value, unit, style))
    text = head + "\n".join(lines) + "\n\n| quantity | value |\n|---|---|\n" + "\n".join(tables) + "\n"
    report = check_text(text, "random.md")
    bad = [(c.number, c.verdict, c.claim, c.explanation) for c in report.lines if c.verdict != "ok"]
    assert bad == [] and report.exit_code == 0
    # one figure changed by one: that line, and only lines that depend on it, are wrong
    k = rng.randrange(len(figures))
    label, expr, value, unit = figures[k]
    changed = text.replace(f"{value:,}", f"{value + 1:,}").replace(f"= {value}\n", f"= {value + 1}\n")
    changed = changed.replace(f"{value:,}".replace(",", "{,}"), f"{value + 1:,}".replace(",", "{,}"))
    if changed == text:
        return
    report = check_text(changed, "random.md")
    assert report.exit_code == 1
    assert report.mistakes and all(c.verdict in ("wrong", "arithmetic error") for c in report.mistakes)
