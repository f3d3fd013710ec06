"""`derive plot`: one chart on its own, as an image (matplotlib) or a pgfplots picture (.tex)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .accounting import account
from .config import ModelConfig, load_config
from .errors import UsageError
from .latex import macro_definitions, packages_comment
from .plots import context_data, figure_bytes, shares_data
from .render import TeX, environment, write_atomic, write_atomic_bytes
from .sheets import GPT2_FAMILY

IMAGE_SUFFIXES = (".svg", ".png", ".pdf")


def plot_data(kind: str, configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
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
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + (".tex",):
        raise UsageError(f"--out: {path}: unknown file type {suffix or '(none)'} (use .svg, .png, .pdf or .tex)")
    data = plot_data(kind, configs, overrides)
    if suffix == ".tex":
        write_atomic(path, plot_tex(kind, data))
    else:
        write_atomic_bytes(path, figure_bytes(kind, data, suffix[1:]))
