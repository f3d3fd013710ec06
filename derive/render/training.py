"""`derive train` as terminal text: the homework's lines first (unchanged for its defaults), then the run at
scale: precision ledger, parallel layout, memory per device by stage, the largest micro-batch, the fewest devices,
step FLOPs with their convention, time and MFU. Lays out the report; computes nothing new."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .escape import escape_terminal
from .formatting import GB, GIB, fmt_decimal


def _size(n: int) -> str:
    return f"{n:,} bytes = {fmt_decimal(Fraction(n, GB))} GB = {fmt_decimal(Fraction(n, GIB))} GiB"


def homework_lines(t, report: dict[str, Any]) -> list[str]:
    """The lines derive train printed before parallelism existed (what the homework's tests and users read)."""
    mem = report["memory"]
    s = report["setup"]
    out = [f"{escape_terminal(t.config.name)}: training with {t.optimizer_kind.title}, {t.precision.key}, "
           f"batch_size {t.batch_size:,}, seq_len {t.seq_len:,}"]
    out += [f"  convention: {line}" for line in t.derivation.conventions.lines()]
    one = s["devices"] == 1 and s["microbatches"] == 1
    what = "memory" if one else f"memory per device (stage {mem['peak_stage']})"
    per = "batch_size" if one else "micro_batch"
    line = f"{what} = {mem['per_example_bytes']:,} * {per} + {mem['fixed_bytes']:,} bytes"
    if mem["total_at_micro_batch_1"] != mem["per_example_bytes"] + mem["fixed_bytes"]:
        line += f" (from 2 sequences on; at 1, views instead of copies: {mem['total_at_micro_batch_1']:,} bytes)"
    out.append(line)
    out.append(f"largest {'batch' if one else 'micro-batch'} in {escape_terminal(t.budget.text)} "
               f"({t.budget.bytes:,} bytes): {report['max_batch_size']:,}")
    out.append(f"forward FLOPs:     {report['forward_flops']:,}")
    out.append(f"backward FLOPs:    {report['backward_flops']:,}")
    if report["recompute_flops"]:
        out.append(f"recompute FLOPs:   {report['recompute_flops']:,}")
    out.append(f"step FLOPs:        {report['step_flops']:,}")
    if report["optimizer_flops"] is not None:
        out.append(f"AdamW FLOPs:       {report['optimizer_flops']:,}")
    for key, value in report["approximations"].items():
        out.append(f"{key + ' estimate:':<19}{value:,}")
    tm = report["time"]
    where = f"{tm['devices']:,} x {t.hardware.key}" if tm["devices"] > 1 else t.hardware.key
    line = (f"time: {t.steps:,} steps on {where} at {float(t.mfu):.0%} MFU = {tm['seconds']:,.0f} s = "
            f"{tm['days']:,.2f} days")
    if t.hardware_choice:  # the homework's a100-fp32 stays as it was printed; any other choice is said
        line += (f" (peak {fmt_decimal(Fraction(t.hardware.peak_flops, 10**12), 1)} TFLOP/s {t.hardware.dtype} per "
                 f"device: {t.hardware_choice})")
    out.append(line)
    return out


def scale_lines(t, report: dict[str, Any]) -> list[str]:
    s, mem, prec = report["setup"], report["memory"], report["precision"]
    ledger = " + ".join(f"{r['kind']} {r['bytes_per_parameter']}" for r in prec["ledger"])
    out = [f"precision {prec['key']} ({prec['title']}), {t.optimizer_kind.title}: {prec['bytes_per_parameter']} "
           f"bytes per parameter = {ledger}"]
    if t.optimizer_kind.factored:
        out.append("  Adafactor's factored state is counted per matrix (rows + columns), not per parameter")
    zero = f" with ZeRO-{s['zero']}" if s["zero"] else ""
    sp = " + sp" if s["sp"] else ""
    ep = f", ep {s['ep']} x etp {s['etp']} for experts" if t.config.ffn == "moe" else ""
    out.append(f"parallelism: dp {s['dp']:,}{zero} x tp {s['tp']}{sp} x pp {s['pp']} = {s['devices']:,} device(s)"
               f"{ep}; micro-batch {s['micro_batch']:,}, {s['microbatches']:,} per step per data-parallel rank; "
               f"schedule {s['schedule']}")
    out.append(f"activations: {s['activations']} ({s['activations_description']}); recompute {s['recompute']}")
    stages = len(mem["stages"])
    out.append(f"per device (the most loaded: stage {mem['peak_stage']} of {stages}):")
    states = ", ".join(f"{k} {v:,}" for k, v in mem["model_states"].items())
    out.append(f"  model states        {_size(mem['model_states_per_device'])} ({states})")
    out.append(f"  activations         {_size(mem['activations_per_device'])}")
    out.append(f"    per layer         {mem['activations_per_layer']:,} bytes per micro-batch = "
               f"{mem['activations_per_layer_formula']}")
    out.append(f"  total               {_size(mem['total_per_device'])}")
    if stages > 1:
        for st in mem["stages"]:
            out.append(f"  stage {st['stage']}: {st['in_flight']} micro-batch(es) in flight, total {st['total']:,} "
                       "bytes")
    out.append(f"largest micro-batch per device in {escape_terminal(t.budget.text)}: {report['largest_batch']:,} "
               f"(bound by stage {report['largest_batch_bound_by_stage']})")
    fd = report["fewest_devices"]
    if fd["devices"] is None:
        out.append(f"fewest devices of {escape_terminal(fd['budget'])} at micro-batch {fd['micro_batch']}: none "
                   f"({fd['reason']})")
    else:
        out.append(f"fewest devices of {escape_terminal(fd['budget'])} at micro-batch {fd['micro_batch']}: "
                   f"{fd['devices']:,} (dp {fd['dp']:,} x tp {s['tp']} x pp {s['pp']})")
    tm = report["time"]
    out.append(f"step FLOPs for time and MFU: {tm['step_flops']:,} ({tm['counts']})")
    if tm["recompute_flops"]:
        out.append(f"  recomputed: {tm['recompute_flops']:,} FLOPs per step: {float(t.mfu):.1%} MFU = "
                   f"{tm['hfu']:.1%} HFU")
    if "measured" in tm:
        m = tm["measured"]
        out.append(f"measured: {m['step_time_seconds']:,.4g} s per step = {m['tokens_per_second']:,.0f} tokens/s "
                   f"on {tm['devices']:,} x {t.hardware.key}: {m['mfu']:.1%} MFU ({tm['convention']})"
                   + (f", {m['hfu']:.1%} HFU" if tm["recompute_flops"] else ""))
    return out


def train_lines(t, report: dict[str, Any]) -> list[str]:
    return homework_lines(t, report) + scale_lines(t, report)
