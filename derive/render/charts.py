"""Charts for part (d) (FLOP shares per model) and part (e) (FLOPs against context length), in a sheet or on
their own (`derive plot`).

The data come from derive.accounting.series. Every install draws them from templates: LaTeX with pgfplots
inside the document (templates/_plots.tex.j2), Markdown and HTML as SVG (templates/_charts.svg.j2, the
geometry computed here). Only `derive plot --out F.png|F.pdf` needs matplotlib (MISSING_MATPLOTLIB says how to
install it); a PNG or PDF is a raster or vector export that a template cannot write.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Mapping

from ..accounting.account import Accounting, account
from ..accounting.series import GROUP_SHORT, context_lengths, context_series, crossover
from ..errors import UsageError
from ..model.architectures import GROUP_LABELS, derivation_for
from ..model.config import ModelConfig, load_config
from .environment import TeX, environment
from .formatting import expr_text, fmt_int
from .latex import expr_tex, macro_definitions, num, packages_comment
from .output import write_atomic

KINDS = ("shares", "context")
IMAGE_SUFFIXES = (".svg", ".png", ".pdf")
MISSING_MATPLOTLIB = ("matplotlib is not installed (pip install 'matplotlib>=3.7', or install derive from its "
                      "checkout with the plots extra: pip install '.[plots]')")


def _labels(config: ModelConfig) -> dict[str, str]:
    """Group labels of the config's architecture (the feed-forward says SwiGLU or GELU MLP)."""
    labels = derivation_for(config).group_labels
    return {g: labels.get(g, GROUP_LABELS[g]) for g in GROUP_LABELS}


def shares_data(accs: list[Accounting]) -> dict[str, Any]:
    """Percent of forward FLOPs per group for each model (floats: rendered only)."""
    labels = _labels(accs[0].config)
    return {
        "models": [a.config.name for a in accs],
        "series": [{"group": g, "label": GROUP_SHORT[g], "long_label": labels[g],
                    "values": [round(float(a.shares[g]) * 100, 3) for a in accs]} for g in GROUP_LABELS],
    }


def context_data(config: ModelConfig) -> dict[str, Any]:
    cross = crossover(config)
    points = context_series(config, context_lengths(config, cross))
    lengths = [p.context_length for p in points]
    labels = _labels(config)
    return {
        "model": config.name,
        "lengths": lengths,
        "flops": [float(p.forward_flops) for p in points],
        "series": [{"group": g, "label": GROUP_SHORT[g], "long_label": labels[g],
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
            "expr": cross.expr,
            "equation": cross.equation,
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
    """A chart as SVG (from the template, any install) or PNG/PDF (matplotlib)."""
    if fmt == "svg":
        return chart_svg(kind, data).encode("utf-8")
    if not have_matplotlib():
        raise UsageError(f"--out: cannot draw {fmt.upper()}: {MISSING_MATPLOTLIB}; write .svg or .tex instead")
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
    """`derive plot`: one chart into `path` (.svg from the template, .png/.pdf with matplotlib, .tex with
    pgfplots)."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + (".tex",):
        raise UsageError(f"--out: {path}: unknown file type {suffix or '(none)'} (use .svg, .png, .pdf or .tex)")
    data = plot_data(kind, configs, overrides)
    if suffix == ".tex":
        write_atomic(path, plot_tex(kind, data))
    else:
        write_atomic(path, figure_bytes(kind, data, suffix[1:]))


# --- SVG from a template ------------------------------------------------------------------------------------
PALETTE = ("#4f6fc4", "#c44f4f", "#e0902e", "#3a9a8f", "#8a5cb8", "#7a7a7a")  # blue, red, orange, teal, ...


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    n = int(math.floor(lo / step))
    out = []
    while n * step <= hi + 1e-9:
        if n * step >= lo - 1e-9:
            out.append(n * step)
        n += 1
    return out


def shares_geometry(data: dict[str, Any]) -> dict[str, Any]:
    """Stacked bars: one per model, one segment per group (percent of forward FLOPs)."""
    left, top, plot_w, plot_h = 56.0, 28.0, max(220.0, 76.0 * len(data["models"])), 240.0
    n = len(data["models"])
    slot = plot_w / n
    bar = min(44.0, slot * 0.6)
    y = lambda v: top + plot_h * (1 - v / 100)  # noqa: E731
    bars = []
    for i, model in enumerate(data["models"]):
        x = left + slot * (i + 0.5) - bar / 2
        base, segments = 0.0, []
        for j, s in enumerate(data["series"]):
            v = s["values"][i]
            segments.append({"x": x, "y": y(base + v), "w": bar, "h": y(base) - y(base + v),
                             "color": PALETTE[j % len(PALETTE)], "title": f"{model}: {s['long_label']} {v:.1f}%"})
            base += v
        bars.append({"label": model, "cx": x + bar / 2, "segments": segments})
    legend_x = left + plot_w + 18
    return {
        "width": legend_x + 230, "height": top + plot_h + 46, "left": left, "top": top, "plot_w": plot_w,
        "plot_h": plot_h, "bottom": top + plot_h, "bars": bars, "title": "Forward-pass FLOPs by component",
        "y_ticks": [{"y": y(v), "label": f"{v:g}"} for v in _ticks(0, 100, 20)],
        "y_label": "share of forward FLOPs (%)",
        "legend": [{"x": legend_x, "y": top + 6 + 18 * j, "color": PALETTE[j % len(PALETTE)], "label": s["long_label"]}
                   for j, s in reversed(list(enumerate(data["series"])))],
    }


def _log_ticks(lo: float, hi: float, base: int) -> list[int]:
    return list(range(math.floor(math.log(lo, base) + 1e-9), math.ceil(math.log(hi, base) - 1e-9) + 1))


def context_geometry(data: dict[str, Any]) -> dict[str, Any]:
    """Two panels against context length (log2 axis): total forward FLOPs (log10 axis), and the shares."""
    lengths, flops = data["lengths"], data["flops"]
    top, plot_w, plot_h, gap = 30.0, 300.0, 220.0, 92.0
    x_exps = _log_ticks(lengths[0], lengths[-1], 2)
    x_lo, x_hi = 2.0 ** x_exps[0], 2.0 ** x_exps[-1]
    y_exps = _log_ticks(min(flops), max(flops), 10)
    y_lo, y_hi = 10.0 ** y_exps[0], 10.0 ** y_exps[-1]

    def panel(left: float, ys: list[float], log_y: bool) -> dict[str, Any]:
        def px(v: float) -> float:
            return left + plot_w * (math.log2(v) - math.log2(x_lo)) / (math.log2(x_hi) - math.log2(x_lo))

        def py(v: float) -> float:
            if log_y:
                return top + plot_h * (1 - (math.log10(v) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))
            return top + plot_h * (1 - v / 100)

        step = max(1, math.ceil(len(x_exps) / 7))  # at most about seven labels on the x axis
        return {"left": left, "px": px, "py": py,
                "x_ticks": [{"x": px(2.0 ** e), "exp": e, "label": e % step == x_exps[0] % step} for e in x_exps],
                "points": lambda values: " ".join(f"{px(n):.2f},{py(v):.2f}" for n, v in zip(lengths, values))}

    a = panel(70.0, flops, True)
    b = panel(70.0 + plot_w + gap, [], False)
    cross = data["crossover"]
    marker = None
    if cross["in_range"]:
        xb = b["px"](cross["value"])
        right_half = xb > b["left"] + plot_w * 0.55  # put the label where it fits: left of the line
        marker = {"xa": a["px"](cross["value"]), "xb": xb, "lx": xb - 4 if right_half else xb + 4,
                  "anchor": "end" if right_half else "start",
                  "label": f"S* = {cross['expr_text']} = {cross['value_text']}"}
    return {
        "width": b["left"] + plot_w + 30, "height": top + plot_h + 60 + 18 * len(data["series"]) + 10,
        "top": top, "plot_w": plot_w, "plot_h": plot_h, "bottom": top + plot_h, "model": data["model"],
        "left": {"x": a["left"], "x_ticks": a["x_ticks"], "line": a["points"](flops),
                 "dots": [{"x": a["px"](n), "y": a["py"](v)} for n, v in zip(lengths, flops)],
                 "y_ticks": [{"y": a["py"](10.0 ** e), "exp": e} for e in y_exps]},
        "right": {"x": b["left"], "x_ticks": b["x_ticks"],
                  "y_ticks": [{"y": b["py"](v), "label": f"{v:g}"} for v in _ticks(0, 100, 20)],
                  "lines": [{"points": b["points"](s["values"]), "color": PALETTE[j % len(PALETTE)],
                             "label": s["long_label"]} for j, s in enumerate(data["series"])]},
        "legend_y": top + plot_h + 48,
        "marker": marker,
    }


def chart_svg(kind: str, data: dict[str, Any], standalone: bool = True) -> str:
    """A chart as SVG text from templates/_charts.svg.j2 (standalone: an XML file; else an inline element)."""
    env = environment("html")
    module = env.get_template("_charts.svg.j2").make_module({})
    if kind == "shares":
        svg = str(module.shares_chart(shares_geometry(data)))
    else:
        svg = str(module.context_chart(context_geometry(data)))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg) if standalone else svg
