"""The documented Python API; the CLI only wraps these functions.

    >>> from derive import api
    >>> cfg = api.load_config("gpt2-xl")
    >>> acc = api.account(cfg)
    >>> acc.total_params, acc.forward_flops
    (2127057600, 4513336524800)
    >>> text = api.render_sheet(fmt="md")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .accounting.account import DTYPE_BYTES, Accounting, account, window_note
from .model.architectures import Derivation, derivation
from .model.config import ModelConfig, load_config, parse_overrides, preset_names
from .model.steps import Evaluated
from .render import notebook as _notebook  # noqa: F401 (registers the Jupyter displays of results)
from .render import publish
from .render.environment import FORMATS
from .render.escape import escape_terminal
from .render.formatting import TreeLine, expr_text, tree_lines
from .render.output import write_all, write_atomic
from .render.sheets import DEFAULT_SHEET, GENERIC_SHEET
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
                  overrides: Mapping[str, Any] | None = None, window: str = "full") -> dict[str, Any]:
    """The context sheet `name`'s templates get (derive.render.publish.sheet_context); window: the
    sliding-window convention (full square or band), for the model-accounting sheet."""
    return publish.sheet_context(name, configs, overrides, window=window)


def render_sheet(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                 overrides: Mapping[str, Any] | None = None, fmt: str = "md", fragment: bool = False,
                 window: str = "full") -> str:
    """One sheet as text: fmt md, tex or html (fragment: LaTeX without preamble, for \\input{})."""
    return publish.render_sheet(name, configs, overrides, fmt, fragment, window)


def file_stem(name: str, configs: Sequence[ModelConfig] = (), overrides: Mapping[str, Any] | None = None) -> str:
    """The file name stem of a sheet's outputs (derive.render.publish.file_stem)."""
    return publish.file_stem(name, configs, overrides)


class WrittenFiles(list):
    """The paths written, in order; `replaced` holds those that existed before (the CLI says so)."""

    replaced: set[Path]


def _write_all(files: list[tuple[Path, str | bytes]]) -> WrittenFiles:
    written = WrittenFiles(path for path, _ in files)
    written.replaced = {path for path, _ in files if os.path.lexists(path)}
    # All files or none: a failure part-way (the .tex target a directory, the disk full) leaves every old file.
    write_all(files)
    return written


def write_sheets(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                 overrides: Mapping[str, Any] | None = None, formats: Iterable[str] | None = None,
                 out_dir: str | Path = "build", fragment: bool = False, window: str = "full") -> WrittenFiles:
    """Render every format (and the Markdown sheet's SVG charts) first, then write all files or none.

    formats None: every format the sheet has a template for (md, tex, html); naming one it lacks is an error."""
    chosen = publish.sheet_formats(name) if formats is None else list(formats)
    return _write_all(publish.sheet_files(name, configs, overrides, chosen, Path(out_dir), fragment, window))


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

    return report(t, expr_text)


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


# ---------------------------------------------------------------- FLOP conventions (issue 18)


def conventions_account(config: ModelConfig, batch_size: int = 1, seq_len: int | None = None, *,
                        tokens_per_second: Any = None, hardware: str | None = None, peak_flops: Any = None,
                        devices: int = 1):
    """Every published FLOP convention beside derive's exact count for `config` (a
    derive.accounting.conventions.run.ConventionsAccounting). With `tokens_per_second` (the measured training
    throughput of all devices together) and `hardware` (a key of configs/hardware.yaml) or `peak_flops` (FLOP/s
    per device), each convention's MFU is computed too. UsageError on a bad value."""
    from .accounting.conventions.run import conventions_account as run, measured

    return run(config, batch_size, seq_len, measured(tokens_per_second, hardware, peak_flops, devices))


def conventions_report(acc) -> dict[str, Any]:
    """`derive conventions --json`: {config, batch_size, seq_len, exact: {...}, conventions: {name: {flops,
    formula, difference, source, ...}}}; FLOPs are exact integers, ratios and MFU floats."""
    from .accounting.conventions.run import conventions_report as report

    return report(acc, expr_text)


def conventions_text(acc) -> str:
    """`derive conventions` as terminal text (derive.render.conventions)."""
    from .render.conventions import conventions_text as text

    return text(acc)

# --- issue 14: user templates, the template context, notebook displays ---------------------------------------
def write_template(template: str | Path, name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                   overrides: Mapping[str, Any] | None = None, out_dir: str | Path = "build",
                   fmt: str = "all") -> WrittenFiles:
    """`derive sheet --template FILE.j2`: render a user's template with sheet `name`'s context and the
    documented keys of template_context(); the format (md, tex, html) comes from the file name."""
    from .errors import UsageError
    from .render.environment import format_of

    path = Path(template)
    if fmt != "all" and fmt != format_of(path):
        raise UsageError(f"--format {fmt}: the template {escape_terminal(path.name)} makes {format_of(path)}")
    return _write_all(publish.template_files(path, name, configs, overrides, Path(out_dir)))


def template_context(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                     overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a user's template gets besides the sheet's own context, as JSON-ready data (exact integers):
    `accounting` (first config: total_params, forward_flops, memory, closed_forms, the evaluated trees params,
    buffers, forward with each node's value and formula in text and LaTeX), `accountings`, `configs`,
    `conventions`, `sheet`."""
    return publish.template_context(name, configs, overrides)


def context_lines(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(template expression, value) pairs of a context, trees shown down to their first level."""
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (dict, list)) and not (key == "children" and prefix.count(".") >= 1):
                out += context_lines(value, path)
            else:
                out.append((path, "[...]" if isinstance(value, (dict, list)) else repr(value)))
    elif isinstance(data, list):  # the first item in full, the rest counted (--json prints everything)
        for i, value in enumerate(data[:1]):
            out += context_lines(value, f"{prefix}[{i}]") if isinstance(value, (dict, list)) \
                else [(f"{prefix}[{i}]", repr(value))]
        if len(data) > 1:
            out.append((f"{prefix}[1:]", f"... {len(data) - 1} more"))
    return out


__all__ += ["FORMATS", "file_stem", "sheet_context", "write_template", "template_context", "context_lines",
            "escape_terminal"]

# ---------------------------------------------------------------- architectures of 2024-2026 (issue 12)


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


# ---------------------------------------------------------------- training at scale (issue 17)


def training_setup(**options: Any):
    """The at-scale settings of `derive train` (derive.accounting.training.run.Setup) from its options: precision,
    optimizer, dp, zero (1-3 need dp), tp, sp, pp, ep, etp, micro_batch, flops (exact or a training convention),
    window, measured_step_time, tokens_per_second (see run.make_setup). UsageError naming the option."""
    from .accounting.training.run import make_setup

    return make_setup(**options)


def train_text(t, report: dict[str, Any]) -> list[str]:
    """The lines `derive train` prints (derive.render.training)."""
    from .render.training import train_lines

    return train_lines(t, report)


def write_training_sheet(t, fmt: str = "all", out_dir: str | Path = "build") -> WrittenFiles:
    """The training-at-scale sheet of a TrainAccounting (its own setup), in md, tex, html or all: written all
    or none as OUT/training-at-scale-CONFIG.FORMAT."""
    from .render.sheets.training_scale import sheet_files

    return _write_all(sheet_files(t, fmt, Path(out_dir)))

