"""Sweep rows against PyTorch: the assignment model built on the meta device, counted with FlopCounterMode.

Needs torch (fails, not skips, without it). The model lives in benchmarks/torch_oracle.py, written
independently of derive's symbolic trees.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import torch  # noqa: F401  (a missing torch must fail this module)

from derive.model.config import load_config
from derive.accounting.quantities import parse_quantities
from derive.accounting.sweep import run_sweep

_spec = importlib.util.spec_from_file_location(
    "torch_oracle", Path(__file__).resolve().parent.parent / "benchmarks" / "torch_oracle.py")
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def test_sweep_matches_torch_meta_device() -> None:
    base = load_config("gpt2-small").replace(vocab_size=1000, context_length=64, num_heads=4)
    varied = {"d_model": [64, 96], "num_layers": [1, 3], "d_ff": [128, 200], "seq_len": [16, 64]}
    result = run_sweep(base, varied, parse_quantities("params,forward_flops"))
    rows = result.rows()
    assert result.invalid_count == 0
    for row, combo in zip(rows, itertools.product(*varied.values())):
        c = {**base.values(), **dict(zip(varied, combo))}
        seq = c.pop("seq_len")
        got = oracle.count(c, batch=1, seq=seq)
        assert (row["params"], row["forward_flops"]) == (got["params"], got["forward_flops"]), row
