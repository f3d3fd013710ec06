"""Bytes a pass moves, arithmetic intensity, the roofline bounds on time, and the batch size where decode stops
being bandwidth-bound.

The memory model (state it wherever a figure uses it): a pass reads every weight once and the K/V it attends to,
and writes its new K/V; activations are not counted (they stay on chip or are small beside the weights).
Embedding tables are gathered, not read whole: a pass reads one row per token (a tied table is read whole by
lm_head anyway). A mixture of experts reads the experts its tokens are routed to; derive counts min(n_experts,
tokens x experts_per_token) experts per MoE layer: the tokens choose different experts until every expert is in
use (the balanced routing a load-balancing loss aims for; one token reads exactly its k experts).

Time per pass >= max(FLOPs / peak FLOP/s, bytes / bandwidth) (the roofline, Williams, Waterman and Patterson,
CACM 2009): the pass is compute-bound when its arithmetic intensity FLOPs / bytes exceeds the ridge point
peak / bandwidth, bandwidth-bound below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import sympy

from ...model import symbols as sy
from ...model.architectures import Derivation
from ...model.components import total
from ...model.dims import KE, NE, D
from ...model.options import ArchOptions
from ...model.steps import Dim, Step
from .shapes import BANDWIDTH, BW, PEAK

MEMORY_MODEL = ("bytes moved: a pass reads every weight once (of an untied embedding table only the rows its "
                "tokens look up) and the keys and values it attends to, and writes its new ones; activations are "
                "not counted. Time >= max(FLOPs / peak FLOP/s, bytes / bandwidth).")

# The display symbols of the crossover batch's closed form (not config sizes: each is a value of one pass).
W0, F_SEQ, Q_SEQ = sympy.symbols("W_0 f q", positive=True)
CROSSOVER = sympy.solve(sympy.Eq(sy.B * F_SEQ / PEAK, (W0 + sy.B * Q_SEQ) / BANDWIDTH), sy.B)[0]
CROSSOVER_TERMS = {
    "W_0": "bytes of weights the step reads whatever the batch size",
    "f": "FLOPs of the step per sequence",
    "q": "bytes the step reads and writes per sequence: its K/V, its embedding rows, and (while "
         "batch_size x experts_per_token is at most n_experts) its experts",
}


def _experts(params: Step, multiplier: Dim | None = None) -> Iterator[tuple[Dim, Step]]:
    """(MoE layers, the step of the routed experts) of a parameter tree: the repeated experts and the number of
    blocks that hold them."""
    for child in params.children:
        if child.key.endswith(".experts") and child.repeat is not None:
            assert multiplier is not None, "experts outside the repeated blocks"
            yield multiplier, child
        else:
            yield from _experts(child, child.repeat if child.repeat is not None else multiplier)


# Stand-ins for the two parameter counts in the printed closed forms of bytes moved (display=True below): the
# counts themselves are whole parameter trees, and the tree lines give their values.
P_RES = sympy.Symbol("P_res", positive=True, integer=True)
P_EXPERT = sympy.Symbol("P_expert", positive=True, integer=True)


def weights_read(model: Derivation, opts: ArchOptions, rows: Dim, key: str, display: bool = False) -> Step:
    """Bytes of weights a pass over `rows` tokens (all sequences together) reads; see the module docstring.
    display: the same tree with P_res and P_expert standing for the parameter counts, for printing."""
    params = model.params
    resident = params.expr
    tables = []
    if not opts.tie_embeddings:
        tables.append(params.find("params.token_embedding"))
    if opts.positions == "learned":
        tables.append(params.find("params.position_embedding"))
    for table in tables:
        resident -= table.expr
    experts = list(_experts(params))
    for layers, step in experts:
        resident -= layers.expr * step.expr
    children = [Step(f"{key}.resident", "resident_weights", kind="memory", factors=(
        Dim("resident_parameters", P_RES if display else sympy.expand(resident), r"P_{\mathrm{res}}"), BW),
        description="every parameter but the embedding tables' rows no token looks up and the experts no token "
                    "is routed to")]
    if tables:
        count = (Dim.const(len(tables)),) if len(tables) > 1 else ()
        children.append(Step(f"{key}.embedding_rows", "embedding_rows", kind="memory",
                             factors=(*count, rows, D, BW), description="one row of each untied embedding table "
                                                                         "per token"))
    for layers, step in experts:
        touched = Dim(f"min(n_experts, {rows.name} * experts_per_token)", sympy.Min(NE.expr, rows.expr * KE.expr),
                      rf"\min(E, {rows.latex} k)")
        one = Dim("expert_parameters", P_EXPERT if display else step.children[0].expr, r"P_{\mathrm{expert}}")
        children.append(Step(f"{key}.experts", "routed_experts", kind="memory", factors=(layers, touched, one, BW),
                             description="the experts the tokens are routed to, in every MoE layer"))
    return total(key, "weights_read", "total_weight_bytes_read", children)


def pass_bytes(key: str, title: str, weights: Step, kv: Step) -> Step:
    """Bytes a pass moves: weights read plus the K/V it reads and writes."""
    return total(key, title, f"total_{title}", [weights, kv])


@dataclass(frozen=True)
class Roofline:
    """One pass against one accelerator: FLOPs, bytes, and the bounds on its time (exact fractions)."""

    flops: int
    bytes: int
    peak: Fraction  # FLOP/s
    bandwidth: Fraction  # bytes/s

    @property
    def intensity(self) -> Fraction:
        """FLOPs per byte moved."""
        return Fraction(self.flops, self.bytes)

    @property
    def ridge(self) -> Fraction:
        return self.peak / self.bandwidth

    @property
    def compute_seconds(self) -> Fraction:
        return self.flops / self.peak

    @property
    def memory_seconds(self) -> Fraction:
        return self.bytes / self.bandwidth

    @property
    def seconds(self) -> Fraction:
        """The lower bound on the pass's time: max(FLOPs / peak, bytes / bandwidth)."""
        return max(self.compute_seconds, self.memory_seconds)

    @property
    def bound(self) -> str:
        return "compute" if self.compute_seconds >= self.memory_seconds else "memory bandwidth"


def crossover(flops: sympy.Expr, moved: sympy.Expr, peak: Fraction, bandwidth: Fraction
              ) -> tuple[Fraction | None, dict[str, Fraction]]:
    """The real batch size where a decode step's compute time reaches its memory time, and (W_0, f, q) there.

    `flops` and `moved` are the step's FLOPs and bytes with every size but batch_size substituted: FLOPs are
    B f; bytes W_0 + B q, piecewise when a mixture of experts reads min(E, B k) experts (each piece is tried; the
    difference compute - memory is convex in B, so at most one piece crosses). None: bandwidth-bound at every
    batch size (f / peak <= q / bandwidth)."""
    b = sy.B
    f = sympy.expand(flops).coeff(b)
    assert sympy.expand(flops - f * b) == 0, "a decode step's FLOPs are proportional to batch_size"
    mins = sorted((m for m in moved.atoms(sympy.Min) if b in m.free_symbols), key=sympy.default_sort_key)
    assert len(mins) <= 1, "one routed-expert term at most"
    pieces = [{m: arg for m in mins} for arg in (mins[0].args if mins else ())] or [{}]
    best: tuple[Fraction | None, dict[str, Fraction]] = (None, {})
    for piece in pieces:
        linear = sympy.expand(moved.xreplace(piece))
        w0, q = linear.subs(b, 0), linear.coeff(b)
        terms = {"W_0": Fraction(int(w0)), "f": Fraction(int(f)), "q": Fraction(int(q))}
        denominator = bandwidth * terms["f"] - peak * terms["q"]
        if denominator <= 0:
            best = best if best[0] is not None else (None, terms)
            continue
        root = peak * terms["W_0"] / denominator
        if mins:  # the piece holds at its own root: its term is the Min there
            at = {b: sympy.Rational(root.numerator, root.denominator)}
            if mins[0].xreplace(at) != sympy.sympify(piece[mins[0]]).xreplace(at):
                continue
        if best[0] is None or root < best[0]:
            best = (root, terms)
    return best
