"""Inference accounting: the KV cache, prefill and decode FLOPs, bytes moved, rooflines and memory budgets
(`derive infer`, the inference-accounting sheet).

shapes.py holds the sizes of a generation request (prompt, generated tokens, the decode step, keys per layer
kind); kv_cache.py what a cache holds; passes.py the matmuls of prefill and decode; roofline.py bytes moved,
arithmetic intensity and time bounds; derivation.py puts them together once per architecture; run.py evaluates
them for one config and request.
"""
