"""The symbolic inference accounting of one architecture, built once per set of architecture options.

Every tree is in the model's symbols plus the request's (batch_size B, prompt_len N, gen_len M, decode_step i)
and the number formats (weight_bytes, kv_bytes); evaluation substitutes them (derive.accounting.inference.run).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy

from ...model import symbols as sy
from ...model.architectures import Derivation, build
from ...model.components import weight
from ...model.dims import B
from ...model.options import ArchOptions
from ...model.steps import Dim, Step
from .kv_cache import cache_tree, expanded_per_token, per_token_tree, stores
from .passes import pass_tree
from .roofline import pass_bytes, weights_read
from .shapes import (
    BW,
    KEY_SUMS_DISPLAY,
    KEYS_STEP,
    KEYS_STEP_SWA,
    KEYS_SUM,
    KEYS_SUM_SWA,
    ONE,
    REQUEST,
    STEPS,
    N,
)

PREFILL_TEXT = ("one forward pass over the N prompt tokens of each sequence, with logits for the last position "
                "only (transformers' generate passes logits_to_keep=1); it yields the first generated token and "
                "fills the KV cache")
DECODE_TEXT = ("decode step i (i = 1 .. M - 1) sends generated token i through the model: one token per "
               "sequence, N + i - 1 tokens cached, attending to N + i keys (a sliding-window layer to min(N + i, "
               "W)); token M comes from the last step's logits and is never fed back")


@dataclass(frozen=True, eq=False)
class InferenceDerivation:
    """Symbolic trees of one architecture's inference: KV cache, prefill, decode (a step as a function of its
    position i, and all M - 1 steps), weight memory, and the bytes prefill and a decode step move."""

    opts: ArchOptions
    model: Derivation
    kv_per_token: Step
    kv_cache: Step
    kv_expanded: Step | None
    prefill: Step
    decode_step: Step
    decode_total: Step
    weights: Step
    prefill_bytes: Step
    step_bytes: Step

    @property
    def stores(self) -> str:
        return stores(self.opts)

    @cached_property
    def kv_per_token_closed(self) -> sympy.Expr:
        """Bytes of KV cache per token, all layers, factored: 2 L h_kv d_head b_kv (MLA: L (r_kv + d_rope) b_kv);
        a sliding-window layer counts while its window is not full."""
        return sympy.factor(self.kv_per_token.expr)

    @cached_property
    def full_forward(self) -> sympy.Expr:
        """derive's forward pass over the N prompt tokens with logits at every position (seq_len = N)."""
        return self.model.forward.expr.xreplace({sy.S: N.expr})

    @cached_property
    def logits_saving(self) -> sympy.Expr:
        """FLOPs a full forward spends beyond prefill: lm_head over the N - 1 positions whose logits generation
        never reads, 2 B (N - 1) d V."""
        return sympy.factor(sympy.expand(self.full_forward - self.prefill.expr))

    @cached_property
    def decode_total_display(self) -> tuple[sympy.Expr, list[tuple[sympy.Symbol, sympy.Expr]]]:
        """The decode total with Sigma_K (sum over steps of N + i) and, with sliding windows, Sigma_W (of
        min(N + i, W)) standing for the sums of keys, and those sums' own closed forms: what sheets print."""
        shown = pass_tree(self.opts, "decode", "decode", STEPS, ONE, KEY_SUMS_DISPLAY, STEPS).expr
        sums = [(KEY_SUMS_DISPLAY[kind].expr, dim.expr) for kind, dim in
                (("full_attention", KEYS_SUM), ("sliding_attention", KEYS_SUM_SWA)) if KEY_SUMS_DISPLAY[kind].expr
                in shown.free_symbols]
        return shown, sums

    @cached_property
    def prefill_bytes_display(self) -> sympy.Expr:
        """prefill_bytes with P_res and P_expert standing for the parameter counts (what sheets print)."""
        prompt_rows = Dim("batch_size * prompt_len", B.expr * N.expr, r"B N")
        return weights_read(self.model, self.opts, prompt_rows, "w", display=True).expr + \
            self.prefill_bytes.children[1].expr

    @cached_property
    def step_bytes_display(self) -> sympy.Expr:
        """step_bytes with P_res and P_expert standing for the parameter counts (what sheets print)."""
        return weights_read(self.model, self.opts, B, "w", display=True).expr + self.step_bytes.children[1].expr


def _keys(step: Dim, sliding: Dim) -> dict[str, Dim]:
    return {"full_attention": step, "sliding_attention": sliding}


@lru_cache(maxsize=None)
def inference_derivation(opts: ArchOptions) -> InferenceDerivation:
    """The inference trees of `opts` (cached: one per distinct architecture)."""
    model = build(opts)
    prefill = pass_tree(opts, "prefill", "prefill", N, N, _keys(N, N), ONE, PREFILL_TEXT)
    step = pass_tree(opts, "decode_step", "decode_step", ONE, ONE, _keys(KEYS_STEP, KEYS_STEP_SWA), ONE, DECODE_TEXT)
    all_steps = pass_tree(opts, "decode", "decode", STEPS, ONE, _keys(KEYS_SUM, KEYS_SUM_SWA), STEPS,
                          "all M - 1 decode steps: each token through the projections and feed-forward blocks "
                          "once, each step's query against that step's keys")
    weights = weight("weights", "weights_in_memory", Dim("total_parameters", model.params.expr, "P"), BW,
                     "bytes to hold every weight")
    prompt_rows = Dim("batch_size * prompt_len", B.expr * N.expr, r"B N")
    prefill_bytes = pass_bytes("prefill_bytes", "prefill_bytes_moved",
                               weights_read(model, opts, prompt_rows, "prefill_bytes.weights"),
                               cache_tree(opts, N, "prefill_bytes.kv_written", "kv_written"))
    step_bytes = pass_bytes("step_bytes", "decode_step_bytes_moved",
                            weights_read(model, opts, B, "step_bytes.weights"),
                            cache_tree(opts, KEYS_STEP, "step_bytes.kv_touched", "kv_read_and_written",
                                       KEYS_STEP_SWA))
    return InferenceDerivation(opts, model, per_token_tree(opts), cache_tree(opts, REQUEST),
                               expanded_per_token(opts), prefill, step, all_steps, weights, prefill_bytes,
                               step_bytes)
