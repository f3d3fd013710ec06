"""Training, inference and FLOP-convention accounting of a config, as objects, JSON and terminal text."""

from __future__ import annotations

from typing import Any

from ..model.config import ModelConfig
from ..render.formatting import expr_text


def train_report(config: ModelConfig, **options: Any) -> dict[str, Any]:
    """`derive train --json` as a function: options as in derive.accounting.training.run.train_account."""
    return training_report(train_account(config, **options))


def train_account(config: ModelConfig, **options: Any):
    """The exact training accounting of `config` (derive.accounting.training.run.TrainAccounting)."""
    from ..accounting.training.run import train_account as run

    return run(config, **options)


def training_report(t) -> dict[str, Any]:
    """The JSON document of a TrainAccounting (what `derive train --json` prints)."""
    from ..accounting.training.run import train_report as report

    return report(t, expr_text)


def training_setup(**options: Any):
    """The at-scale settings of `derive train` (derive.accounting.training.run.Setup) from its options: precision,
    optimizer, dp, zero (1-3 need dp), tp, sp, pp, ep, etp, micro_batch, flops (exact or a training convention),
    window, measured_step_time, tokens_per_second (see run.make_setup). UsageError naming the option."""
    from ..accounting.training.run import make_setup

    return make_setup(**options)


def train_text(t, report: dict[str, Any]) -> list[str]:
    """The lines `derive train` prints (derive.render.training)."""
    from ..render.training import train_lines

    return train_lines(t, report)


def training_conventions(**switches: Any):
    """derive.accounting.training.derivation.Conventions (backward, causal, recompute, activations)."""
    from ..accounting.training.derivation import Conventions

    return Conventions(**switches)


def conventions_account(config: ModelConfig, batch_size: int = 1, seq_len: int | None = None, *,
                        tokens_per_second: Any = None, hardware: str | None = None, peak_flops: Any = None,
                        devices: int = 1):
    """Every published FLOP convention beside derive's exact count for `config` (a
    derive.accounting.conventions.run.ConventionsAccounting). With `tokens_per_second` (the measured training
    throughput of all devices together) and `hardware` (a key of configs/hardware.yaml) or `peak_flops` (FLOP/s
    per device), each convention's MFU is computed too. UsageError on a bad value."""
    from ..accounting.conventions.run import conventions_account as run
    from ..accounting.conventions.run import measured

    return run(config, batch_size, seq_len, measured(tokens_per_second, hardware, peak_flops, devices))


def conventions_report(acc) -> dict[str, Any]:
    """`derive conventions --json`: {config, batch_size, seq_len, exact: {...}, conventions: {name: {flops,
    formula, difference, source, ...}}}; FLOPs are exact integers, ratios and MFU floats."""
    from ..accounting.conventions.run import conventions_report as report

    return report(acc, expr_text)


def conventions_text(acc) -> str:
    """`derive conventions` as terminal text (derive.render.conventions)."""
    from ..render.conventions import conventions_text as text

    return text(acc)


def infer_account(config: ModelConfig, **options: Any):
    """The InferAccounting of `config` (derive.accounting.inference.run.infer_account: prompt, generate, batch_size,
    dtype, kv_dtype, hardware, peak_flops, bandwidth, budget); UsageError naming the option on bad input."""
    from ..accounting.inference.run import infer_account as run
    return run(config, **options)


def infer_report(acc) -> dict[str, Any]:
    """`derive infer --json`: kv_cache.bytes_per_token, kv_cache.bytes, prefill.flops, decode.flops (all M - 1
    steps), decode.first_step, decode.last_step, roofline.*, budget.max_tokens ... (integers exact)."""
    from ..accounting.inference.report import infer_report as report
    return report(acc, expr_text)


def infer_text(acc) -> str:
    """`derive infer` as terminal text, with the conventions behind its figures."""
    from ..accounting.inference.report import inference_notes
    from ..render.inference import infer_text as text
    return text(infer_report(acc), inference_notes(acc))
