"""`derive verify`: build the model on PyTorch's meta device and compare with the derivation.

Parameters: the sum of `numel()` over `model.parameters()` (a tied weight is listed once). Forward FLOPs:
`torch.utils.flop_counter.FlopCounterMode` over one forward pass of random token ids. On the meta device
nothing is allocated, and scaled_dot_product_attention decomposes into the two full-square bmm that the
derivation counts. torch and transformers are imported only inside functions, so `derive --help` and every
other command work without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..accounting.account import Accounting
from ..errors import DeriveError, UsageError
from ..model.config import ModelConfig

# Never a bare `derive[verify]`: on a fresh machine pip would fetch an unrelated PyPI project called derive.
INSTALL_HINT = "pip install 'torch==2.13.0' 'transformers==5.24.0' (or, in derive's checkout, pip install '.[verify]')"


class MissingDependency(DeriveError):
    """An optional dependency (torch, transformers) is not installed: bad environment, exit 2."""


@dataclass(frozen=True)
class Row:
    label: str
    derived: int
    reference: int

    @property
    def ok(self) -> bool:
        return self.derived == self.reference


@dataclass(frozen=True)
class VerifyResult:
    config: str
    reference: str
    batch_size: int
    seq_len: int
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise MissingDependency(f"derive verify needs {module}, which is not installed: {INSTALL_HINT}") from None


def build_reference(config: ModelConfig) -> tuple[str, Any, Callable[[Any], dict[str, Any]]]:
    """(description, model on meta, kwargs-for-forward builder)."""
    _require("torch")
    if config.arch.is_assignment and not config.hf_model_type:
        from .reference import build_assignment

        model = build_assignment(**config.values())
        return "derive.verify.reference (PyTorch, assignment architecture)", model, lambda ids: {"ids": ids}
    from .hf_models import EAGER_TYPES, MOE_TYPES, hf_model_spec

    spec = hf_model_spec(config)
    if spec is None:
        raise UsageError(
            f"{config.name}: no reference implementation for this combination of options (norm={config.norm}, "
            f"ffn={config.ffn}, positions={config.positions}, attention={config.attention}, "
            f"block_norms={config.block_norms}; supported: the assignment architecture and the transformers "
            "model types derive reads, with their own options)")
    model_type, kwargs = spec
    transformers = _require("transformers")
    torch = _require("torch")
    hf_config = transformers.AutoConfig.for_model(model_type, **kwargs)
    # on meta, sdpa is the math decomposition: two full-square bmm (like eager); gemma2 and gpt_oss need eager
    hf_config._attn_implementation = "eager" if model_type in EAGER_TYPES else "sdpa"
    if model_type in MOE_TYPES:
        # "grouped_mm" is not counted by FlopCounterMode and "eager" loops over nonzero() of the routing mask
        # (data dependent, fails on meta); "batched_mm" gathers the k chosen experts per token: shapes depend
        # only on k.
        hf_config._experts_implementation = "batched_mm"
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(hf_config).eval()
    # use_cache=True: without a mask, use_cache=False makes transformers probe position_ids with .item()
    return f"transformers {type(model).__name__} (meta device)", model, \
        lambda ids: {"input_ids": ids, "use_cache": True}


def verify(acc: Accounting) -> VerifyResult:
    """Build the reference, count its parameters and one forward pass's FLOPs, compare with `acc`."""
    torch = _require("torch")
    from torch.utils.flop_counter import FlopCounterMode

    try:
        label, model, inputs = build_reference(acc.config)
        params = sum(p.numel() for p in model.parameters())
        ids = torch.zeros((acc.batch_size, acc.seq_len), dtype=torch.long, device="meta")
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(**inputs(ids))
        flops = int(counter.get_total_flops())
    except Exception as exc:  # the reference implementation rejected this config: say so on one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{acc.config.source or acc.config.name}: the reference model could not be built or run "
                         f"on the meta device ({type(exc).__name__}: {first})") from None
    notes = ["parameters: sum of numel() over model.parameters() (a tied weight is listed once)",
             "forward FLOPs: torch.utils.flop_counter.FlopCounterMode (matmuls only; bias adds, norms, "
             "softmax, RoPE and lookups count 0)"]
    if acc.config.ffn == "moe":
        notes.append("MoE: only the k routed (token, expert) pairs are multiplied (batched_mm), plus the router")
    return VerifyResult(acc.config.name, label, acc.batch_size, acc.seq_len, (
        Row("parameters", acc.total_params, int(params)),
        Row("forward FLOPs", acc.forward_flops, flops),
    ), tuple(notes))


def result_text(result: VerifyResult) -> str:
    rows = [("", "derive", "reference", "")] + [
        (r.label, f"{r.derived:,}", f"{r.reference:,}", "ok" if r.ok else f"MISMATCH ({r.reference - r.derived:+,})")
        for r in result.rows]
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{result.config}: derive vs {result.reference}, batch_size {result.batch_size}, "
             f"seq_len {result.seq_len:,}", ""]
    lines += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}  {d}".rstrip() for a, b, c, d in rows]
    lines += ["", *(f"- {n}" for n in result.notes)]
    lines.append("all figures match" if result.ok else "MISMATCH: the derivation and the implementation differ")
    return "\n".join(lines)
