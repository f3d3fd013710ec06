"""Known pitfalls of hand accounting, as data: each is the same derivation under another convention.

A pitfall has a key, a title, a one-sentence explanation (a template over the config's values, so no figure
is typed in here) and a probe: given the quantity a claim should be (its tree, its derived value, how many
times each node counts in it, and the derivation under changed sizes), it returns the values a student gets
by making that mistake. The checker names the first pitfall whose value the claim equals.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterable, Protocol


class Probe(Protocol):
    """What a pitfall may ask about the quantity under check (implemented in derive.check.explain)."""

    tree: str            # params | active_params | buffers | forward | memory | backward | step | time | ...
    roles: frozenset     # the parts it covers (q_proj, adamw_m, ...)
    expected: int        # derived value (base units: parameters, bytes, FLOPs, seconds)
    scale: int           # bytes per parameter for a memory quantity, else 1
    values: dict         # config sizes, batch_size, seq_len, rope_per_block, xl_d_ff, stated (the document's own)

    def under(self, leaf: str) -> int:
        """How many times node `leaf` (key without its tree prefix, e.g. 'block') counts in this quantity."""

    def leaf(self, leaf: str) -> int:
        """Derived value of one occurrence of node `leaf` in this quantity's tree."""

    def alt(self, **changes: int) -> int | None:
        """This quantity with the config (or batch_size) changed; None when it cannot be derived."""


PARAM_TREES = ("params", "active_params", "memory")  # trees whose quantities count parameters (or their bytes)
FLOP_TREES = ("forward", "backward", "step", "train_step", "time", "total_flops")  # matmul FLOPs (or their time)


@dataclass(frozen=True)
class Pitfall:
    key: str
    title: str
    explanation: str  # one sentence; str.format'ed with the config values
    candidates: Callable[[Probe], Iterable[int]]


def _rope(p: Probe) -> Iterable[int]:
    if p.tree not in PARAM_TREES or not p.values.get("rope_per_block"):
        return []
    per_block = p.values["rope_per_block"]
    blocks = p.under("block")
    return [p.expected + per_block * p.scale * k for k in {1, blocks} if k]


def _tied(p: Probe) -> Iterable[int]:
    if p.tree not in PARAM_TREES or not (p.under("lm_head") or p.under("token_embedding")):
        return []
    return [p.expected - p.leaf("lm_head") * p.scale]


def _two_matrix_ffn(p: Probe) -> Iterable[int]:
    if p.tree not in PARAM_TREES + ("forward",):
        return []
    n = p.under("block.ffn.w3")
    return [p.expected - p.leaf("block.ffn.w3") * n * p.scale] if n else []


def _d_ff_xl(p: Probe) -> Iterable[int]:
    if p.values["d_ff"] == p.values["xl_d_ff"]:
        return []
    value = p.alt(d_ff=p.values["xl_d_ff"])
    return [value] if value is not None else []


def _assumption(p: Probe) -> Iterable[int]:
    differ = {k: v for k, v in p.values.get("stated", {}).items() if p.values.get(k) not in (None, v)}
    if not differ:
        return []
    value = p.alt(**differ)
    return [value] if value is not None else []


def _macs(p: Probe) -> Iterable[int]:
    return [Fraction(p.expected) / 2] if p.tree in FLOP_TREES else []


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
    if p.tree not in FLOP_TREES or p.values["batch_size"] == 1:
        return []
    if p.tree in ("forward", "backward"):
        value = p.alt(batch_size=1)
        return [value] if value is not None else []
    return [Fraction(p.expected) / p.values["batch_size"]]


def _seq(p: Probe) -> Iterable[int]:
    seq = p.values["seq_len"]
    if p.tree not in ("forward", "backward") or seq == 1 or p.expected % seq:
        return []
    return [p.expected // seq]


def _one_moment(p: Probe) -> Iterable[int]:
    return [Fraction(p.expected) / 2] if p.roles >= {"adamw_m", "adamw_v"} and p.roles <= {"adamw_m", "adamw_v"} else []


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
    Pitfall("assumption_differs", "an assumption that differs from the config",
            "An assumption that differs: you used {stated_text}; the config has {config_text}.", _assumption),
    Pitfall("causal_halving", "attention halved for the causal mask",
            "Attention scores and the weighted sum are counted as the full square (what PyTorch's "
            "FlopCounterMode counts); halving them for the causal mask is a different convention.", _causal),
    Pitfall("one_moment", "one AdamW moment instead of two",
            "AdamW keeps two moments per parameter, m and v, each the size of the weights; this counts one.",
            _one_moment),
    Pitfall("macs_as_flops", "multiply-accumulates reported as FLOPs",
            "One multiply-accumulate is 2 FLOPs, so an (m x k) @ (k x n) matmul costs 2mkn FLOPs; "
            "this value counts multiply-accumulates (MACs), half the FLOPs.", _macs),
    Pitfall("missing_num_layers", "factor num_layers missing",
            "The per-block figure must be multiplied by num_layers = {num_layers:,}; "
            "this is the value with a single block.", _layers),
    Pitfall("missing_batch", "factor batch_size missing",
            "Every matmul on activations scales with batch_size = {batch_size:,}; "
            "this is the value for a batch of one.", _batch),
    Pitfall("missing_seq_len", "factor seq_len missing",
            "Every matmul on activations scales with seq_len = {seq_len:,}; this is the value for one token.",
            _seq),
)}

# Not a recomputation: a written unit that only fits under its decimal/binary twin.
GB_VS_GIB = Pitfall("gb_vs_gib", "GiB called GB",
                    "{value} is {fits} = {other}, not {written}: GB means 10^9 bytes and GiB 2^30 bytes, "
                    "so the unit is mislabelled.", lambda p: [])


def explain(pitfall: Pitfall, values: dict) -> str:
    return pitfall.explanation.format(**values)
