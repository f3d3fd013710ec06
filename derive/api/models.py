"""One model's figures as reports: parameters, FLOPs and their trees as JSON and terminal tables."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..accounting.account import DTYPE_BYTES, Accounting, window_note
from ..accounting.editions import load_edition
from ..model.config import ModelConfig, load_config
from ..model.steps import Evaluated
from ..render.formatting import TreeLine, expr_text


def load_configs(specs: Sequence[str], overrides: Mapping[str, Any] | None = None,
                 edition: str | None = None) -> list[ModelConfig]:
    """Presets, YAML files or config.json files; with an `edition`, its own models (the 2026 handout's gpt2-xl
    has d_ff 4,288) come before the presets of the same name."""
    if edition is None:
        return [load_config(spec, overrides) for spec in specs]
    ed = load_edition(edition)
    return [ed.config(spec, overrides) if spec in ed.models else load_config(spec, overrides) for spec in specs]


def tree_json(node: Evaluated) -> dict[str, Any]:
    s = node.step
    out: dict[str, Any] = {"key": s.key, "title": s.title, "value": node.value,
                           "formula": expr_text(s.expr)}
    if s.description:
        out["description"] = s.description
    if s.kind == "matmul":
        out["shapes"] = [list(shape) for shape in node.shape_values]
    if node.repeat_value is not None:
        out["times"] = node.repeat_value
    if node.children:
        out["children"] = [tree_json(c) for c in node.children]
    return out


def params_report(acc: Accounting) -> dict[str, Any]:
    block = acc.params.find("params.block")
    return {
        "config": acc.config.name,
        "total": acc.total_params,
        "closed_form": expr_text(acc.derivation.params.expr),
        "per_block": block.value,
        "components": [tree_json(c) for c in acc.params.children],
        "buffers": {"total": acc.buffers.value, "components": [tree_json(c) for c in acc.buffers.children]},
        "memory_bytes": {dtype: acc.memory(dtype).value for dtype in DTYPE_BYTES},
        **({"active_per_token": acc.active_params.value} if acc.active_params is not None else {}),
        **({"hf_defaults": list(acc.config.hf_defaults)} if acc.config.hf_defaults else {}),
    }


def flops_report(acc: Accounting) -> dict[str, Any]:
    return {
        "config": acc.config.name,
        "batch_size": acc.batch_size,
        "seq_len": acc.seq_len,
        "forward": {
            "total": acc.forward_flops,
            "closed_form": expr_text(acc.derivation.forward.expr),
            "per_block": acc.forward.find("forward.block").value,
            "groups": {g: {"flops": v, "label": acc.group_label(g)} for g, v in acc.groups.items()},
            "components": [tree_json(c) for c in acc.forward.children],
        },
        **({"window": {"convention": acc.derivation.window, "sliding_window": acc.config.sliding_window,
                       "layers": acc.config.layer_attention}} if acc.config.sliding_layers else {}),
    }


def table_text(lines: list[TreeLine]) -> str:
    """A readable terminal table: indented name, value, formula."""
    rows = [("  " * ln.depth + ln.label, f"{ln.value:,}" if ln.value is not None else "",
             ln.segments[0] if ln.segments else "") for ln in lines]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows)


def active_summary(acc: Accounting) -> str:
    """What the active parameters of a mixture of experts hold, in words (for `derive params`)."""
    c = acc.config
    parts = ["router"]
    if c.d_ff_shared is not None:
        parts.append("shared expert")
    where = "MoE layer" if c.dense_layers else "layer"
    return f"{' + '.join(parts)} + {c.experts_per_token} of {c.n_experts} experts per {where}"


def defaults_line(config: ModelConfig) -> str | None:
    """The transformers defaults a config.json was read with (fields it did not give), or None."""
    if not config.hf_defaults:
        return None
    return "transformers defaults used (fields missing from config.json): " + ", ".join(config.hf_defaults)


def window_line(acc: Accounting) -> str | None:
    """The sliding-window convention of a config with sliding layers, or None."""
    return window_note(acc)
