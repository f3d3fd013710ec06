"""The handout's activation sets as data: which tensors the CS336 problem counts, each with its symbolic size.

Sizes are in elements (multiply by bytes per element for memory). The "problem" set is exactly the list the
CS336 adamwAccounting problem says to count; "problem-swiglu" is that list with the whole SwiGLU (W1 and W3
outputs, SiLU output, gated product), what the adamw-accounting sheet compares it with. Both describe the
assignment architecture only. Activations are counted at the full context length T, as the problem does.
The sets derived from any architecture's components (full, korthikanti) are in derive/model/saved.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ...errors import UsageError
from ...model.architectures import DFF, B, D, H, L, T, V
from ...model.components import repeat, total
from ...model.config import ArchOptions
from ...model.steps import Dim, Step

THREE = Dim.const(3)


@dataclass(frozen=True)
class Activation:
    """One saved tensor: `key`, what it is, and its size as a product of named dimensions."""

    key: str
    title: str
    factors: tuple[Dim, ...]
    description: str

    def step(self, prefix: str) -> Step:
        return Step(f"{prefix}.{self.key}", self.title, factors=self.factors, kind="activation",
                    description=self.description)


@dataclass(frozen=True)
class ActivationSet:
    name: str
    description: str
    block: tuple[Activation, ...]
    final: tuple[Activation, ...]
    arch: ArchOptions = ArchOptions()  # the architecture whose block these tensors describe


def _a(key: str, title: str, factors: tuple[Dim, ...], description: str) -> Activation:
    return Activation(key, title, factors, description)


ATTN_NORM = _a("attn_norm", "rms_norm_1", (B, T, D), "RMSNorm output before attention")
QKV = _a("qkv", "qkv_projections", (THREE, B, T, D), "Q, K and V projection outputs")
SCORES = _a("scores", "qk_scores", (B, H, T, T), "Q^T K score matrix per head")
SOFTMAX = _a("softmax", "softmax", (B, H, T, T), "softmax of the scores (attention probabilities)")
WEIGHTED = _a("weighted_sum", "weighted_sum", (B, T, D), "attention-weighted sum of values, heads concatenated")
O_PROJ = _a("o_proj", "output_projection", (B, T, D), "attention output projection")
FFN_NORM = _a("ffn_norm", "rms_norm_2", (B, T, D), "RMSNorm output before the feed-forward")
W1 = _a("w1", "w1_matmul", (B, T, DFF), "W1 x (the SiLU input)")
W3 = _a("w3", "w3_matmul", (B, T, DFF), "W3 x (multiplies the gate)")
SILU = _a("silu", "silu", (B, T, DFF), "SiLU(W1 x)")
GATED = _a("gated", "gated_product", (B, T, DFF), "SiLU(W1 x) * W3 x (the W2 input)")
W1_GELU = _a("w1_gelu", "w1_matmul", (B, T, DFF), "W1 x (the GELU input)")
GELU = _a("gelu", "gelu", (B, T, DFF), "GELU(W1 x) (the W2 input of a GELU feed-forward)")
W2 = _a("w2", "w2_matmul", (B, T, D), "W2 output (feed-forward output)")
FINAL = (
    _a("final_norm", "final_rms_norm", (B, T, D), "final RMSNorm output"),
    _a("logits", "output_embedding", (B, T, V), "logits (lm_head output)"),
    _a("cross_entropy", "cross_entropy", (B, T, V),
       "cross-entropy on the logits: the log-softmax its backward uses"),
)
ATTENTION = (ATTN_NORM, QKV, SCORES, SOFTMAX, WEIGHTED, O_PROJ)

ACTIVATION_SETS: dict[str, ActivationSet] = {
    "problem": ActivationSet(
        "problem", "the problem's list: RMSNorms, QKV, Q^T K, softmax, weighted sum, output projection, "
        "W1 matmul, SiLU, W2 matmul per block; final RMSNorm, logits, cross-entropy",
        ATTENTION + (FFN_NORM, W1, SILU, W2), FINAL),
    "problem-swiglu": ActivationSet(
        "problem-swiglu", "the problem's list with the whole SwiGLU: W1 and W3 outputs, SiLU output, gated product",
        ATTENTION + (FFN_NORM, W1, W3, SILU, GATED, W2), FINAL),
}
DEFAULT_ACTIVATIONS = "problem"
RECOMPUTE = ("none", "selective", "full")
# Selective recomputation (Korthikanti et al. 2022, Section 5) recomputes the attention core: these are dropped.
ATTENTION_CORE = frozenset({"scores", "softmax"})


# Every set `--activations` takes: the handout's (above) and those declared by the components (model/saved.py).
ALL_SETS: tuple[str, ...] = ("problem", "problem-swiglu", "full", "korthikanti")
# Every tensor a list may name (a handout edition's activation list is keys of this catalog).
CATALOG: dict[str, Activation] = {a.key: a for a in (*ATTENTION, FFN_NORM, W1, W3, SILU, GATED, W1_GELU, GELU, W2, *FINAL)}


def activation_set_for(name: str, description: str, block: tuple[str, ...], final: tuple[str, ...],
                       arch: ArchOptions = ArchOptions()) -> str:
    """The name of the set that counts exactly these catalog tensors: an existing set's name when one matches
    (the 2025 handout's list is `problem`), else `name`, registered here with `description` (a handout
    edition's own list). Unknown keys raise KeyError naming the key."""
    for key in (*block, *final):
        if key not in CATALOG:
            raise KeyError(key)
    wanted = (block, final)
    for existing in ACTIVATION_SETS.values():
        if (tuple(a.key for a in existing.block), tuple(a.key for a in existing.final)) == wanted \
                and existing.arch == arch:
            return existing.name
    if name in ACTIVATION_SETS:
        raise ValueError(f"activation set {name!r} already counts other tensors")
    ACTIVATION_SETS[name] = ActivationSet(name, description, tuple(CATALOG[k] for k in block),
                                          tuple(CATALOG[k] for k in final), arch)
    return name


def get_activation_set(name: str) -> ActivationSet:
    if name not in ACTIVATION_SETS:
        raise UsageError(f"--activations: unknown activation set {name!r} (known: {', '.join(ALL_SETS)})")
    return ACTIVATION_SETS[name]


@lru_cache(maxsize=None)
def activation_tree(name: str = DEFAULT_ACTIVATIONS, recompute: str = "none") -> Step:
    """Elements saved for backward. recompute='full' keeps only each block's input (a checkpoint) and
    rebuilds one block's activations at a time during backward; 'selective' drops the attention core (the
    Q^T K scores and the softmax)."""
    act = get_activation_set(name)
    if recompute not in RECOMPUTE:
        raise UsageError(f"--recompute: unknown mode {recompute!r} (known: {', '.join(RECOMPUTE)})")
    kept = [a for a in act.block if recompute != "selective" or a.key not in ATTENTION_CORE]
    block = total("activations.block", "transformer_block", "total_per_transformer_block",
                  [a.step("activations.block") for a in kept])
    final = [a.step("activations") for a in act.final]
    if recompute != "full":
        blocks = repeat("activations.blocks", "all_transformer_blocks", L, block)
        return total("activations", "activations", "total_activations", [blocks, *final])
    checkpoint = Step("activations.checkpoint.input", "block_input_checkpoint", factors=(B, T, D),
                      kind="activation", description="each block's input, kept for recomputation")
    checkpoints = repeat("activations.checkpoints", "all_checkpoints", L, checkpoint)
    return total("activations", "activations", "total_activations", [checkpoints, block, *final])
