"""Independent oracle for activation memory: the tensors autograd keeps for backward, on PyTorch's meta device.

Knows nothing about derive. A training step (train mode, forward, cross-entropy on fp32 logits) runs inside
``torch.autograd.graph.saved_tensors_hooks``: every tensor an op saves for backward passes through the pack hook,
which wraps it. The graph holds the wrappers; this module keeps only weak references to them, so a tensor whose
graph node is freed during the forward (an unused branch such as the values of a ``topk`` whose indices alone are
used) is not counted. After the forward, the live wrappers' tensors are grouped by storage
(``untyped_storage()._cdata``, unique per storage on meta as on real devices) and each storage is counted once,
by its ``nbytes()``: two saved views of one tensor are one tensor, and a view keeps its whole storage alive.
Storages of parameters and buffers are left out (model states, not activations). Meta tensors have shapes and
dtypes but no data, so a 7B-shaped model costs nothing to run.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.graph import saved_tensors_hooks


class _Packed:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


def saved_storages(model: torch.nn.Module, ids: torch.Tensor, targets: torch.Tensor,
                   forward: Any = None) -> dict[int, tuple[int, tuple[int, ...], torch.dtype]]:
    """storage id -> (bytes, shape of the first saved view, dtype) of every tensor kept for backward after one
    forward pass and the cross-entropy of `targets`, with the model in train mode. `forward(model, ids)` returns
    the logits (default: a transformers causal LM called with input_ids, use_cache=True, as on meta
    transformers needs)."""
    own = {p.untyped_storage()._cdata for p in model.parameters()}
    own |= {b.untyped_storage()._cdata for b in model.buffers()}
    refs: list[weakref.ref] = []

    def pack(t: torch.Tensor) -> _Packed:
        box = _Packed(t)
        refs.append(weakref.ref(box))
        return box

    model.train()
    with saved_tensors_hooks(pack, lambda box: box.tensor):
        if forward is None:
            logits = model(input_ids=ids, use_cache=True).logits
        else:
            logits = forward(model, ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
    out: dict[int, tuple[int, tuple[int, ...], torch.dtype]] = {}
    for ref in refs:
        box = ref()
        if box is None:
            continue
        storage = box.tensor.untyped_storage()
        if storage._cdata not in own:
            out.setdefault(storage._cdata, (storage.nbytes(), tuple(box.tensor.shape), box.tensor.dtype))
    del loss
    return out


def saved_bytes(model: torch.nn.Module, batch_size: int, seq_len: int, forward: Any = None) -> int:
    """Bytes of every distinct storage kept for backward by one training step of (batch_size, seq_len) ids."""
    ids = torch.zeros((batch_size, seq_len), dtype=torch.long, device="meta")
    targets = torch.zeros((batch_size, seq_len), dtype=torch.long, device="meta")
    return sum(size for size, _, _ in saved_storages(model, ids, targets, forward).values())
