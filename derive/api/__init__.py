"""The documented Python API; the CLI only wraps these functions (derive.api.models, documents, runs, tools
hold them; every public name is imported here, so `from derive import api; api.NAME` is the way to use it).

    >>> from derive import api
    >>> cfg = api.load_config("gpt2-xl")
    >>> acc = api.account(cfg)
    >>> acc.total_params, acc.forward_flops
    (2127057600, 4513336524800)
    >>> text = api.render_sheet(fmt="md")
"""

from __future__ import annotations

from ..accounting.account import DTYPE_BYTES, Accounting, account, window_note
from ..accounting.editions import DEFAULT_EDITION, edition_names, load_edition
from ..model.architectures import Derivation, derivation
from ..model.config import ModelConfig, load_config, parse_overrides, preset_names
from ..render import notebook as _notebook  # noqa: F401 (registers the Jupyter displays of results)
from ..render.environment import FORMATS
from ..render.escape import escape_terminal
from ..render.formatting import expr_text, tree_lines
from ..render.output import write_all, write_atomic
from ..render.sheets.common import bytes_summary
from .documents import (
    WrittenFiles,
    context_lines,
    default_sheet_for,
    file_stem,
    quantity_names,
    render_formula,
    render_sheet,
    render_table,
    sheet_context,
    template_context,
    write_inference_sheet,
    write_plot,
    write_sheets,
    write_template,
    write_training_sheet,
)
from .models import (
    active_summary,
    defaults_line,
    flops_report,
    load_configs,
    params_report,
    table_text,
    tree_json,
    window_line,
)
from .runs import (
    conventions_account,
    conventions_report,
    conventions_text,
    infer_account,
    infer_report,
    infer_text,
    train_account,
    train_report,
    train_text,
    training_conventions,
    training_report,
    training_setup,
)
from .tools import (
    check_document,
    check_report_json,
    check_report_text,
    read_document,
    sweep,
    sweep_arithmetic,
    sweep_pieces,
    sweep_plan,
    sweep_text,
    verify,
    verify_text,
)

__all__ = [
    "Accounting", "Derivation", "ModelConfig", "DTYPE_BYTES", "account", "derivation", "load_config", "parse_overrides",
    "preset_names", "tree_lines", "expr_text", "bytes_summary", "write_atomic", "write_all", "FORMATS",
    "escape_terminal", "window_note", "DEFAULT_EDITION", "edition_names", "load_edition",
    "load_configs", "tree_json", "params_report", "flops_report", "table_text", "active_summary", "defaults_line",
    "window_line", "sheet_context", "render_sheet", "file_stem", "WrittenFiles", "write_sheets",
    "default_sheet_for", "write_template", "template_context", "context_lines", "render_table", "render_formula",
    "quantity_names",
    "write_plot", "write_inference_sheet", "write_training_sheet", "train_report", "train_account", "training_report",
    "training_setup", "train_text",
    "training_conventions", "conventions_account", "conventions_report", "conventions_text", "infer_account",
    "infer_report", "infer_text", "check_document", "read_document", "check_report_text", "check_report_json", "sweep", "sweep_text",
    "sweep_plan", "sweep_pieces", "sweep_arithmetic", "verify", "verify_text",
]
