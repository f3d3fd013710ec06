"""Sweeps against hand formulas written here, int64 vs exact paths, invalid combinations, the CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
from fractions import Fraction

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.cli import main
from derive.model.config import ModelConfig, load_config
from derive.errors import UsageError
from derive.accounting.quantities import QUANTITIES, parse_quantities
from derive.accounting.sweep import EXACT, INT64, parse_vary, run_sweep, substitute_rows, to_json, to_json_data

ALL = ["params", "forward_flops", "memory_fp32", "memory_bf16", "flops_per_token", "buffers"]


def hand(v: dict[str, int]) -> dict[str, int]:
    """Independent hand formulas (CS336 assignment architecture), exact Python ints."""
    V, T, L, d, h, f = (v[k] for k in ("vocab_size", "context_length", "num_layers", "d_model", "num_heads",
                                        "d_ff"))
    B, S = v["batch_size"], v["seq_len"]
    P = 2 * V * d + L * (4 * d * d + 3 * d * f + 2 * d) + d
    F = L * (8 * B * S * d * d + 4 * B * S * S * d + 6 * B * S * d * f) + 2 * B * S * d * V
    per_token = Fraction(F, B * S)
    assert per_token.denominator == 1
    return {"params": P, "forward_flops": F, "memory_fp32": 4 * P, "memory_bf16": 2 * P,
            "flops_per_token": int(per_token), "buffers": L * 2 * T * (d // h)}


def expected_rows(base: ModelConfig, varied: dict[str, list[int]], names: list[str]) -> list[dict]:
    rows = []
    for combo in itertools.product(*varied.values()):
        v = {"batch_size": 1, **base.values(), **dict(zip(varied, combo))}
        v.setdefault("seq_len", v["context_length"])
        reasons = []
        if v["d_model"] % v["num_heads"]:
            reasons.append("d_model not divisible by num_heads")
        if v["seq_len"] > v["context_length"]:
            reasons.append("seq_len > context_length")
        values = hand(v) if not reasons else {}
        rows.append({**{k: v[k] for k in varied}, **{n: values.get(n) for n in names},
                     "invalid": "; ".join(reasons)})
    return rows


BASE = load_config("gpt2-small")
small = st.lists(st.integers(1, 4096), min_size=1, max_size=3, unique=True)


@settings(max_examples=25, deadline=None)
@given(d_model=small, heads=st.lists(st.integers(1, 64), min_size=1, max_size=3, unique=True),
       layers=st.lists(st.integers(1, 200), min_size=1, max_size=2, unique=True),
       d_ff=st.lists(st.integers(1, 20000), min_size=1, max_size=2, unique=True),
       vocab=st.lists(st.integers(1, 300_000), min_size=1, max_size=2, unique=True),
       ctx=st.lists(st.integers(1, 8192), min_size=1, max_size=2, unique=True),
       seq=st.one_of(st.none(), st.lists(st.integers(1, 8192), min_size=1, max_size=2, unique=True)),
       batch=st.one_of(st.none(), st.lists(st.integers(1, 64), min_size=1, max_size=2, unique=True)),
       which=st.sets(st.sampled_from(["vocab_size", "context_length", "num_layers", "d_ff"])))
def test_rows_match_hand_formulas(d_model, heads, layers, d_ff, vocab, ctx, seq, batch, which) -> None:
    pool = {"vocab_size": vocab, "context_length": ctx, "num_layers": layers, "d_ff": d_ff}
    varied = {"d_model": d_model, "num_heads": heads, **{k: pool[k] for k in sorted(which)}}
    if seq is not None:
        varied["seq_len"] = seq
    if batch is not None:
        varied["batch_size"] = batch
    result = run_sweep(BASE, varied, parse_quantities(",".join(ALL)))
    assert result.rows() == expected_rows(BASE, varied, ALL)
    exact = run_sweep(BASE, varied, parse_quantities(",".join(ALL)), force_exact=True)
    assert set(exact.arithmetic.values()) == {EXACT}
    assert exact.rows() == result.rows()


def test_small_values_take_int64_path() -> None:
    result = run_sweep(BASE, {"d_model": [512, 768]}, parse_quantities("params,forward_flops"))
    assert result.arithmetic == {"params": INT64, "forward_flops": INT64}
    assert result.columns["params"].dtype.kind == "i"


def test_large_values_take_exact_path_and_are_exact() -> None:
    varied = {"d_model": [2**20, 10**6], "num_layers": [10**5, 3], "num_heads": [1, 2**10],
              "context_length": [2**20]}
    result = run_sweep(BASE, varied, parse_quantities("params,forward_flops,flops_per_token"))
    assert result.arithmetic["forward_flops"] == EXACT
    rows = result.rows()
    assert rows == expected_rows(BASE, varied, ["params", "forward_flops", "flops_per_token"])
    biggest = max(r["forward_flops"] for r in rows if r["forward_flops"] is not None)
    assert biggest > 2**63 and isinstance(biggest, int)
    assert to_json_data(result)["quantities"]["forward_flops"]["arithmetic"] == EXACT


def test_path_is_decided_per_quantity() -> None:
    """params of a 1e6-wide model fits int64; its forward FLOPs at 1M context do not."""
    result = run_sweep(BASE, {"d_model": [10**6], "context_length": [2**20]},
                       parse_quantities("params,forward_flops"))
    assert result.arithmetic == {"params": INT64, "forward_flops": EXACT}


def test_invalid_combinations_are_reported_not_dropped() -> None:
    varied = {"d_model": [768, 770], "num_heads": [12], "seq_len": [1024, 2048]}
    result = run_sweep(BASE, varied, parse_quantities("params"))
    rows = result.rows()
    assert len(rows) == 4 and result.invalid_count == 3
    assert rows[0]["invalid"] == "" and rows[0]["params"] == hand({**BASE.values(), "batch_size": 1,
                                                                   "seq_len": 1024})["params"]
    assert rows[1] == {"d_model": 768, "num_heads": 12, "seq_len": 2048, "params": None,
                       "invalid": "seq_len > context_length"}
    assert rows[3]["invalid"] == "d_model not divisible by num_heads; seq_len > context_length"


def test_json_text_equals_json_data() -> None:
    result = run_sweep(BASE, {"d_model": [768, 770], "num_heads": [12, 5], "seq_len": [1000, 2000]},
                       parse_quantities("params,buffers"))
    assert json.loads(to_json(result)) == to_json_data(result)


def test_lambdified_agrees_with_substitution() -> None:
    varied = {"d_model": [512, 768, 1000], "num_layers": [1, 7], "num_heads": [8, 12]}
    qs = parse_quantities("params,forward_flops,memory_bf16")
    fast = run_sweep(BASE, varied, qs).rows()
    slow = substitute_rows(BASE, varied, qs)
    assert [[r[q.name] for q in qs] for r in fast] == slow


@pytest.mark.parametrize("spec, values", [
    ("d_model=512:2048:512", [512, 1024, 1536, 2048]),
    ("num_layers=12,24,48", [12, 24, 48]),
    ("num_layers=1:3", [1, 2, 3]),
    ("d_ff=100,200:400:100,200", [100, 200, 300, 400]),
    ("d_model=512:1000:512", [512]),
])
def test_parse_vary(spec: str, values: list[int]) -> None:
    assert parse_vary(spec)[1] == values


@pytest.mark.parametrize("spec", ["d_model", "d_model=", "=1,2", "width=1,2", "d_model=a:b", "d_model=1:2:3:4",
                                  "d_model=0,1", "d_model=8:4", "d_model=1:8:0", "d_model=1.5", "d_model=-4",
                                  "d_model=1,,2"])
def test_parse_vary_rejects(spec: str) -> None:
    with pytest.raises(UsageError, match="--vary"):
        parse_vary(spec)


def test_registry_is_extensible_data() -> None:
    for name in ("params", "forward_flops", "memory_fp32", "memory_bf16", "flops_per_token"):
        q = QUANTITIES[name]
        assert q.name == name and q.unit and q.description and callable(q.expr)


# --- CLI -------------------------------------------------------------------------------------------------

def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(ln for ln in io.StringIO(text) if not ln.startswith("#")))


def test_cli_csv() -> None:
    res = CliRunner().invoke(main, ["sweep", "gpt2-small", "--vary", "d_model=768:1536:384", "--vary",
                                    "num_heads=12,7", "--quantities", "params,forward_flops"])
    assert res.exit_code == 0, res.output
    assert "# arithmetic: params: numpy int64" in res.output
    rows = _csv_rows(res.output)
    assert len(rows) == 6
    for row in rows:
        v = {**BASE.values(), "batch_size": 1, "seq_len": 1024, "d_model": int(row["d_model"]),
             "num_heads": int(row["num_heads"])}
        if v["d_model"] % v["num_heads"]:
            assert row["params"] == "" and row["invalid"] == "d_model not divisible by num_heads"
        else:
            assert int(row["params"]) == hand(v)["params"] and int(row["forward_flops"]) == hand(v)["forward_flops"]


def test_cli_json_to_file(tmp_path) -> None:
    out = tmp_path / "sweep.json"
    res = CliRunner().invoke(main, ["sweep", "gpt2-small", "--vary", "num_layers=1,2", "--format", "json",
                                    "--out", str(out), "--quantities", "memory_fp32"])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and "memory_fp32: numpy int64" in res.output
    data = json.loads(out.read_text())
    v = {**BASE.values(), "batch_size": 1, "seq_len": 1024}
    assert data["rows"] == [[1, hand({**v, "num_layers": 1})["memory_fp32"], None],
                            [2, hand({**v, "num_layers": 2})["memory_fp32"], None]]


@pytest.mark.parametrize("args, needle", [
    (["--vary", "d_model=abc"], "--vary d_model=abc"),
    (["--vary", "d_model=8:4"], "--vary d_model=8:4"),
    (["--vary", "depth=1,2"], "--vary depth=1,2"),
    (["--vary", "d_model=1,2", "--vary", "d_model=3"], "--vary d_model=3"),
    (["--quantities", "params,nope"], "--quantities"),
    (["--set", "d_model=7"], "num_heads"),
])
def test_cli_bad_input(args: list[str], needle: str) -> None:
    res = CliRunner().invoke(main, ["sweep", "gpt2-small", *args])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.output


def test_cli_without_vary_is_the_config_itself() -> None:
    res = CliRunner().invoke(main, ["sweep", "gpt2-small"])
    assert res.exit_code == 0, res.output
    v = {**BASE.values(), "batch_size": 1, "seq_len": BASE.context_length}
    assert _csv_rows(res.output) == [{"params": str(hand(v)["params"]),
                                      "forward_flops": str(hand(v)["forward_flops"]), "invalid": ""}]


def test_cli_too_many_combinations() -> None:
    res = CliRunner().invoke(main, ["sweep", "gpt2-small", "--vary", "d_model=1:10000",
                                    "--vary", "num_layers=1:10000"])
    assert res.exit_code == 2 and "combinations exceed" in res.output and "Traceback" not in res.output


def test_inputs_beyond_int64_are_exact() -> None:
    varied = {"vocab_size": [10**19, 5]}
    result = run_sweep(BASE, varied, parse_quantities("params"))
    assert result.arithmetic["params"] == EXACT
    assert result.rows() == expected_rows(BASE, varied, ["params"])


def test_gqa_rows_match_hand_formula() -> None:
    """Grouped-query attention: k and v project to num_kv_heads * d_k columns."""
    base = load_config("configs/llama-2-7b.json")
    varied = {"num_heads": [16, 32], "num_kv_heads": [1, 4, 8, 16, 32]}
    rows = run_sweep(base, varied, parse_quantities("params,forward_flops")).rows()
    V, L, d, f, T = base.vocab_size, base.num_layers, base.d_model, base.d_ff, base.context_length
    for row in rows:
        h, kv = row["num_heads"], row["num_kv_heads"]
        if h % kv:
            assert row["invalid"] == "num_heads not divisible by num_kv_heads" and row["params"] is None
            continue
        dkv = kv * d // h
        assert row["params"] == 2 * V * d + L * (2 * d * d + 2 * d * dkv + 3 * d * f + 2 * d) + d
        assert row["forward_flops"] == (L * (2 * T * d * (2 * d + 2 * dkv) + 4 * T * T * d + 6 * T * d * f)
                                        + 2 * T * d * V)


def test_moe_keys_only_for_moe_configs() -> None:
    with pytest.raises(UsageError, match="--vary n_experts"):
        run_sweep(BASE, {"n_experts": [2]}, parse_quantities("params"))


@pytest.mark.parametrize("spec", ["gpt2-xl", "configs/gpt2-xl-hf.json", "configs/llama-2-7b.json",
                                  "configs/mistral-7b.json", "configs/mixtral-8x7b.json"])
def test_sweep_agrees_with_account(spec: str) -> None:
    """The compiled functions against the evaluated Step trees, for every architecture family."""
    from derive.accounting.account import account

    base = load_config(spec)
    names = ["params", "active_params", "buffers", "forward_flops", "memory_bf16", "flops_per_token"]
    varied = {"num_layers": [1, base.num_layers], "seq_len": [1, 7, base.context_length]}
    for row in run_sweep(base, varied, parse_quantities(",".join(names))).rows():
        acc = account(base.replace(num_layers=row["num_layers"]), seq_len=row["seq_len"])
        active = acc.active_params.value if acc.active_params is not None else acc.total_params
        assert [row[n] for n in names] == [acc.total_params, active, acc.buffers.value, acc.forward_flops,
                                           acc.memory("bf16").value, acc.forward_flops // row["seq_len"]]
