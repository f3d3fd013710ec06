"""Memory and time of `derive sweep` as the number of rows grows, as ratios measured in one run.

    PYTHONPATH=. python benchmarks/sweep_memory.py [--rows 20000000] [--base-rows 1000000] [--json FILE]

Each figure is a fresh `python -m derive sweep ... --out FILE` process; its peak resident memory comes from
the kernel (os.wait4's ru_maxrss). The baselines are a process that only imports what a sweep imports, and
the same sweep at --base-rows. Streaming keeps the peak flat: the ratio of peaks should stay near 1 while the
time grows with the rows. For comparison, the in-memory path (run_sweep + to_csv, every row at once) is
measured at --base-rows. Nothing here is a test: figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PY = sys.executable
D_MODEL = "d_model=12:24000:12"  # 2,000 values, all divisible by gpt2-small's 12 heads; int64 all the way


def measure(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak resident bytes) of one process, which must succeed."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=ENV, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss * 1024  # kilobytes on Linux


def sweep_cmd(rows: int, out: Path) -> list[str]:
    layers = rows // 2000
    return [PY, "-m", "derive", "sweep", "gpt2-small", "--vary", D_MODEL, "--vary", f"num_layers=1:{layers}",
            "--quantities", "params,forward_flops", "--out", str(out)]


IN_MEMORY = """
import sys
from derive.accounting.quantities import parse_quantities
from derive.accounting.sweep import parse_varies, run_sweep, to_csv
from derive.api import load_config
result = run_sweep(load_config("gpt2-small"), parse_varies(["{d}", "num_layers=1:{layers}"]),
                   parse_quantities("params,forward_flops"))
open(sys.argv[1], "w").write(to_csv(result))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--base-rows", type=int, default=1_000_000)
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="derive-sweep-bench-") as tmp:
        target = Path(tmp) / "sweep.csv"
        out["imports_s"], out["imports_bytes"] = measure(
            [PY, "-c", "import derive.api, derive.accounting.sweep, numpy, sympy"])
        out["base_s"], out["base_bytes"] = measure(sweep_cmd(args.base_rows, target))
        out["base_file_bytes"] = target.stat().st_size
        out["big_s"], out["big_bytes"] = measure(sweep_cmd(args.rows, target))
        out["big_file_bytes"] = target.stat().st_size
        code = IN_MEMORY.format(d=D_MODEL, layers=args.base_rows // 2000)
        out["in_memory_s"], out["in_memory_bytes"] = measure([PY, "-c", code, str(target)])
    out["rows"], out["base_rows"] = args.rows, args.base_rows
    out["peak_ratio"] = out["big_bytes"] / out["base_bytes"]
    out["time_ratio"] = out["big_s"] / out["base_s"]
    out["rows_ratio"] = args.rows / args.base_rows
    out["in_memory_over_streamed"] = (out["in_memory_bytes"] - out["imports_bytes"]) / max(
        out["base_bytes"] - out["imports_bytes"], 1)
    print(report(out))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")


def report(o: dict[str, float]) -> str:
    mb = 1e6
    rows = [
        ("imports only (`derive.api`, numpy, sympy)", f"{o['imports_s']:.2f} s", f"{o['imports_bytes'] / mb:.0f} MB", ""),
        (f"`derive sweep --out`, {int(o['base_rows']):,} rows ({o['base_file_bytes'] / mb:.0f} MB of CSV)",
         f"{o['base_s']:.2f} s", f"{o['base_bytes'] / mb:.0f} MB", "baseline"),
        (f"`derive sweep --out`, {int(o['rows']):,} rows ({o['big_file_bytes'] / mb:.0f} MB of CSV)",
         f"{o['big_s']:.2f} s", f"{o['big_bytes'] / mb:.0f} MB",
         f"time x{o['time_ratio']:.1f} for rows x{o['rows_ratio']:.0f}; peak x{o['peak_ratio']:.2f}"),
        (f"every row in memory (run_sweep + to_csv), {int(o['base_rows']):,} rows", f"{o['in_memory_s']:.2f} s",
         f"{o['in_memory_bytes'] / mb:.0f} MB",
         f"{o['in_memory_over_streamed']:.1f}x the streamed sweep's memory above imports"),
    ]
    lines = ["| measurement | time | peak memory | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
