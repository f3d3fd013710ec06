"""Benchmarks of derive against its alternatives, reported as ratios measured in one run.

    PYTHONPATH=. python benchmarks/run.py [--repeat N] [--sweep-size N] [--json FILE]

Wall times of fresh interpreters (imports included) are the median of --repeat runs. Nothing here is a
test: no figure is asserted, only printed (as a Markdown table for the README).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# A config of about one trillion trainable parameters (d_k = 128, d_ff = 4 d_model).
TRILLION = {"name": "1t", "vocab_size": 50257, "context_length": 2048, "num_layers": 96, "d_model": 25600,
            "num_heads": 200, "d_ff": 102400}


def wall(cmd: list[str], repeat: int) -> float:
    """Median wall time of a command in a fresh process (it must succeed)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=ENV, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def wall_pair(a: list[str], b: list[str], repeat: int) -> tuple[float, float]:
    """Median wall times of two commands run alternately, so drift in machine load hits both alike."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(wall(a, 1))
        tb.append(wall(b, 1))
    return statistics.median(ta), statistics.median(tb)


def best(fn, repeat: int) -> float:
    """Best in-process time of fn() (after a warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per wall-time figure (median)")
    ap.add_argument("--sweep-size", type=int, default=1_000_000, help="combinations in the sweep benchmark")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the figures as JSON here")
    ap.add_argument("--only", choices=["all", "startup"], default="all",
                    help="startup: only the sheet's cost against importing its libraries")
    args = ap.parse_args()
    r = args.repeat
    out: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="derive-bench-"))
    import yaml

    trillion_yaml = tmp / "1t.yaml"
    trillion_yaml.write_text(yaml.safe_dump(TRILLION))
    derive = [PY, "-m", "derive"]
    xl_yaml = ROOT / "configs" / "gpt2-xl.yaml"

    # 1. startup: the default sheet (md + tex + html + 2 SVG charts) against importing its libraries
    libs = [PY, "-c", "import sympy, jinja2, yaml, click"]
    out["import_libs_s"], out["sheet_s"] = wall_pair(libs, [*derive, "sheet", "--out", str(tmp / "build")], r)
    out["help_s"] = wall([*derive, "--help"], r)
    out["import_libs_2_s"], out["sheet_tex_s"] = wall_pair(libs, [*derive, "sheet", "--format", "tex", "--out",
                                                                  str(tmp / "build")], r)
    out["sheet_tex_over_import_libs"] = out["sheet_tex_s"] / out["import_libs_2_s"]
    out["sheet_over_import_libs"] = out["sheet_s"] / out["import_libs_s"]
    if args.only == "startup":
        print(report({**dict.fromkeys(STARTUP_ONLY_DEFAULTS, 0.0), **out}, rows=2))
        return

    # 2. size independence: GPT-2 XL against a 1-trillion-parameter config
    out["params_gpt2xl_s"], out["params_1t_s"] = wall_pair([*derive, "params", str(xl_yaml)],
                                                           [*derive, "params", str(trillion_yaml)], r)
    out["params_1t_over_gpt2xl"] = out["params_1t_s"] / out["params_gpt2xl_s"]
    from derive import api

    xl, big = api.load_config("gpt2-xl"), api.load_config(str(trillion_yaml))
    out["account_gpt2xl_ms"] = 1e3 * best(lambda: (api.account(xl).params, api.account(xl).forward), r)
    out["account_1t_ms"] = 1e3 * best(lambda: (api.account(big).params, api.account(big).forward), r)
    out["account_1t_over_gpt2xl"] = out["account_1t_ms"] / out["account_gpt2xl_ms"]
    out["params_1t"] = api.account(big).total_params

    # 3. derive params + flops against PyTorch on the meta device with FlopCounterMode (fresh processes)
    oracle = [PY, str(ROOT / "benchmarks" / "torch_oracle.py")]
    torch_numbers = json.loads(subprocess.run([*oracle, str(xl_yaml)], check=True, capture_output=True,
                                              text=True, env=ENV).stdout)
    acc = api.account(xl)
    out["torch_agrees"] = float(torch_numbers == {"params": acc.total_params, "forward_flops": acc.forward_flops})
    out["derive_params_flops_s"] = wall([*derive, "params", "gpt2-xl"], r) + wall([*derive, "flops", "gpt2-xl"], r)
    out["torch_meta_s"] = wall([*oracle, str(xl_yaml)], r)
    torch_t, _ = wall_pair([PY, "-c", "import torch"], [PY, "-c", "pass"], r)
    out["import_torch_s"] = torch_t
    out["torch_over_derive"] = out["torch_meta_s"] / out["derive_params_flops_s"]
    out["torch_meta_1t_s"] = wall([*oracle, str(trillion_yaml)], max(1, r // 2))

    # 4. sweep throughput: compiled functions against substituting per combination
    from derive.accounting.quantities import parse_quantities
    from derive.accounting.sweep import run_sweep, substitute_rows, to_csv

    qs = parse_quantities("params,forward_flops")
    per_axis = max(2, round((args.sweep_size / 4) ** (1 / 2)))
    varied = {"d_model": list(range(64, 64 * per_axis + 1, 64)), "num_layers": list(range(1, per_axis + 1)),
              "num_heads": [8, 16], "context_length": [1024, 4096]}
    n = per_axis * per_axis * 4
    base = api.load_config("gpt2-xl")
    run_sweep(base, {"d_model": [64]}, qs)  # compile once, outside the timing
    t = time.perf_counter()
    result = run_sweep(base, varied, qs)
    out["sweep_eval_s"] = time.perf_counter() - t
    t = time.perf_counter()
    to_csv(result)
    out["sweep_csv_s"] = time.perf_counter() - t
    out["sweep_combinations"] = n
    out["sweep_per_s"] = n / out["sweep_eval_s"]
    out["sweep_with_csv_per_s"] = n / (out["sweep_eval_s"] + out["sweep_csv_s"])
    big_varied = {"d_model": [10**6, 2 * 10**6], "num_layers": list(range(1000, 1000 + per_axis)),
                  "context_length": list(range(2**20, 2**20 + per_axis))}
    t = time.perf_counter()
    exact = run_sweep(base, big_varied, qs)
    out["sweep_exact_per_s"] = exact.size / (time.perf_counter() - t)
    out["sweep_exact_path"] = float(exact.arithmetic["forward_flops"] == "exact Python int")
    m = 2000
    t = time.perf_counter()
    substitute_rows(base, varied, qs, limit=m)
    out["substitute_per_s"] = m / (time.perf_counter() - t)
    out["sweep_speedup"] = out["sweep_per_s"] / out["substitute_per_s"]

    print(report(out))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")


STARTUP_ONLY_DEFAULTS = ("params_1t_s", "params_gpt2xl_s", "params_1t_over_gpt2xl", "account_1t_ms",
                         "account_gpt2xl_ms", "account_1t_over_gpt2xl", "torch_meta_s", "derive_params_flops_s",
                         "torch_over_derive", "torch_meta_1t_s", "import_torch_s", "sweep_combinations",
                         "sweep_eval_s", "sweep_per_s", "sweep_with_csv_per_s", "sweep_exact_per_s",
                         "substitute_per_s", "sweep_speedup", "torch_agrees", "params_1t")


def report(o: dict[str, float], rows: int | None = None) -> str:
    table = [
        ("`derive sheet` (default: md + tex + html + 2 SVG charts) / `python -c \"import sympy, jinja2, yaml, "
         "click\"`", f"{o['sheet_s']:.2f} s / {o['import_libs_s']:.2f} s", f"{o['sheet_over_import_libs']:.2f}"),
        ("`derive sheet --format tex` / the same imports",
         f"{o['sheet_tex_s']:.2f} s / {o['import_libs_2_s']:.2f} s", f"{o['sheet_tex_over_import_libs']:.2f}"),
        ("`derive --help`", f"{o['help_s']:.3f} s", ""),
        (f"`derive params` 1T-parameter config / GPT-2 XL (fresh process)",
         f"{o['params_1t_s']:.2f} s / {o['params_gpt2xl_s']:.2f} s", f"{o['params_1t_over_gpt2xl']:.2f}"),
        ("accounting 1T / GPT-2 XL (in process, after import)",
         f"{o['account_1t_ms']:.2f} ms / {o['account_gpt2xl_ms']:.2f} ms", f"{o['account_1t_over_gpt2xl']:.2f}"),
        ("torch meta + FlopCounterMode / `derive params` + `derive flops` (GPT-2 XL)",
         f"{o['torch_meta_s']:.2f} s / {o['derive_params_flops_s']:.2f} s", f"{o['torch_over_derive']:.1f}"),
        ("torch meta + FlopCounterMode, 1T config", f"{o['torch_meta_1t_s']:.2f} s", ""),
        ("`python -c \"import torch\"` alone", f"{o['import_torch_s']:.2f} s", ""),
        (f"sweep, compiled (numpy int64), {int(o['sweep_combinations']):,} combinations",
         f"{o['sweep_eval_s']:.2f} s = {o['sweep_per_s']:,.0f}/s (with CSV: {o['sweep_with_csv_per_s']:,.0f}/s)", ""),
        ("sweep, compiled (exact Python ints, values > 2^63)", f"{o['sweep_exact_per_s']:,.0f}/s", ""),
        ("sweep, xreplace per combination", f"{o['substitute_per_s']:,.0f}/s", ""),
        ("sweep speedup, compiled / substituting", "", f"{o['sweep_speedup']:,.0f}"),
    ]
    lines = ["| measurement | time | ratio |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in table[:rows]]
    if rows is not None:
        return "\n".join(lines)
    lines.append("")
    lines.append(f"torch numbers equal derive's for GPT-2 XL: {'yes' if o['torch_agrees'] else 'NO'}; "
                 f"1T config: {int(o['params_1t']):,} parameters.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
