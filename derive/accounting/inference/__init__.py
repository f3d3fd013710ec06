"""Inference accounting: the KV cache, prefill and decode FLOPs, bytes moved, rooflines and memory budgets
(`derive infer`, the inference-accounting sheet).

shapes.py holds the sizes of a generation request (prompt, generated tokens, the decode step, keys per layer
kind); kv_cache.py what a cache holds; passes.py the matmuls of prefill and decode; roofline.py bytes moved,
arithmetic intensity, time bounds and the crossover batch; timing.py the exact sum of the decode steps' bounds;
derivation.py puts the trees together once per architecture; run.py evaluates them for one config and request;
report.py is the JSON document and the conventions behind it.
"""
