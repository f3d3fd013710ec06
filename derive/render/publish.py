"""What `derive sheet` produces: a sheet's context, its files and their names, a user's own template, and the
documented template context (`derive context --json`).

File names never collide across kinds of output: `NAME[-CONFIG...][-KEY-VALUE...].md|.tex|.html`, the LaTeX
fragment as `...-fragment.tex`, the Markdown sheet's charts as `...-shares.svg` and `...-context.svg`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..accounting.account import DTYPE_BYTES, Accounting, account
from ..errors import UsageError
from ..model.config import ModelConfig
from ..model.steps import Evaluated
from .charts import chart_svg, plot_files
from .environment import FORMATS, SUFFIXES, TeX, format_of, render, render_file, template_exists
from .escape import visible
from .formatting import expr_latex, expr_text, fmt_decimal, tree_lines
from .latex import expr_tex
from ..accounting.editions import DEFAULT_EDITION
from .sheets import CONVENTIONS, GENERIC_SHEET, SHEETS, get_sheet
from .sheets.common import bytes_summary, sheet_text

MAX_STEM = 120  # longer file stems end in a hash of the whole (file systems allow 255 bytes)


def file_stem(name: str, configs: Sequence[ModelConfig] = (), overrides: Mapping[str, Any] | None = None,
              window: str = "full", edition: str | None = None, detail: str = "full") -> str:
    """`sheet-config1-config2[-edition-YEAR][-brief][-key-value...][-window-band]`, safe as a file name, a
    Markdown link and an \\input path (a config may be called `meta-llama/Llama-2-7b` or `my model #1`).
    Overrides (--set), a non-default window convention, another edition than the default and the brief detail
    level are part of the name, so a run with `--set context_length=16384` or `--edition 2026` does not replace
    the default run's files."""
    parts = [name, *(c.name for c in configs)]
    if edition is not None and edition != DEFAULT_EDITION:
        parts.append(f"edition-{Path(edition).stem}")
    if detail != "full":
        parts.append(detail)
    parts += [f"{k}-{v}" for k, v in sorted((overrides or {}).items())]
    parts += [f"window-{window}"] if window != "full" else []
    stem = re.sub(r"[^A-Za-z0-9.+-]+", "-", "-".join(parts)).strip("-.") or name
    if len(stem) > MAX_STEM:
        digest = hashlib.sha256(stem.encode("utf-8")).hexdigest()[:10]
        stem = f"{stem[:MAX_STEM - 11].rstrip('-.')}-{digest}"
    return stem


def sheet_formats(name: str, formats: Sequence[str] = FORMATS) -> list[str]:
    """The formats among `formats` that sheet `name` has a template for (every sheet: md and tex)."""
    return [fmt for fmt in formats if template_exists(name, fmt)]


def sheet_context(name: str, configs: Sequence[ModelConfig] = (), overrides: Mapping[str, Any] | None = None,
                  stem: str | None = None, fragment: bool = False, window: str = "full",
                  edition: str | None = None, detail: str = "full",
                  options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The context every template of sheet `name` gets (the built-in ones and a user's --template).

    window: the sliding-window convention, "full" (the square FlopCounterMode counts) or "band" (only the
    pairs inside the window); only the model-accounting sheet has sliding-window layers. UsageError otherwise.
    edition, detail: for the sheets that answer a handout edition's questions; another sheet refuses them.
    options: the keyword options of a sheet that takes them (inference-accounting: derive infer's options)."""
    sheet = get_sheet(name)
    if (edition is not None or detail != "full") and not sheet.editions:
        option = "--edition" if edition is not None else "--detail"
        known = ", ".join(n for n, s in SHEETS.items() if s.editions)
        raise UsageError(f"{option}: sheet {name} answers no handout's questions (sheets that do: {known})")
    if window != "full":
        if name != GENERIC_SHEET:
            raise UsageError(f"--window {window}: only the {GENERIC_SHEET} sheet has sliding-window layers")
        context = sheet.build(list(configs), overrides or {}, window=window)
    elif sheet.editions:
        context = sheet.build(list(configs), overrides or {}, edition=edition, detail=detail)
    else:
        context = sheet.build(list(configs), overrides or {}, **(options or {}))
    context.setdefault("conventions", CONVENTIONS)
    context.setdefault("text", sheet_text(name))
    context["sheet"] = name
    context["fragment"] = fragment
    context["plot_files"] = plot_files(stem or file_stem(name, configs, overrides))
    context["plots_available"] = True  # SVG charts come from a template on every install
    return context


def render_sheet(name: str, configs: Sequence[ModelConfig] = (), overrides: Mapping[str, Any] | None = None,
                 fmt: str = "md", fragment: bool = False, window: str = "full", edition: str | None = None,
                 detail: str = "full") -> str:
    if fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if not template_exists(name, fmt):
        raise UsageError(f"--format {fmt}: sheet {name} has no {fmt} template")
    stem = file_stem(name, configs, None, window, edition, detail)
    return render(name, fmt, sheet_context(name, configs, overrides, stem, fragment, window, edition, detail))


def sheet_files(name: str, configs: Sequence[ModelConfig], overrides: Mapping[str, Any] | None,
                formats: Sequence[str], out_dir: Path, fragment: bool = False, window: str = "full",
                edition: str | None = None, detail: str = "full",
                options: Mapping[str, Any] | None = None) -> list[tuple[Path, str | bytes]]:
    """Every file of a sheet, rendered (nothing written): the sheets, then the Markdown sheet's SVG charts.
    A sheet's `options` (see sheet_context) are part of its file names, as --set overrides are."""
    stem = file_stem(name, configs, {**(overrides or {}), **(options or {})}, window, edition, detail)
    context = sheet_context(name, configs, overrides, stem, fragment, window, edition, detail, options)
    files: list[tuple[Path, str | bytes]] = []
    for fmt in formats:
        if not template_exists(name, fmt):
            raise UsageError(f"--format {fmt}: sheet {name} has no {fmt} template")
        suffix = "-fragment.tex" if fmt == "tex" and fragment else SUFFIXES[fmt]
        files.append((out_dir / f"{stem}{suffix}", render(name, fmt, context)))
    if "md" in formats and "shares_plot" in context and context.get("full", True):
        names = context["plot_files"]
        files.append((out_dir / names["shares"], chart_svg("shares", context["shares_plot"])))
        files.append((out_dir / names["context"], chart_svg("context", context["context_plot"])))
    return files


def template_files(path: Path, name: str, configs: Sequence[ModelConfig], overrides: Mapping[str, Any] | None,
                   out_dir: Path, edition: str | None = None, detail: str = "full") -> list[tuple[Path, str]]:
    """A user's template rendered with sheet `name`'s context: [(OUT/TEMPLATE[-CONFIG...].FORMAT, text)]."""
    fmt = format_of(path)
    template_name = path.name[: -len(f".{fmt}.j2")] or "template"
    stem = file_stem(template_name, configs, overrides, edition=edition, detail=detail)
    context = {**sheet_context(name, configs, overrides, stem, edition=edition, detail=detail),
               **template_context(name, configs, overrides, edition)}
    _, text = render_file(path, context)
    return [(out_dir / f"{stem}{SUFFIXES[fmt]}", text)]


# --- the documented context -----------------------------------------------------------------------------------
def config_view(c: ModelConfig) -> dict[str, Any]:
    """A config as plain data: name, description, d_ff_source, the sizes and the architecture options."""
    return {"name": c.name, "description": c.description, "d_ff_source": c.d_ff_source, **c.values(),
            **c.arch_values(), "num_kv_heads": c.kv_heads, "d_k": c.d_k, "hf_model_type": c.hf_model_type or None}


def formula_view(expr: Any) -> dict[str, str]:
    """A formula as text, plain LaTeX and LaTeX with derive's macros; the LaTeX forms are markup (TeX), so a
    LaTeX template prints them as they are (in a Markdown template, `|md` does the same)."""
    return {"text": expr_text(expr), "latex": TeX(expr_latex(expr)), "tex": TeX(expr_tex(expr))}


def tree_view(node: Evaluated) -> dict[str, Any]:
    """An evaluated tree as data: each node's key, title, exact value, formula (text, LaTeX) and children."""
    s = node.step
    out: dict[str, Any] = {"key": s.key, "title": s.title, "kind": s.kind, "value": node.value,
                           "formula": formula_view(s.expr), "description": s.description}
    if s.kind == "matmul":
        out["shapes"] = [list(shape) for shape in node.shape_values]
    if node.repeat_value is not None:
        out["times"] = node.repeat_value
    out["children"] = [tree_view(c) for c in node.children]
    return out


def accounting_view(acc: Accounting) -> dict[str, Any]:
    """Everything derive computed for one config, as plain data (exact integers)."""
    d = acc.derivation
    closed = {"params": formula_view(d.params.expr), "forward_flops": formula_view(d.forward.expr)}
    if d.active_params is not None:
        closed["active_params"] = formula_view(d.active_params.expr)
    return {
        "config": config_view(acc.config),
        "batch_size": acc.batch_size, "seq_len": acc.seq_len,
        "total_params": acc.total_params, "forward_flops": acc.forward_flops,
        "active_params": acc.active_params.value if acc.active_params is not None else None,
        "total_buffers": acc.buffers.value,
        "memory": {dtype: {"bytes_per_param": DTYPE_BYTES[dtype], **bytes_summary(acc.memory(dtype).value),
                           "value": acc.memory(dtype).value} for dtype in DTYPE_BYTES},
        "closed_forms": closed,
        "params": tree_view(acc.params), "buffers": tree_view(acc.buffers), "forward": tree_view(acc.forward),
        "active": tree_view(acc.active_params) if acc.active_params is not None else None,
        "lines": {"params": [ln.text for ln in tree_lines(acc.params)],
                  "forward": [ln.text for ln in tree_lines(acc.forward)]},
        "groups": [{"key": g, "label": acc.group_label(g), "flops": acc.groups[g],
                    "share": fmt_decimal(acc.shares[g] * 100, 1) + "%"} for g in acc.groups],
    }


def template_context(name: str, configs: Sequence[ModelConfig], overrides: Mapping[str, Any] | None = None,
                     edition: str | None = None) -> dict[str, Any]:
    """The documented context of a user's template (and what `derive context --json` prints): `accounting`
    (the first config), `accountings` (every config), `configs`, `sheet`, `conventions`. Without configs:
    gpt2-xl, or with an `edition` the model its problem is about (the 2026 handout's gpt2-xl has d_ff 4,288)."""
    from ..accounting.editions import load_edition
    from ..model.config import load_config

    if configs:
        loaded = list(configs)
    elif edition is not None and get_sheet(name).editions:
        ed = load_edition(edition)
        loaded = [ed.config(ed.adamw.model if name == "adamw-accounting" else ed.transformer.subject, overrides)]
    else:
        loaded = [load_config("gpt2-xl", overrides)]
    accs = [account(c) for c in loaded]
    from .. import __version__

    return {
        "derive_version": __version__,
        "sheet": name,
        "configs": [config_view(c) for c in loaded],
        "accounting": accounting_view(accs[0]),
        "accountings": [accounting_view(a) for a in accs],
        "conventions": [str(c) for c in CONVENTIONS],
        "overrides": {visible(str(k)): v for k, v in (overrides or {}).items()},
    }
