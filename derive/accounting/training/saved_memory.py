"""Activation memory in bytes from the tensors the components declare (derive/model/saved.py), per device.

Each declared tensor becomes a Step leaf: bytes per element (from the precision's compute dtype) times its
shape, with the dim tensor parallelism splits divided by `tp` (Megatron-LM: heads and the feed-forward width in
column-parallel regions, the vocabulary in the vocab-parallel cross-entropy) and, with sequence parallelism, the
sequence of every residual-width tensor divided by `tp` (Korthikanti et al. 2022, Section 4.2.2). Tensors with one
storage identity are counted once (two saved views of one tensor; `.to(float32)` of an fp32 tensor).
Selective recomputation drops the attention core (Section 5); full recomputation keeps each block's input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import sympy

from ...errors import UsageError
from ...model import symbols as sy
from ...model.components import repeat, total
from ...model.dims import B, S
from ...model.options import ArchOptions
from ...model.saved import SETS, Profile, Saved
from ...model.saved_blocks import block_saved, checkpoint_saved, once_saved
from ...model.steps import Dim, Step
from .parallel import EP, ETP, TP

RECOMPUTE_MODES: dict[str, str] = {
    "none": "every declared tensor kept",
    "selective": "the attention core (softmax output, its copies, masks and dropout output) recomputed in "
                 "backward (Korthikanti et al. 2022, Section 5)",
    "full": "only each block's input kept; the block is recomputed in backward, one block's tensors at a time",
}


def dtype_bytes(kind: str, act: int) -> int:
    """Bytes per element of a dtype kind when the compute dtype has `act` bytes."""
    return {"act": act, "copy": act, "fp32": 4, "int64": 8, "int32": 4, "mask": 1}[kind]


@dataclass(frozen=True)
class Split:
    """How one device's share of a tensor is taken: tensor parallelism on (`tp` symbolic), sequence parallelism,
    expert tensor parallelism on (`etp` symbolic)."""

    tp: bool = False
    sp: bool = False
    etp: bool = False
    ep: bool = False


def _divided(dim: Dim, by: sympy.Symbol, name: str, ceiling: bool = False) -> Dim:
    expr = sympy.ceiling(dim.expr / by) if ceiling else dim.expr / by
    label = f"ceil({dim.name} / {name})" if ceiling else f"{dim.name} / {name}"
    latex = rf"\lceil {dim.latex}/{name} \rceil" if ceiling else rf"{dim.latex}/{name}"
    return Dim(label, expr, latex)


def split_dims(entry: Saved, split: Split) -> tuple[Dim, ...]:
    dims = list(entry.dims)
    if entry.split == "kv_view":  # one key/value head: repeated to every head, except as a view at batch 1
        heads = sy.h / TP if split.tp else sy.h
        dims[entry.at] = Dim("num_heads (1 if batch_size = 1)", sympy.Piecewise((1, sympy.Eq(sy.B, 1)),
                                                                               (heads, True)), r"h|_{B>1}")
    elif split.tp and entry.split in ("heads", "width"):
        dims[entry.at] = _divided(dims[entry.at], TP, "tp")
    elif split.tp and entry.split == "vocab":
        dims[entry.at] = _divided(dims[entry.at], TP, "tp", ceiling=True)
    elif split.etp and entry.split == "pairs" and entry.at is not None:
        dims[entry.at] = _divided(dims[entry.at], ETP, "etp")
    elif split.ep and entry.split == "experts":
        dims[entry.at] = _divided(dims[entry.at], EP, "ep")
    elif split.tp and split.sp and entry.split == "seq":
        dims[dims.index(S)] = _divided(S, TP, "tp")
    return tuple(dims)


def _identity(entry: Saved, act: int) -> str:
    return entry.copy_of if act == 4 and entry.copy_of else entry.identity


def leaves(prefix: str, entries: list[Saved], act: int, split: Split, drop_core: bool = False) -> list[Step]:
    """One leaf per distinct storage: bytes * shape, in declaration order (the first declaration of a storage
    stands for it)."""
    seen: set[str] = set()
    out = []
    for e in entries:
        ident = _identity(e, act)
        if ident in seen or (drop_core and e.core):
            continue
        seen.add(ident)
        if e.storage and ident == e.copy_of:  # a view of part of a tensor keeps all of its storage
            e = replace(e, dims=e.storage)
        size = Dim.const(dtype_bytes(e.dtype, act))
        out.append(Step(f"{prefix}.{e.key}", e.title, factors=(size, *split_dims(e, split)), kind="activation",
                        description=e.description, note=e.dtype))
    return out


@dataclass(frozen=True)
class SavedLayout:
    """Everything the activation trees depend on (the cache key)."""

    opts: ArchOptions
    profile: Profile
    kind: str  # full | korthikanti
    act: int  # bytes of the compute dtype
    split: Split
    recompute: str

    def __post_init__(self) -> None:
        if self.kind not in SETS:
            raise UsageError(f"--activations: unknown activation set {self.kind!r}")
        if self.recompute not in RECOMPUTE_MODES:
            raise UsageError(f"--recompute: unknown mode {self.recompute!r} (known: {', '.join(RECOMPUTE_MODES)})")


@lru_cache(maxsize=None)
def block_step(layout: SavedLayout, dense: bool = True, working: bool = False) -> Step:
    """Bytes one block keeps for one micro-batch; `working`: every tensor of the one block being recomputed
    under full recomputation."""
    name = "dense_block" if dense and layout.opts.ffn == "moe" else "block"
    name += "_recomputed" if working else ""
    key = f"activations.{name}"
    if layout.recompute == "full" and not working:
        children = leaves(key, checkpoint_saved(), layout.act, layout.split)
    else:
        entries = block_saved(layout.opts, layout.profile, layout.kind, dense)
        children = leaves(key, entries, layout.act, layout.split, drop_core=layout.recompute == "selective")
    return total(key, name, f"total_per_{name}", children)


@lru_cache(maxsize=None)
def once_steps(layout: SavedLayout) -> dict[str, Step]:
    """The tensors kept once per step: `first` stage, `every` stage, `last` stage (see saved.once_saved)."""
    parts = once_saved(layout.opts, layout.profile, layout.kind)
    titles = {"first": "embedding_stage", "every": "per_stage", "last": "output_stage"}
    return {where: total(f"activations.{where}", titles[where], f"total_{titles[where]}",
                         leaves(f"activations.{where}", entries, layout.act, layout.split))
            for where, entries in parts.items()}


def model_tree(layout: SavedLayout, layers: dict[bool, Dim]) -> Step:
    """The whole model on one device with no pipeline: every block, the once-per-step tensors and, under full
    recomputation, one block's working set. `layers` maps dense (True) / MoE (False) blocks to their count."""
    once = once_steps(layout)
    children: list[Step] = [once["first"], once["every"]]
    for dense, count in layers.items():
        step = block_step(layout, dense)
        children.append(repeat(step.key + "s", "all_" + step.title + "s", count, step))
    if layout.recompute == "full":
        children.append(block_step(layout, next(iter(layers)), working=True))
    children.append(once["last"])
    return total("activations", "activations", "total_activations", children)


__all__ = ["B", "RECOMPUTE_MODES", "SavedLayout", "Split", "block_step", "dtype_bytes", "leaves", "model_tree",
           "once_steps", "split_dims"]
