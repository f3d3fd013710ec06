"""`derive infer --json`: every figure of an InferAccounting as plain data. Integers stay exact (bytes, FLOPs,
tokens); ratios and seconds are floats; closed forms are text (the printer is passed in by the caller, which
keeps this layer free of the render layer)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

import sympy

from ...errors import UsageError
from ...model import symbols as sy
from ...model.steps import Evaluated, evaluate
from .roofline import CROSSOVER, Roofline
from .run import InferAccounting

MAX_FLOAT = Fraction(10) ** 300  # ratios and times are printed as floats


def number(x: Fraction) -> float:
    """A ratio or a time as a float (exact until here); refused beyond what a float can show."""
    if abs(x) > MAX_FLOAT:
        raise UsageError(f"a time or ratio of {float(min(abs(x), Fraction(10) ** 308)):.3g} is beyond what derive "
                         "can show (check --peak-flops and --bandwidth)")
    return float(x)


def layer_rows(acc: InferAccounting) -> list[dict[str, Any]]:
    """Per attention kind: layers, bytes per token per layer, tokens held after N + M, bytes of the batch."""
    per_token = {c.key.rpartition(".")[2]: c for c in acc.kv_per_token.children}
    rows = []
    for node in acc.kv_cache.children:
        kind = node.key.rpartition(".")[2]
        leaf = node.children[0]
        row = {"kind": kind, "layers": node.repeat_value,
               "bytes_per_token_per_layer": per_token[kind].children[0].value,
               "tokens": leaf.factor_values[1], "bytes": node.value}
        if kind == "sliding_attention":
            row["sliding_window"] = acc.config.sliding_window
        rows.append(row)
    return rows


def after_generate(acc: InferAccounting) -> Evaluated:
    """The cache transformers' generate holds at the end: N + M - 1 tokens (token M is never fed back)."""
    gen = sy.SYMBOLS["gen_len"]
    return evaluate(acc.derivation.kv_cache, {**acc.subs, gen: acc.generate - 1})


def roofline_json(r: Roofline) -> dict[str, Any]:
    return {"flops": r.flops, "bytes": r.bytes, "arithmetic_intensity": number(r.intensity),
            "compute_seconds": number(r.compute_seconds), "memory_seconds": number(r.memory_seconds),
            "time_lower_bound_seconds": number(r.seconds), "bound": r.bound}


def crossover_json(acc: InferAccounting, step: int) -> dict[str, Any]:
    root, terms = acc.crossover(step)
    out: dict[str, Any] = {"step": step, **{k: int(v) for k, v in terms.items()}}
    out["per_sequence_intensity"] = number(terms["f"] / terms["q"]) if terms.get("q") else None
    out["batch_size"] = number(root) if root is not None else None
    out["smallest_compute_bound_batch"] = (root.__ceil__() if root is not None else None)
    return out


def infer_report(acc: InferAccounting, text: Callable[[sympy.Expr], str]) -> dict[str, Any]:
    """The JSON document of `derive infer` (keys: kv_cache, prefill, decode, roofline, budget, ...)."""
    d = acc.derivation
    hw = acc.hardware
    steps = acc.steps
    first = acc.decode_step(1).value if steps else None
    last = acc.decode_step(steps).value if steps else None
    kv_cache: dict[str, Any] = {
        "stores": d.stores,
        "bytes_per_token": acc.kv_per_token.value,
        "bytes_per_token_closed_form": text(d.kv_per_token_closed),
        "layers": layer_rows(acc),
        "tokens": acc.prompt + acc.generate,
        "bytes": acc.kv_cache.value,
        "closed_form": text(d.kv_cache.expr),
        "after_generate": {"tokens": acc.prompt + acc.generate - 1, "bytes": after_generate(acc).value},
    }
    if acc.kv_expanded is not None:
        kv_cache["expanded_bytes_per_token"] = acc.kv_expanded.value
    prefill_flops = {"flops": acc.prefill.value, "closed_form": text(d.prefill.expr),
                     "full_forward_flops": acc.full_forward, "logits_saving_flops": acc.logits_saving,
                     "logits_saving_closed_form": text(d.logits_saving)}
    decode = {"steps": steps, "flops": acc.decode.value, "closed_form": text(d.decode_total.expr),
              "first_step": first, "last_step": last, "step_closed_form": text(d.decode_step.expr)}
    roofline: dict[str, Any] = {
        "hardware": hw.key, "name": hw.name, "dtype": hw.dtype, "peak_flops": number(hw.peak_flops),
        "bandwidth": number(hw.bandwidth), "ridge_point": number(hw.ridge),
        "sources": {"peak_flops": hw.source, "bandwidth": hw.bandwidth_source},
        "prefill": roofline_json(acc.prefill_roofline),
        "decode_first_step": roofline_json(acc.step_roofline(1)) if steps else None,
        "decode_last_step": roofline_json(acc.step_roofline(steps)) if steps else None,
        "decode_seconds": number(acc.decode_seconds),
        "generation_seconds": number(acc.prefill_roofline.seconds + acc.decode_seconds),
        "crossover_batch": {"closed_form": text(CROSSOVER),
                            "first_step": crossover_json(acc, 1) if steps else None,
                            "last_step": crossover_json(acc, steps) if steps else None},
    }
    budget = {"text": acc.budget.text, "bytes": acc.budget.bytes, "given": acc.budget_given,
              "weights_bytes": acc.weights.value, "free_bytes": acc.free_bytes,
              "max_tokens": acc.max_tokens, "request_tokens": acc.prompt + acc.generate,
              "request_bytes": acc.request_bytes, "max_requests": acc.max_requests, "batch_fits": acc.fits}
    return {"config": acc.config.name, "batch_size": acc.batch_size, "prompt": acc.prompt,
            "generate": acc.generate, "dtype": acc.dtype, "kv_dtype": acc.kv_dtype,
            "params": acc.weights.factor_values[0], "weights_bytes": acc.weights.value,
            "kv_cache": kv_cache, "prefill": prefill_flops, "decode": decode, "roofline": roofline,
            "budget": budget}


def general_notes() -> list[str]:
    """The conventions behind every inference figure, one sentence each (printed by the CLI and the sheet)."""
    from .derivation import DECODE_TEXT, PREFILL_TEXT
    from .roofline import MEMORY_MODEL

    return [f"prefill: {PREFILL_TEXT}.", f"decode: {DECODE_TEXT}.",
            "attention scores and weighted sums multiply every key they are given (the N x N square in prefill, "
            "causal mask or not), as PyTorch's FlopCounterMode counts them.", MEMORY_MODEL,
            "GB = 10^9 bytes, GiB = 2^30 bytes; the budget holds the weights and the KV cache only (no "
            "activations, no framework overhead), on one accelerator (no tensor, pipeline or expert parallelism)."]


def model_notes(acc: InferAccounting) -> list[str]:
    """The conventions that only some architectures or requests need (experts, windows, latents, formats)."""
    c, hw = acc.config, acc.hardware
    out = []
    if c.ffn == "moe":
        out.append("experts read per MoE layer: min(n_experts, tokens x experts_per_token): the tokens of a pass "
                   "choose different experts until every expert is in use (balanced routing).")
    if c.sliding_layers:
        out.append(f"sliding-window layers (window W = {c.sliding_window:,}): the cache keeps the last W - 1 tokens "
                   "(transformers 5.24's DynamicSlidingWindowLayer); prefill multiplies their whole N x N square; "
                   "decode step i attends to min(N + i, W) keys. The most tokens of KV cache count tokens held by "
                   "every layer (sequences shorter than the window); the most requests cap each at the window.")
    if c.attention == "mla":
        out.append("multi-head latent attention: the cache holds the latent, and kv_b_proj expands every cached "
                   "latent on every pass, as transformers computes it (kernels that absorb kv_b_proj into the "
                   "query and output projections skip that matmul).")
    if c.hf_model_type == "falcon" and 1 < c.kv_heads < c.num_heads:
        out.append(f"transformers 5.24's Falcon (new_decoder_architecture) broadcasts keys and values to all "
                   f"{c.num_heads} query heads before caching them: its DynamicCache holds num_heads / num_kv_heads "
                   f"= {c.num_heads // c.kv_heads} times the bytes counted here, which are the {c.kv_heads} key/value "
                   "heads the model computes (what a cache keeping num_kv_heads heads holds).")
    if hw.dtype != acc.dtype and acc.dtype not in hw.also:
        out.append(f"the peak FLOP/s of {hw.key} is for {hw.dtype} matmuls; the weights are {acc.dtype}.")
    return out


def inference_notes(acc: InferAccounting) -> list[str]:
    """Every convention behind the figures of `acc`."""
    return [*general_notes(), *model_notes(acc)]
