"""Known pitfalls of hand accounting, as data: a key, a one-sentence explanation, and a probe.

Each probe recomputes the line's quantity under the alternative convention (the value a student
would get by making that mistake) and returns the candidate values; the checker says the pitfall
explains a claim when the claim equals one of them. Explanations are templates over the config's
values (`{d_ff:,}`) so no figure is typed in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Protocol


class Probe(Protocol):
    """What a pitfall may ask about the line under check (implemented in derive.check.checker)."""

    tree: str            # 'params' | 'active_params' | 'buffers' | 'forward' | 'memory'
    expected: int        # derived value of the line's quantity
    scale: int           # bytes per parameter for a memory line, else 1
    values: dict         # config values plus batch_size and seq_len

    def under(self, leaf: str) -> int:
        """How many times node `leaf` (key without its tree prefix, e.g. 'block') counts in this line."""

    def leaf(self, leaf: str) -> int:
        """Derived value of one occurrence of node `leaf` in this line's tree."""

    def alt(self, **changes: int) -> int | None:
        """This line's derived value with the config (or batch_size/seq_len) changed."""


PARAM_TREES = ("params", "active_params", "memory")  # trees whose lines count parameters (or their bytes)


@dataclass(frozen=True)
class Pitfall:
    key: str
    title: str
    explanation: str  # one sentence; str.format'ed with the config values
    candidates: Callable[[Probe], Iterable[int]]


def _rope(p: Probe) -> Iterable[int]:
    if p.tree not in PARAM_TREES:
        return []
    per_block = p.values["rope_per_block"]
    blocks = p.under("block")
    return [p.expected + per_block * p.scale * k for k in {1, blocks} if k]


def _tied(p: Probe) -> Iterable[int]:
    if p.tree not in PARAM_TREES or not (p.under("lm_head") or p.under("token_embedding")):
        return []
    return [p.expected - p.leaf("lm_head") * p.scale]


def _two_matrix_ffn(p: Probe) -> Iterable[int]:
    tree = "forward" if p.tree == "forward" else "params"
    if tree == "params" and p.tree not in PARAM_TREES:
        return []
    n = p.under("block.ffn.w3")
    return [p.expected - p.leaf("block.ffn.w3") * n] if n else []


def _d_ff_xl(p: Probe) -> Iterable[int]:
    if p.values["d_ff"] == p.values["xl_d_ff"]:
        return []
    value = p.alt(d_ff=p.values["xl_d_ff"])
    return [value] if value is not None else []


def _macs(p: Probe) -> Iterable[int]:
    return [p.expected // 2] if p.tree == "forward" and p.expected % 2 == 0 else []


def _causal(p: Probe) -> Iterable[int]:
    if p.tree != "forward":
        return []
    scores = p.leaf("block.attention.scores") * p.under("block.attention.scores")
    weighted = p.leaf("block.attention.weighted_sum") * p.under("block.attention.weighted_sum")
    return [p.expected - h // 2 for h in (scores + weighted, scores, weighted) if h]


def _layers(p: Probe) -> Iterable[int]:
    if p.values["num_layers"] == 1 or not p.under("block"):
        return []
    value = p.alt(num_layers=1)
    return [value] if value is not None else []


def _batch(p: Probe) -> Iterable[int]:
    if p.tree != "forward" or p.values["batch_size"] == 1:
        return []
    value = p.alt(batch_size=1)
    return [value] if value is not None else []


# Order matters: the first pitfall whose candidates explain a claim is reported.
PITFALLS: dict[str, Pitfall] = {p.key: p for p in (
    Pitfall("rope_buffers", "RoPE tables counted as parameters",
            "The RoPE cos and sin tables are fixed buffers computed from positions, not trainable "
            "parameters, so they do not belong in the parameter count.", _rope),
    Pitfall("tied_embeddings", "embeddings counted as tied",
            "This model's lm_head is untied from the token embedding, so both vocab_size x d_model "
            "matrices count; counting one matrix for both assumes tied embeddings.", _tied),
    Pitfall("two_matrix_ffn", "2-matrix FFN instead of SwiGLU",
            "The feed-forward is SwiGLU with three matrices (W1 and W3: d_model -> d_ff, W2: d_ff -> d_model); "
            "counting two, as for a plain MLP, leaves out one d_model x d_ff matrix per block.", _two_matrix_ffn),
    Pitfall("d_ff_xl", "d_ff of GPT-2 XL kept",
            "d_ff was kept at GPT-2 XL's {xl_d_ff:,}, but this model has d_ff = {d_ff:,}.", _d_ff_xl),
    Pitfall("causal_halving", "attention halved for the causal mask",
            "Attention scores and the weighted sum are counted as the full square (what PyTorch's "
            "FlopCounterMode counts); halving them for the causal mask is a different convention.", _causal),
    Pitfall("macs_as_flops", "multiply-accumulates reported as FLOPs",
            "One multiply-accumulate is 2 FLOPs, so an (m x k) @ (k x n) matmul costs 2mkn FLOPs; "
            "this value counts multiply-accumulates, half the FLOPs.", _macs),
    Pitfall("missing_num_layers", "factor num_layers missing",
            "The per-block figure must be multiplied by num_layers = {num_layers:,}; "
            "this is the value with a single block.", _layers),
    Pitfall("missing_batch", "factor batch_size missing",
            "Every matmul on activations scales with batch_size = {batch_size:,}; "
            "this is the value for a batch of one.", _batch),
)}

# Not a recomputation: a written unit that only fits under its decimal/binary twin.
GB_VS_GIB = Pitfall("gb_vs_gib", "GiB called GB",
                    "{value} is {fits} = {other}, not {written}: GB means 10^9 bytes and GiB 2^30 bytes, "
                    "so the unit is mislabelled.", lambda p: [])


def explain(pitfall: Pitfall, values: dict) -> str:
    return pitfall.explanation.format(**values)
