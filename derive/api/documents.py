"""Documents: answer sheets (built-in or a user's template) and their context, tables, formulas, charts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..accounting.account import Accounting
from ..accounting.editions import load_edition
from ..model.config import ModelConfig
from ..render import publish
from ..render.escape import escape_terminal
from ..render.output import write_all
from ..render.sheets import DEFAULT_SHEET, GENERIC_SHEET


def sheet_context(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                  overrides: Mapping[str, Any] | None = None, window: str = "full", *, edition: str | None = None,
                  detail: str = "full") -> dict[str, Any]:
    """The context sheet `name`'s templates get (derive.render.publish.sheet_context); window: the
    sliding-window convention (full square or band), for the model-accounting sheet; edition, detail: as for
    render_sheet."""
    return publish.sheet_context(name, configs, overrides, window=window, edition=edition, detail=detail)


def render_sheet(name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                 overrides: Mapping[str, Any] | None = None, fmt: str = "md", fragment: bool = False,
                 window: str = "full", *, edition: str | None = None, detail: str = "full") -> str:
    """One sheet as text: fmt md, tex or html (fragment: LaTeX without preamble, for \\input{}).

    edition: the handout whose questions the transformer- and adamw-accounting sheets answer (`2024`, `2025`,
    `2026` or a YAML file; None: 2025); detail: `full` (every listing) or `brief` (each part's derivation and
    answer). UsageError for an unknown edition or level, or for either given to a sheet without editions."""
    return publish.render_sheet(name, configs, overrides, fmt, fragment, window, edition=edition, detail=detail)


def file_stem(name: str, configs: Sequence[ModelConfig] = (), overrides: Mapping[str, Any] | None = None, *,
              edition: str | None = None, detail: str = "full") -> str:
    """The file name stem of a sheet's outputs (derive.render.publish.file_stem)."""
    return publish.file_stem(name, configs, overrides, edition=edition, detail=detail)


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
                 out_dir: str | Path = "build", fragment: bool = False, window: str = "full", *,
                 edition: str | None = None, detail: str = "full") -> WrittenFiles:
    """Render every format (and the Markdown sheet's SVG charts) first, then write all files or none.

    formats None: every format the sheet has a template for (md, tex, html); naming one it lacks is an error.
    edition, detail: as for render_sheet."""
    chosen = publish.sheet_formats(name) if formats is None else list(formats)
    return _write_all(publish.sheet_files(name, configs, overrides, chosen, Path(out_dir), fragment, window,
                                          edition=edition, detail=detail))


def default_sheet_for(configs: Sequence[ModelConfig], edition: str | None = None) -> str:
    """The assignment's sheet for the homework's models; the generic model-accounting sheet for any other.

    The rule: every config has the handout edition's architecture (2025, the default: the assignment
    architecture) AND did not come from a Hugging Face config.json (Llama-2-7B happens to have the assignment
    architecture, but it is a released model, not the homework)."""
    arch = load_edition(edition).arch if edition is not None else None
    homework = all((c.arch == arch if arch is not None else c.arch.is_assignment) and not c.hf_model_type
                   for c in configs)
    return DEFAULT_SHEET if homework else GENERIC_SHEET


def write_template(template: str | Path, name: str = DEFAULT_SHEET, configs: Sequence[ModelConfig] = (),
                   overrides: Mapping[str, Any] | None = None, out_dir: str | Path = "build",
                   fmt: str = "all", *, edition: str | None = None, detail: str = "full") -> WrittenFiles:
    """`derive sheet --template FILE.j2`: render a user's template with sheet `name`'s context and the
    documented keys of template_context(); the format (md, tex, html) comes from the file name."""
    from ..errors import UsageError
    from ..render.environment import format_of

    path = Path(template)
    if fmt != "all" and fmt != format_of(path):
        raise UsageError(f"--format {fmt}: the template {escape_terminal(path.name)} makes {format_of(path)}")
    return _write_all(publish.template_files(path, name, configs, overrides, Path(out_dir), edition, detail))


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


def render_table(accs: Sequence[Accounting], fmt: str = "md", columns: str | None = None,
                 fragment: bool = False) -> str:
    """`derive table`: one row per model as Markdown, CSV or LaTeX (derive.render.tables)."""
    from ..render.tables import render_table as render_rows

    return render_rows(list(accs), fmt, columns, fragment)


def render_formula(acc: Accounting, quantity: str, fmt: str = "text", numbers: bool = False) -> str:
    """`derive formula`: the closed form of one registered quantity (derive.accounting.quantities)."""
    from ..render.formula import render_formula as render_one

    return render_one(acc, quantity, fmt, numbers)


def write_plot(kind: str, configs: Sequence[ModelConfig], overrides: Mapping[str, Any], path: Path) -> None:
    """`derive plot`: one chart (shares or context) written to `path` (.svg/.png/.pdf/.tex)."""
    from ..render.charts import write_plot as write_one

    write_one(kind, list(configs), overrides, path)


def write_inference_sheet(configs: Sequence[ModelConfig], options: Mapping[str, Any] | None = None,
                          formats: Iterable[str] | None = None, out_dir: str | Path = "build") -> WrittenFiles:
    """The inference-accounting sheet for one request (options of infer_account): every file written or none."""
    from ..render.sheets.inference import SHEET_NAME, sheet_files
    chosen = publish.sheet_formats(SHEET_NAME) if formats is None else list(formats)
    return _write_all(sheet_files(list(configs), dict(options or {}), chosen, Path(out_dir)))


def write_training_sheet(t, fmt: str = "all", out_dir: str | Path = "build") -> WrittenFiles:
    """The training-at-scale sheet of a TrainAccounting (its own setup), in md, tex, html or all: written all
    or none as OUT/training-at-scale-CONFIG.FORMAT."""
    from ..render.sheets.training_scale import sheet_files

    return _write_all(sheet_files(t, fmt, Path(out_dir)))
