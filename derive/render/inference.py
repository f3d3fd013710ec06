"""`derive infer` as terminal text, and the number formats the inference outputs share (rates, times).

Every figure comes from derive.accounting.inference; this module only lays them out.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .escape import escape_terminal
from .formatting import GB, GIB, fmt_decimal, fmt_int

PREFIXES = ((10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def significant(x: float, digits: int = 4) -> str:
    """`x` with at most `digits` significant digits, never in exponent notation (0.0001234, 295.3, 1,234)."""
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:
        text = f"{x:.{max(digits - 1, 0) + 12}f}".rstrip("0").rstrip(".") if abs(x) < 1 else f"{x:,.0f}"
    return text


def rate(x: Fraction | int, unit: str) -> str:
    """A rate with an SI prefix: 989.4 TFLOP/s, 3.35 TB/s."""
    for scale, prefix in PREFIXES:
        if x >= scale:
            return f"{significant(float(Fraction(x) / scale))} {prefix}{unit}"
    return f"{significant(float(x))} {unit}"


def duration(seconds: Fraction) -> str:
    """117.1 ms, 4.794 ms, 0.9602 s, 35.2 us (ASCII, so every format can print it)."""
    if seconds >= 1:
        return f"{significant(float(seconds))} s"
    if seconds >= Fraction(1, 1000):
        return f"{significant(float(seconds * 1000))} ms"
    return f"{significant(float(seconds * 10**6))} us"


def size(n: int) -> str:
    """bytes as `1,258,291,200 bytes = 1.26 GB = 1.17 GiB`."""
    return f"{fmt_int(n)} bytes = {fmt_decimal(Fraction(n, GB))} GB = {fmt_decimal(Fraction(n, GIB))} GiB"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def crossover_line(step: dict[str, Any], ridge: float) -> str:
    name = f"step i = {step['step']:,}"
    if step["batch_size"] is None:
        intensity = step["per_sequence_intensity"]
        return (f"  {name}: never (each sequence brings f / q = {significant(intensity)} FLOP/byte, below the ridge "
                f"point {significant(ridge)}: more sequences add memory traffic as fast as FLOPs)")
    return (f"  {name}: B* = {significant(step['batch_size'])}, so batch_size >= "
            f"{fmt_int(step['smallest_compute_bound_batch'])} (W_0 = {fmt_int(step['W_0'])}, f = {fmt_int(step['f'])}, "
            f"q = {fmt_int(step['q'])})")


def infer_text(report: dict[str, Any], notes: list[str]) -> str:
    """The terminal report of `derive infer` from its JSON document."""
    r, kv, pre, dec, roof, bud = (report, report["kv_cache"], report["prefill"], report["decode"],
                                  report["roofline"], report["budget"])
    out = [f"{escape_terminal(r['config'])}: inference, batch_size {r['batch_size']:,}, prompt {r['prompt']:,} tokens, "
           f"generate {r['generate']:,} tokens; weights {r['dtype']}, KV cache {r['kv_dtype']}", ""]
    out.append(f"KV cache: {kv['stores']}")
    out.append(f"  bytes per token: {kv['bytes_per_token_closed_form']} = {fmt_int(kv['bytes_per_token'])}")
    for row in kv["layers"]:
        held = (f"the last min(N + M, W - 1) = {row['tokens']:,} tokens (window W = {row['sliding_window']:,})"
                if row["kind"] == "sliding_attention" else f"all {row['tokens']:,} tokens")
        out.append(f"    {row['kind']}: {row['layers']:,} layers x {row['bytes_per_token_per_layer']:,} bytes per "
                   f"token per layer, holding {held}")
    if "expanded_bytes_per_token" in kv:
        out.append(f"    (per-head keys and values would take {fmt_int(kv['expanded_bytes_per_token'])} bytes per "
                   "token)")
    out.append(f"  batch of {r['batch_size']:,} x (N + M) = {kv['tokens']:,} tokens: {size(kv['bytes'])}")
    after = kv["after_generate"]
    out.append(f"  held at the end of generate ({after['tokens']:,} tokens each): {size(after['bytes'])}")
    out += ["", f"prefill FLOPs: {fmt_int(pre['flops'])} (logits for the last position only)",
            f"  a full forward (logits at every position) is {fmt_int(pre['full_forward_flops'])}: "
            f"{pre['logits_saving_closed_form']} = {fmt_int(pre['logits_saving_flops'])} more"]
    out.append(f"decode FLOPs: {fmt_int(dec['flops'])} over {dec['steps']:,} steps")
    out.append(f"  step i: {dec['step_closed_form']}")
    out.append(f"  all steps (sum over i = 1 .. M - 1): {dec['closed_form']}")
    if dec["steps"]:
        out.append(f"  first step (i = 1): {fmt_int(dec['first_step'])}; last step (i = {dec['steps']:,}): "
                   f"{fmt_int(dec['last_step'])}")
    ridge = roof["ridge_point"]
    out += ["", f"roofline on {escape_terminal(roof['hardware'])} ({escape_terminal(roof['name'])}): peak "
                f"{rate(Fraction(roof['peak_flops']), 'FLOP/s')}, bandwidth {rate(Fraction(roof['bandwidth']), 'B/s')}, "
                f"ridge point {significant(ridge)} FLOP/byte"]
    rows = [("pass", "FLOPs", "bytes moved", "FLOP/byte", "time >=", "bound")]
    passes = [("prefill", roof["prefill"])]
    if dec["steps"]:
        passes += [("decode step 1", roof["decode_first_step"]),
                   (f"decode step {dec['steps']:,}", roof["decode_last_step"])]
    for name, p in passes:
        rows.append((name, fmt_int(p["flops"]), fmt_int(p["bytes"]), significant(p["arithmetic_intensity"]),
                     duration(Fraction(p["time_lower_bound_seconds"])), p["bound"]))
    out += _table(rows)
    out.append(f"  all decode steps >= {duration(Fraction(roof['decode_seconds']))}; prefill + decode >= "
               f"{duration(Fraction(roof['generation_seconds']))}")
    cross = roof["crossover_batch"]
    if dec["steps"]:
        out.append(f"decode turns compute-bound at batch_size B* = {cross['closed_form']}:")
        for key in ("first_step", "last_step"):
            out.append(crossover_line(cross[key], ridge))
    where = "" if bud["given"] else f" (the memory of {escape_terminal(roof['hardware'])})"
    out += ["", f"budget {escape_terminal(bud['text'])}{where}: {size(bud['bytes'])}",
            f"  weights in {r['dtype']}: {size(bud['weights_bytes'])}"]
    if bud["free_bytes"] < 0:
        out.append("  the weights do not fit")
    else:
        out.append(f"  free for the KV cache: {size(bud['free_bytes'])}")
        out.append(f"  most tokens of KV cache: floor(free / {fmt_int(kv['bytes_per_token'])}) = "
                   f"{fmt_int(bud['max_tokens'])}")
        if bud["max_requests"] is not None:
            out.append(f"  most requests of {bud['request_tokens']:,} tokens: floor(free / "
                       f"{fmt_int(bud['request_bytes'])}) = {fmt_int(bud['max_requests'])}")
    out.append(f"  this batch ({r['batch_size']:,} x {bud['request_tokens']:,} tokens): "
               f"{'fits' if bud['batch_fits'] else 'does not fit'}")
    out += ["", *(f"note: {n}" for n in notes)]
    return "\n".join(out) + "\n"
