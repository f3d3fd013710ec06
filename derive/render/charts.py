"""Charts for part (d) (FLOP shares per model) and part (e) (FLOPs against context length), in a sheet or on
their own (`derive plot`).

The data come from derive.accounting.series; LaTeX draws them with pgfplots inside the document
(templates/_plots.tex.j2), Markdown links SVGs drawn with matplotlib, an optional extra
(`pip install derive[plots]`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping

from ..accounting.account import Accounting, account
from ..accounting.series import GROUP_SHORT, context_lengths, context_series, crossover
from ..errors import UsageError
from ..model.architectures import GROUP_LABELS
from ..model.config import ModelConfig, load_config
from .environment import TeX, environment
from .formatting import expr_text, fmt_int
from .latex import expr_tex, macro_definitions, num, packages_comment
from .output import write_atomic

KINDS = ("shares", "context")
IMAGE_SUFFIXES = (".svg", ".png", ".pdf")
MISSING_MATPLOTLIB = "matplotlib is not installed (pip install derive[plots])"


def shares_data(accs: list[Accounting]) -> dict[str, Any]:
    """Percent of forward FLOPs per group for each model (floats: rendered only)."""
    return {
        "models": [a.config.name for a in accs],
        "series": [{"group": g, "label": GROUP_SHORT[g], "long_label": GROUP_LABELS[g],
                    "values": [round(float(a.shares[g]) * 100, 3) for a in accs]} for g in GROUP_LABELS],
    }


def context_data(config: ModelConfig) -> dict[str, Any]:
    cross = crossover(config)
    points = context_series(config, context_lengths(config, cross))
    lengths = [p.context_length for p in points]
    return {
        "model": config.name,
        "lengths": lengths,
        "flops": [float(p.forward_flops) for p in points],
        "series": [{"group": g, "label": GROUP_SHORT[g], "long_label": GROUP_LABELS[g],
                    "values": [round(float(p.shares[g]) * 100, 3) for p in points]} for g in GROUP_LABELS],
        "crossover": {
            "expr_text": expr_text(cross.expr),
            "expr_tex": expr_tex(cross.expr),
            "equation_text": f"{expr_text(cross.equation.lhs)} = {expr_text(cross.equation.rhs)}",
            "equation_tex": f"{expr_tex(cross.equation.lhs)} = {expr_tex(cross.equation.rhs)}",
            "value": cross.value_float,
            "value_text": fmt_int(int(cross.value)) if cross.value.denominator == 1 else f"{cross.value_float:,.1f}",
            "value_tex": num(int(cross.value)) if cross.value.denominator == 1 else rf"\dnum{{{cross.value_float:.1f}}}",
            "is_integer": cross.value.denominator == 1,
            "exact": cross.value,
            "in_range": lengths[0] <= cross.value <= lengths[-1],
        },
    }


def have_matplotlib() -> bool:
    """Whether matplotlib is installed, found without importing it (0.2 s; a LaTeX-only sheet never needs it)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.8)):
    """A Figure and its axes without importing pyplot (about a third of matplotlib's start-up cost)."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "derive"  # stable ids: the same data give the same file
    matplotlib.rcParams["svg.fonttype"] = "none"
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols)


def _save(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt in ("svg", "pdf") else None
    fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=metadata)
    return buf.getvalue()


def shares_figure(data: dict[str, Any], fmt: str = "svg") -> bytes:
    fig, ax = _figure(figsize=(6.4, 3.6))
    bottom = [0.0] * len(data["models"])
    for s in data["series"]:
        ax.bar(data["models"], s["values"], bottom=bottom, label=s["long_label"])
        bottom = [b + v for b, v in zip(bottom, s["values"])]
    ax.set_ylabel("share of forward FLOPs (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Forward-pass FLOPs by component")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return _save(fig, fmt)


def context_figure(data: dict[str, Any], fmt: str = "svg") -> bytes:
    fig, (left, right) = _figure(1, 2, figsize=(10, 3.8))
    lengths = data["lengths"]
    cross = data["crossover"]
    left.plot(lengths, data["flops"], marker="o")
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xlabel("context length (tokens)")
    left.set_ylabel("forward FLOPs per sequence")
    left.set_title(f"{data['model']}: total forward FLOPs")
    for s in data["series"]:
        right.plot(lengths, s["values"], marker=".", label=s["long_label"])
    right.set_xscale("log", base=2)
    right.set_ylim(0, 100)
    right.set_xlabel("context length (tokens)")
    right.set_ylabel("share of forward FLOPs (%)")
    right.set_title("shares")
    if cross["in_range"]:
        for ax in (left, right):
            ax.axvline(cross["value"], color="gray", linestyle="--", linewidth=1)
        right.annotate(f"scores = FFN at\nS = {cross['expr_text']} = {cross['value_text']}",
                       xy=(cross["value"], 50), xytext=(6, 0), textcoords="offset points", fontsize="small")
    right.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return _save(fig, fmt)


FIGURES = {"shares": shares_figure, "context": context_figure}


def figure_bytes(kind: str, data: dict[str, Any], fmt: str = "svg") -> bytes:
    if not have_matplotlib():
        raise UsageError(f"--out: cannot draw {fmt.upper()}: {MISSING_MATPLOTLIB}; write a .tex file instead")
    return FIGURES[kind](data, fmt)


def plot_files(stem: str) -> dict[str, str]:
    """File names of the SVGs a Markdown sheet links (written beside it)."""
    return {kind: f"{Path(stem).name}-{kind}.svg" for kind in KINDS}


def plot_data(kind: str, configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The data of one chart: the given configs, or GPT-2 small to XL (shares) / gpt2-xl (context)."""
    from .sheets.transformer import GPT2_FAMILY

    if kind == "shares":
        family = configs or [load_config(n, overrides) for n in GPT2_FAMILY]
        return shares_data([account(c) for c in family])
    return context_data(configs[0] if configs else load_config("gpt2-xl", overrides))


def plot_tex(kind: str, data: dict[str, Any]) -> str:
    """A pgfplots tikzpicture with the macros it needs: \\input{} it inside a figure."""
    env = environment("tex")
    module = env.get_template("_plots.tex.j2").make_module({})
    chart = module.shares_chart(data) if kind == "shares" else module.context_chart(data)
    return f"{packages_comment()}\n{macro_definitions()}\n{TeX(chart)}"


def write_plot(kind: str, configs: list[ModelConfig], overrides: Mapping[str, Any], path: Path) -> None:
    """`derive plot`: one chart into `path` (.svg/.png/.pdf with matplotlib, .tex with pgfplots)."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + (".tex",):
        raise UsageError(f"--out: {path}: unknown file type {suffix or '(none)'} (use .svg, .png, .pdf or .tex)")
    data = plot_data(kind, configs, overrides)
    if suffix == ".tex":
        write_atomic(path, plot_tex(kind, data))
    else:
        write_atomic(path, figure_bytes(kind, data, suffix[1:]))
