"""Independent oracle for generation: prefill and decode steps of transformers 5.24 causal LMs on the meta device,
with the DynamicCache each forward returns. Knows nothing about derive; never touches the Hub.

Generation as transformers' `generate` runs it (generation/utils.py): the prompt goes through one forward with
`logits_to_keep=1` (the model computes logits for the last position only) and the returned cache; each decode
step sends one token per sequence with that cache. FlopCounterMode counts the matmuls of each pass (on meta the
attention runs as bmm and is counted; experts as batched_mm, see hf_any.py). The cache's bytes are read from its
tensors: numel x element_size of every layer's `keys` and `values`.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def _ids(batch_size: int, tokens: int) -> torch.Tensor:
    return torch.zeros((batch_size, tokens), dtype=torch.long, device="meta")


def prefill(model: torch.nn.Module, batch_size: int, prompt: int):
    """(FLOPs, cache) of the prompt's forward pass with logits for the last position only."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(input_ids=_ids(batch_size, prompt), use_cache=True, logits_to_keep=1)
    assert out.logits.shape[1] == 1
    return int(counter.get_total_flops()), out.past_key_values


def decode_step(model: torch.nn.Module, cache, batch_size: int):
    """(FLOPs, cache) of one decode step: one token per sequence through the model with `cache`."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(input_ids=_ids(batch_size, 1), cache=cache, use_cache=True)
    return int(counter.get_total_flops()), out.past_key_values


def cache_bytes(cache) -> int:
    """Bytes the cache's tensors hold: keys and values of every layer."""
    return sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))


def cache_tokens(cache) -> list[int]:
    """Tokens each layer holds (the sequence dimension of its keys)."""
    return [int(layer.keys.shape[-2]) for layer in cache.layers]


def generate(model: torch.nn.Module, batch_size: int, prompt: int, new_tokens: int):
    """Prefill, then new_tokens - 1 decode steps: (prefill FLOPs, [FLOPs of each step], final cache)."""
    flops, cache = prefill(model, batch_size, prompt)
    steps = []
    for _ in range(new_tokens - 1):
        step, cache = decode_step(model, cache, batch_size)
        steps.append(step)
    return flops, steps, cache
