"""How `derive check` scales with the document: ratios of check times measured in one run.

    PYTHONPATH=. python benchmarks/check.py [--repeat N] [--json FILE]

Each document is generated here and checked in a fresh interpreter (after its imports and one small
warm-up document, so caches start cold for the document measured); the figure is the median of --repeat
runs. Linear time means the ratio of the times equals the ratio of the sizes: 10,000 lines against 1,000
should be about 10, not 100. Nothing here is a test: figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HEAD = ("vocab_size : 50,257\ncontext_length : 1,024\nnum_layers : 48\nd_model : 1,600\nnum_heads : 25\n"
        "d_ff : 6,400\n\n")
# One section of a right derivation (GPT-2 XL, the corrected original): 18 claims in 24 lines.
SECTION = """## Parameters, part {k}
- token_embedding: vocab_size * d_model = 50,257 * 1,600 = 80,411,200
- q_proj: d_model * d_model = 1,600 * 1,600 = 2,560,000
- k_proj: d_model * d_model = 1,600 * 1,600 = 2,560,000
- total_attention: 4 * 2,560,000 = 10,240,000
- w1: d_model * d_ff = 1,600 * 6,400 = 10,240,000
- total_ffn: 3 * 10,240,000 = 30,720,000
- rms_norm: 2 * 1,600 = 3,200
- total_per_transformer_block: 10,240,000 + 30,720,000 + 3,200 = 40,963,200
- all_transformer_blocks: 48 * 40,963,200 = 1,966,233,600
- lm_head: d_model * vocab_size = 1,600 * 50,257 = 80,411,200
- total_parameters: 80,411,200 + 1,966,233,600 + 1,600 + 80,411,200 = 2,127,057,600
- memory: 2,127,057,600 * 4 = 8,508,230,400 bytes = 8.51 GB = 7.92 GiB
The model has about 2.13 billion parameters, 8.51 GB in fp32.

## Forward FLOPs, part {k}
Assuming batch_size = 1 and seq_len = 1,024.
- q_proj: (1, 1024, 1600) @ (1600, 1600) = 2 * 1024 * 1600 * 1600 = 5,242,880,000
- attention_scores: (1, 25, 1024, 64) @ (1, 25, 64, 1024) = 3,355,443,200
- w1: (1, 1024, 1600) @ (1600, 6400) = 20,971,520,000
- total_per_transformer_block: 90,596,966,400
- lm_head: (1, 1024, 1600) @ (1600, 50257) = 164,682,137,600
- total_forward_flops: 4,513,336,524,800 FLOPs = 4.51 TFLOPs
"""

TIMER = """
import sys, time
from derive.check.checker import check_text
check_text({warm!r}, "warm.md")
text = open(sys.argv[1], encoding="utf-8").read()
t = time.perf_counter()
report = check_text(text, sys.argv[1])
print(time.perf_counter() - t, sum(report.claim_counts().values()))
"""


def doc_lines(n: int) -> str:
    """A right derivation of about n lines."""
    parts, k = [HEAD], 0
    while sum(p.count("\n") for p in parts) < n:
        parts.append(SECTION.format(k=k))
        k += 1
    return "".join(parts)


def wrong_lines(n: int) -> str:
    """n wrong lines, each with its own wrong value (the case that was quadratic)."""
    return HEAD + "".join(f"- q_proj: 1,600 * 1,600 = {2_560_001 + i:,}\n" for i in range(n))


def one_line(megabytes: float) -> str:
    """A single line of `1 + 1 + ...` of the given size."""
    return HEAD + "x = " + "1 + " * int(megabytes * 250_000) + "1\n"


def timed(path: Path, repeat: int) -> tuple[float, int]:
    warm = HEAD + SECTION.format(k=0)
    runs = []
    claims = 0
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", TIMER.format(warm=warm), str(path)], check=True,
                             capture_output=True, text=True, env=ENV).stdout.split()
        runs.append(float(out[0]))
        claims = int(out[1])
    return statistics.median(runs), claims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="derive-check-bench-"))
    docs = {
        "lines_1000": doc_lines(1_000), "lines_10000": doc_lines(10_000),
        "wrong_1000": wrong_lines(1_000), "wrong_2000": wrong_lines(2_000), "wrong_10000": wrong_lines(10_000),
        "line_2mb": one_line(2), "line_20mb": one_line(19.5),
        "doc_2mb": doc_lines(2_000_000 // 60), "doc_20mb": doc_lines(19_500_000 // 60),
    }
    out: dict[str, float] = {}
    for name, text in docs.items():
        path = tmp / f"{name}.md"
        path.write_text(text, encoding="utf-8")
        out[f"{name}_bytes"] = len(text.encode("utf-8"))
        out[f"{name}_s"], out[f"{name}_claims"] = timed(path, args.repeat if "20mb" not in name else 1)
    print(report(out))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")


def report(o: dict[str, float]) -> str:
    def row(label: str, a: str, b: str) -> str:
        ratio = o[f"{a}_s"] / o[f"{b}_s"]
        size = o[f"{a}_bytes"] / o[f"{b}_bytes"]
        return (f"| {label} | {o[f'{a}_s']:.2f} s / {o[f'{b}_s']:.2f} s | {ratio:.1f} | {size:.1f} | "
                f"{int(o[f'{a}_claims']):,} / {int(o[f'{b}_claims']):,} |")
    lines = ["| documents | time | time ratio | size ratio | claims found |", "|---|---|---:|---:|---|",
             row("10,000 lines / 1,000 lines of a right derivation", "lines_10000", "lines_1000"),
             row("2,000 / 1,000 wrong lines (each its own mistake)", "wrong_2000", "wrong_1000"),
             row("10,000 / 1,000 wrong lines", "wrong_10000", "wrong_1000"),
             row("one 20 MB line / one 2 MB line", "line_20mb", "line_2mb"),
             row("a 20 MB derivation / a 2 MB one (claims beyond 20,000 are counted, not explained)",
                 "doc_20mb", "doc_2mb")]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
