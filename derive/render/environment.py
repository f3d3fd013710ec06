"""Jinja environments (StrictUndefined; LaTeX escaping by default): the filters and globals templates use."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from ..errors import RenderError
from ..resources import templates_dir
from .formatting import fmt_int

FORMATS = ("md", "tex")

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}


class TeX(str):
    """A string that is already LaTeX; everything else is escaped on output."""


def escape_tex(text: str) -> str:
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in text)


def _tex_finalize(value: Any) -> str:
    if isinstance(value, TeX):
        return value
    return escape_tex(str(value))


def _md_cell(value: Any) -> str:
    return str(value).replace("|", r"\|")


@lru_cache(maxsize=None)
def environment(fmt: str) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(templates_dir()))
    if fmt == "tex":
        env = jinja2.Environment(
            loader=loader, undefined=jinja2.StrictUndefined, finalize=_tex_finalize,
            block_start_string="<%", block_end_string="%>", variable_start_string="<<",
            variable_end_string=">>", comment_start_string="<#", comment_end_string="#>",
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
        )
        _tex_helpers(env)
    else:
        env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                 lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
        env.filters["num"] = fmt_int
        env.filters["cell"] = _md_cell
    return env


def render(template: str, fmt: str, context: dict[str, Any]) -> str:
    try:
        return environment(fmt).get_template(f"{template}.{fmt}.j2").render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"{templates_dir()}: no template {exc.name}") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"{template}.{fmt}.j2: {exc.message}") from None


def _tex_helpers(env: jinja2.Environment) -> None:
    """Symbol macros, siunitx numbers and broken equations for the LaTeX templates (derive.render.latex)."""
    from . import latex

    env.filters["num"] = lambda n: TeX(latex.num(n))
    env.filters["tex"] = lambda s: TeX(str(s))  # code-made LaTeX (sympy, macro output) is markup, not data
    env.filters["esc"] = lambda s: TeX(escape_tex(str(s)))
    env.filters["tex_lines"] = latex.tex_tree_lines
    env.filters["tex_expr"] = lambda e: TeX(latex.expr_tex(e))
    env.globals["equation"] = lambda lhs, expr, suffix="": TeX(latex.equation(lhs, expr, suffix))
    env.globals["macro_definitions"] = lambda: TeX(latex.macro_definitions())
    env.globals["packages_comment"] = lambda: TeX(latex.packages_comment())
    env.globals["macro"] = lambda name: TeX(latex.macro(name))
    env.globals["pgfplots_compat"] = latex.PGFPLOTS_COMPAT
    env.globals["symbol_table"] = latex.symbol_table()
    env.filters["shapes"] = lambda s: TeX(" @ ".join(rf"\mbox{{{escape_tex(t)}}}" for t in str(s).split(" @ ")))
