"""Inference accounting as candidates: the KV cache, prefill and decode FLOPs, bytes moved, rooflines and the
memory budget of one generation request (derive infer's options, the inference-accounting sheet), from
derive.accounting.inference as it is.

The request is the one the document states (`Request: batch_size = 1 sequences, prompt_len N = 512 tokens,
gen_len M = 512 tokens ...; weights in bf16, KV cache in bf16`, the accelerator key `h100-bf16`, `Budget 80GB`);
without such a statement nothing is added. The candidates are every node of the evaluated trees (KV bytes per
token and of the batch, what is held at the end of generate, weights, prefill, the first and last decode steps,
all decode steps, bytes prefill and a decode step move), each with its closed form; every integer of
`derive infer --json`; and the figures derived from them: the full forward and the logits it saves, the key sum
Sigma_K, arithmetic intensity and the compute, memory and total time bounds of each pass, the ridge point, the
time of all decode steps and of generation, tokens per second, the crossover batch (W_0, f, q, f / q, B*), the
budget's free bytes, most tokens and requests, and the batch's share of the budget. Each is titled by the
sheet's sections, so a figure in a section about the request is read as the request's
(derive.check.explain.titled).
"""

from __future__ import annotations

import re
from fractions import Fraction

import sympy

from ..accounting.inference.report import after_generate, infer_report
from ..accounting.inference.run import INFER_DTYPES, InferAccounting, infer_account
from ..errors import DeriveError
from ..model import symbols as sy
from .candidates import Candidate, Setting, name_key, report_integers, tree_candidates

SECTION = "section_"  # prefix of a title compared with the claim's headings (derive.check.explain.titled)
SECTIONS = ("kv_cache", "prefill", "decode", "bytes_moved_and_the_roofline", "memory_budget")
_INT = r"(\d[\d,]*)"
_SP = r"[\s\\,~$()]*"  # spacing and math delimiters a format may put between words


def _int(text: str) -> int:
    return int(text.replace(",", "").replace("{", "").replace("}", ""))


def infer_setup(text: str) -> dict | None:
    """The request a document states (keyword arguments of derive.accounting.inference.run.infer_account), or
    None when it states none (no `prompt_len N = ...` and `gen_len M = ...`)."""
    flat = re.sub(r"\s+", " ", text)
    prompt = re.search(rf"prompt_len\W*(?:N\W*)?=\W*{_INT}", flat)
    generate = re.search(rf"gen_len\W*(?:M\W*)?=\W*{_INT}", flat)
    if prompt is None or generate is None:
        return None
    batch = re.search(rf"batch_size\W*=\W*{_INT}\W*sequences", flat)
    formats = "|".join(map(re.escape, INFER_DTYPES))
    dtype = re.search(rf"weights in ({formats})\b", flat)
    kv = re.search(rf"KV cache in ({formats})\b", flat)
    hardware = re.search(r"\(`?([a-z0-9][\w.]*-[\w.-]*[a-z0-9])`?\):?\s*peak", flat) \
        or re.search(r"the memory of `?([a-z0-9][\w.-]*[a-z0-9])", flat)
    given = re.search(r"Budget\s+`?(\d[\d.]*\s*(?:[KMGT]i?B|B))\b(?![^.]*the memory of)", flat)
    return {"prompt": _int(prompt.group(1)), "generate": _int(generate.group(1)),
            "batch_size": _int(batch.group(1)) if batch else 1, "dtype": dtype.group(1) if dtype else "bf16",
            "kv_dtype": kv.group(1) if kv else None, "hardware": hardware.group(1) if hardware else None,
            "budget": given.group(1).replace(" ", "") if given else None}


def account_for(setting: Setting, run: dict) -> InferAccounting | None:
    """derive's inference accounting of this setting's config for the stated request (None if derive refuses)."""
    try:
        return infer_account(setting.config, **run)
    except (DeriveError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def request_values(acc: InferAccounting) -> dict[str, int]:
    """The request's sizes under their symbol names, for a document's arithmetic (`prompt_len * kv_bytes`):
    the decode step is the first, the one the sheet expands."""
    out = {name: int(acc.subs[sy.SYMBOLS[name]]) for name in ("prompt_len", "gen_len", "weight_bytes", "kv_bytes")}
    out["decode_step"] = 1
    try:
        out["resident_parameters"] = acc.prefill_bytes.find("prefill_bytes.weights.resident").factor_values[0]
    except (KeyError, IndexError, AttributeError):
        pass
    return out


def _c(value, family: str, roles: set[str], label: str, setting: Setting, expr=None, rank: int = 0,
       titles: tuple[str, ...] = ()) -> Candidate:
    return Candidate(Fraction(value), family, "inference", frozenset(roles), label, setting,
                     expr_value=None if expr is None else sympy.sympify(expr), rank=rank,
                     titles=frozenset(name_key(t) for t in titles if t) | {SECTION + s for s in SECTIONS})


def _family(path: str) -> str:
    if "flops" in path or path.endswith((".f", "first_step", "last_step")):
        return "FLOPs"
    return "bytes" if "bytes" in path or path.endswith((".W_0", ".q")) else "count"


def _trees(acc: InferAccounting, st: Setting) -> list[Candidate]:
    """Every node of the evaluated trees, with its closed form (bytes or FLOPs)."""
    steps = acc.steps
    trees = [(acc.kv_per_token, "bytes", "KV cache bytes per token"), (acc.kv_cache, "bytes", "KV cache"),
             (after_generate(acc), "bytes", "KV cache at the end of generate"), (acc.weights, "bytes", "weights"),
             (acc.prefill, "FLOPs", "prefill"), (acc.decode, "FLOPs", "all decode steps"),
             (acc.prefill_bytes, "bytes", "bytes prefill moves")]
    if acc.kv_expanded is not None:
        trees.append((acc.kv_expanded, "bytes", "per-head KV cache"))
    for i in sorted({1, steps}) if steps else ():
        trees += [(acc.decode_step(i), "FLOPs", f"decode step {i:,}"),
                  (acc.step_bytes(i), "bytes", f"bytes decode step {i:,} moves")]
    out: list[Candidate] = []
    for root, family, what in trees:
        for c in tree_candidates(root, "inference", st, family, shares=False):
            out.append(_c(c.value, family, set(c.roles), f"{what}: {c.label}", st, c.expr, rank=c.rank,
                          titles=tuple(c.titles)))
    return out


def inference_candidates(setting: Setting, run: dict) -> list[Candidate]:
    """Every figure of derive infer and the inference-accounting sheet for the request the document states
    (module docstring); [] if derive refuses it."""
    acc = account_for(setting, run)
    if acc is None:
        return []
    d, steps = acc.derivation, acc.steps
    st = Setting(acc.config, acc.batch_size, acc.prompt)
    subs = {k: sympy.Integer(v) for k, v in acc.subs.items()}
    out = _trees(acc, st)
    for path, value in report_integers(infer_report(acc, str)):
        leaf = re.sub(r"\[\d+\]", "", path.rsplit(".", 1)[-1])
        out.append(_c(value, _family(path), {leaf}, f"derive infer: {path}", st, rank=1, titles=(leaf,)))
    out += [_c(acc.kv_per_token.value, "bytes", {"kv_per_token"}, "KV cache bytes per token", st,
               d.kv_per_token_closed, titles=("kv_bytes_per_token",)),
            _c(acc.full_forward, "FLOPs", {"full_forward"}, "a full forward over the prompt", st, d.full_forward),
            _c(acc.logits_saving, "FLOPs", {"logits_saving"}, "lm_head FLOPs prefill saves", st, d.logits_saving),
            _c(acc.prompt + acc.generate, "count", {"tokens"}, "N + M tokens per sequence", st, rank=1),
            _c(acc.prompt + acc.generate - 1, "count", {"tokens"}, "N + M - 1 tokens cached at the end", st,
               rank=1)]
    for key, what, i in (("resident", "resident_parameters", 0), ("experts", "expert_parameters", -2)):
        try:  # the parameters every pass reads whatever its tokens (P_res), and one expert's
            n = acc.prefill_bytes.find(f"prefill_bytes.weights.{key}").factor_values[i]
        except (KeyError, IndexError):
            continue
        out.append(_c(n, "count", {what}, what, st, titles=(what, "P_res" if key == "resident" else "")))
    total, sums = d.decode_total_display
    for symbol, definition in sums:  # Sigma_K: the keys of all decode steps
        out.append(_c(int(definition.xreplace(subs)), "count", {str(symbol)}, f"{symbol}", st, definition))
    if steps:
        for i in sorted({1, steps}):
            out.append(_c(acc.decode_step(i).value, "FLOPs", {"decode_step"}, f"FLOPs of decode step {i:,}", st,
                          d.decode_step.expr.xreplace({sy.SYMBOLS["decode_step"]: i}), titles=("step",)))
    out += _roofline(acc, st)
    out += _budget(acc, st)
    # a ratio of 1,000 or more is shown to 4 significant digits without decimals (`3949` FLOP/byte): the whole
    # number it rounds to, read exactly by the checker, is that figure too
    out += [_c(round(c.value), c.family, set(c.roles), f"{c.label}, shown to the whole number", st, rank=c.rank + 1,
               titles=tuple(c.titles)) for c in out if c.family == "ratio" and c.value >= 1000
            and c.value.denominator != 1]
    return out


def _roofline(acc: InferAccounting, st: Setting) -> list[Candidate]:
    """Intensity and time bounds of each pass, the ridge point, generation time, the crossover batch."""
    hw, steps = acc.hardware, acc.steps
    out = [_c(hw.ridge, "ratio", {"ridge_point"}, f"ridge point of {hw.key}", st),
           _c(hw.peak_flops, "FLOP/s", {"peak_flops"}, f"{hw.key} peak", st, rank=1),
           # figures the source of the peak quotes beside it (`1,978.9 TFLOP/s BF16 with sparsity; half dense`)
           *(_c(Fraction(m.group(1).replace(",", "")) * 10**12, "FLOP/s", {"peak_flops"},
                f"quoted in the source of {hw.key}'s peak: {m.group(0)}", st, rank=2)
             for m in re.finditer(r"(\d[\d,]*(?:\.\d+)?) TFLOP/s", hw.source)),
           _c(hw.bandwidth, "count", {"bandwidth"}, f"{hw.key} bandwidth, bytes/s", st, rank=1)]
    passes = [("prefill", acc.prefill_roofline)]
    passes += [(f"decode step {i:,}", acc.step_roofline(i)) for i in sorted({1, steps})] if steps else []
    for name, r in passes:
        out += [_c(r.intensity, "ratio", {"arithmetic_intensity"}, f"{name}: FLOPs / bytes", st),
                _c(r.compute_seconds, "s", {"compute_seconds"}, f"{name}: FLOPs / peak", st),
                _c(r.memory_seconds, "s", {"memory_seconds"}, f"{name}: bytes / bandwidth", st),
                _c(r.seconds, "s", {"time"}, f"{name}: time at least", st)]
    out.append(_c(acc.decode_seconds, "s", {"decode_seconds"}, "all decode steps, at least", st))
    out.append(_c(acc.prefill_roofline.seconds + acc.decode_seconds, "s", {"generation_seconds"},
                  "prefill and decode, at least", st))
    if steps and acc.decode_seconds:
        out.append(_c(Fraction(acc.batch_size * steps) / acc.decode_seconds, "ratio", {"tokens_per_second"},
                      "generated tokens per second", st))
    for i in sorted({1, steps}) if steps else ():
        root, terms = acc.crossover(i)
        for key, family in (("W_0", "bytes"), ("f", "FLOPs"), ("q", "bytes")):
            if key in terms:
                out.append(_c(terms[key], family, {key}, f"crossover at step {i:,}: {key}", st, titles=(key,)))
        if terms.get("q"):
            out.append(_c(Fraction(terms["f"]) / Fraction(terms["q"]), "ratio", {"per_sequence_intensity"},
                          f"crossover at step {i:,}: f / q", st))
        if root is not None:
            out += [_c(root, "ratio", {"crossover_batch"}, f"crossover batch B* at step {i:,}", st),
                    _c(root.__ceil__(), "count", {"crossover_batch"}, f"compute-bound from, step {i:,}", st)]
    return out


def _budget(acc: InferAccounting, st: Setting) -> list[Candidate]:
    """The budget, the bytes free beside the weights, most tokens and requests, the batch's share."""
    b = acc.budget.bytes
    out = [_c(b, "bytes", {"budget"}, f"budget {acc.budget.text}", st),
           _c(acc.free_bytes, "bytes", {"free"}, "budget - weights", st, titles=("free",)),
           _c(acc.max_tokens, "count", {"max_tokens"}, "most tokens of KV cache", st, titles=("max_tokens",)),
           _c(acc.request_bytes, "bytes", {"request_bytes"}, "KV bytes of one request", st),
           _c(Fraction(acc.kv_cache.value, b), "ratio", {"share"}, "the batch's KV cache / the budget", st)]
    if acc.max_requests is not None:
        out.append(_c(acc.max_requests, "count", {"max_requests"}, "most requests", st, titles=("max_requests",)))
    return out
