"""The documented Python API; the CLI only wraps these functions.

    >>> from derive import api
    >>> cfg = api.load_config("gpt2-xl")
    >>> acc = api.account(cfg)
    >>> acc.total_params, acc.forward_flops
    (2127057600, 4513336524800)
    >>> text = api.render_sheet(fmt="md")
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .accounting.account import DTYPE_BYTES, Accounting, account
from .model.architectures import Derivation, derivation
from .model.config import ModelConfig, load_config, parse_overrides, preset_names
from .model.steps import Evaluated
from .render.environment import FORMATS, render
from .render.formatting import TreeLine, expr_text, tree_lines
from .render.output import write_all, write_atomic
from .render.sheets import CONVENTIONS, DEFAULT_SHEET, GENERIC_SHEET, get_sheet
from .render.sheets.common import bytes_summary

__all__ = [
    "Accounting", "Derivation", "ModelConfig", "account", "derivation", "load_config", "parse_overrides",
    "preset_names", "render_sheet", "write_sheets", "params_report", "flops_report", "tree_lines",
    "bytes_summary", "write_atomic", "write_all", "train_report", "train_account", "training_report", "check_document",
    "render_table", "render_formula", "write_plot", "verify", "sweep",
]


def load_configs(specs: Sequence[str], overrides: Mapping[str, Any] | None = None) -> list[ModelConfig]:
    return [load_config(spec, overrides) for spec in specs]


def sheet_context(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                  overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    sheet = get_sheet(name)
    context = sheet.build(list(configs), overrides or {})
    context.setdefault("conventions", CONVENTIONS)
    return context


def render_sheet(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                 overrides: Mapping[str, Any] | None = None, fmt: str = "md", fragment: bool = False) -> str:
    context = sheet_context(name, configs, overrides)
    _figure_context(context, name, fragment)
    return render(name, fmt, context)


def _figure_context(context: dict[str, Any], stem: str, fragment: bool) -> None:
    """Where the Markdown sheet's SVGs go (beside it), whether they can be drawn, full document or not."""
    from .render.charts import have_matplotlib, plot_files

    context["fragment"] = fragment
    context["plot_files"] = plot_files(stem)
    context["plots_available"] = have_matplotlib()


def _write_figures(context: dict[str, Any], out_dir: Path) -> list[tuple[Path, bytes]]:
    from .render.charts import context_figure, shares_figure

    if not context.get("plots_available") or "shares_plot" not in context:
        return []
    files = context["plot_files"]
    return [(out_dir / files["shares"], shares_figure(context["shares_plot"])),
            (out_dir / files["context"], context_figure(context["context_plot"]))]


def file_stem(name: str, configs: Sequence[ModelConfig] = ()) -> str:
    """`sheet-config1-config2`, safe as a file name and as a Markdown link and \\input path
    (a config may be called `meta-llama/Llama-2-7b` or `my model #1`)."""
    stem = "-".join([name, *(c.name for c in configs)])
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", stem).strip("-.") or name


def write_sheets(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                 overrides: Mapping[str, Any] | None = None, formats: Iterable[str] = FORMATS,
                 out_dir: str | Path = "build", fragment: bool = False) -> list[Path]:
    """Render every format first, then write all files or none (derive.render.output.write_all)."""
    context = sheet_context(name, configs, overrides)
    stem = file_stem(name, configs)
    _figure_context(context, stem, fragment)
    rendered = [(Path(out_dir) / f"{stem}.{fmt}", render(name, fmt, context)) for fmt in formats]
    figures = _write_figures(context, Path(out_dir)) if "md" in formats else []
    # All files or none: a failure part-way (the .tex target a directory, the disk full) leaves every old file.
    write_all([*figures, *rendered])
    return [path for path, _ in rendered] + [path for path, _ in figures]


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
    }


def table_text(lines: list[TreeLine]) -> str:
    """A readable terminal table: indented name, value, formula."""
    rows = [("  " * ln.depth + ln.label, f"{ln.value:,}" if ln.value is not None else "",
             ln.segments[0] if ln.segments else "") for ln in lines]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows)


def train_report(config: ModelConfig, **options: Any) -> dict[str, Any]:
    """`derive train --json` as a function: options as in derive.accounting.training.run.train_account."""
    return training_report(train_account(config, **options))


def train_account(config: ModelConfig, **options: Any):
    """The exact training accounting of `config` (derive.accounting.training.run.TrainAccounting)."""
    from .accounting.training.run import train_account as run

    return run(config, **options)


def training_report(t) -> dict[str, Any]:
    """The JSON document of a TrainAccounting (what `derive train --json` prints)."""
    from .accounting.training.run import train_report as report

    return report(t)


def training_conventions(**switches: Any):
    """derive.accounting.training.derivation.Conventions (backward, causal, recompute, activations)."""
    from .accounting.training.derivation import Conventions

    return Conventions(**switches)


def default_sheet_for(configs: Sequence[ModelConfig]) -> str:
    """The assignment's sheet for the homework's models; the generic model-accounting sheet for any other.

    The rule: every config has the assignment architecture AND did not come from a Hugging Face config.json
    (Llama-2-7B happens to have the assignment architecture, but it is a released model, not the homework)."""
    homework = all(c.arch.is_assignment and not c.hf_model_type for c in configs)
    return DEFAULT_SHEET if homework else GENERIC_SHEET


def check_document(text: str, file: str = "<text>", config: "str | ModelConfig | None" = None):
    """Check a hand derivation (derive.check.report.Report); config None means the document's own listing."""
    from .check.checker import check_text

    return check_text(text, file, config)


def sweep(config: ModelConfig, varies: Sequence[str], quantities: str = "params,forward_flops",
          architecture: str | None = None):
    """Every combination of `varies` ('d_model=512:8192:512', 'num_layers=12,24') around `config`."""
    from .accounting.quantities import parse_quantities
    from .accounting.sweep import parse_varies, run_sweep

    return run_sweep(config, parse_varies(varies), parse_quantities(quantities), architecture)


def sweep_text(result, fmt: str = "csv") -> str:
    from .accounting.sweep import to_csv, to_json

    return to_csv(result) if fmt == "csv" else to_json(result)


def sweep_plan(config: ModelConfig, varies: Sequence[str], quantities: str = "params,forward_flops",
               architecture: str | None = None):
    """The sweep of api.sweep before any row is evaluated (derive.accounting.sweep.SweepPlan): the number
    of combinations is checked first, and its rows are computed block by block by sweep_pieces."""
    from .accounting.quantities import parse_quantities
    from .accounting.sweep import parse_varies, plan_sweep

    return plan_sweep(config, parse_varies(varies), parse_quantities(quantities), architecture)


def sweep_pieces(source, fmt: str = "csv"):
    """The CSV or JSON text of a sweep (a SweepPlan or SweepResult) as an iterator of pieces: memory stays
    bounded for any number of rows, and the joined pieces equal sweep_text."""
    from .accounting.sweep import csv_pieces, json_pieces

    return csv_pieces(source) if fmt == "csv" else json_pieces(source)


def sweep_arithmetic(result) -> list[str]:
    from .accounting.sweep import arithmetic_note

    return arithmetic_note(result)


def check_report_text(report, fmt: str = "text") -> str:
    """A check Report as terminal text or Markdown."""
    from .check.report import as_markdown, as_text

    return as_markdown(report) if fmt == "md" else as_text(report)


def check_report_json(report) -> dict[str, Any]:
    """A check Report as a JSON-ready dict (`lines`, `summary`, exact integers)."""
    from .check.report import as_json

    return as_json(report)


def render_table(accs: Sequence[Accounting], fmt: str = "md", columns: str | None = None,
                 fragment: bool = False) -> str:
    """`derive table`: one row per model as Markdown, CSV or LaTeX (derive.render.tables)."""
    from .render.tables import render_table as render_rows

    return render_rows(list(accs), fmt, columns, fragment)


def render_formula(acc: Accounting, quantity: str, fmt: str = "text", numbers: bool = False) -> str:
    """`derive formula`: the closed form of one registered quantity (derive.accounting.quantities)."""
    from .render.formula import render_formula as render_one

    return render_one(acc, quantity, fmt, numbers)


def write_plot(kind: str, configs: Sequence[ModelConfig], overrides: Mapping[str, Any], path: Path) -> None:
    """`derive plot`: one chart (shares or context) written to `path` (.svg/.png/.pdf/.tex)."""
    from .render.charts import write_plot as write_one

    write_one(kind, list(configs), overrides, path)


def verify(acc: Accounting):
    """Compare `acc` with a PyTorch model built on the meta device (derive.verify.compare.VerifyResult)."""
    from .verify.compare import verify as run

    return run(acc)


def verify_text(result) -> str:
    """A VerifyResult as the side-by-side table `derive verify` prints."""
    from .verify.compare import result_text

    return result_text(result)
