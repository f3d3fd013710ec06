"""Jinja environments for the sheets (StrictUndefined), one per format, each escaping data by default.

Every value a template prints that is not marked as markup of its format (TeX, MD, markupsafe.Markup) goes
through that format's escaping function (derive.render.escape): a config's name cannot become LaTeX, Markdown
or HTML. Code-made markup is marked by the filters that make it (`num`, `prose`, `tex_expr`, `mathml` ...),
and a macro's output by `|tex`, `|md` or (in HTML, automatically) Markup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..errors import RenderError
from ..resources import templates_dir as _templates_dir
from .escape import escape_html, escape_md, escape_tex, visible
from .formatting import fmt_int
from .prose import Line, option_word, prose_parts

FORMATS = ("md", "tex", "html")
templates_dir = lru_cache(maxsize=None)(_templates_dir)  # found once per run, not per template
SUFFIXES = {"md": ".md", "tex": ".tex", "html": ".html"}

__all__ = ["FORMATS", "MD", "TeX", "environment", "escape_tex", "render", "render_file", "template_exists"]


class TeX(str):
    """A string that is already LaTeX; everything else is escaped on output."""


class MD(str):
    """A string that is already Markdown (a number, a macro's output); everything else is escaped on output."""


def _tex_finalize(value: Any) -> str:
    return value if isinstance(value, TeX) else escape_tex(str(value))


def _md_finalize(value: Any) -> str:
    return value if isinstance(value, MD) else escape_md(str(value))


def _html_finalize(value: Any) -> Any:
    return value if isinstance(value, Markup) else Markup(escape_html(str(value)))


def _prose(value: Any, fmt: str) -> str:
    """derive's own prose (conventions, sentences; Prose objects mixing in data): math typeset for `fmt`."""
    from . import mathtext

    out = []
    for text, kind in prose_parts(value):
        lines = text.split("\n") if kind == "prose" else [text]  # only derive's own text may span lines
        if fmt == "md":
            out.append("\n".join(escape_md(line) for line in lines))
        elif kind == "data":
            out.append(escape_tex(text) if fmt == "tex" else escape_html(text))
        else:
            conv = mathtext.prose_tex if fmt == "tex" else mathtext.prose_html
            out.append("\n".join(conv(line) for line in lines))
    return "".join(out)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (a third of a sheet's time otherwise goes to compiling them) in the
    user's cache directory; Jinja checks each entry against its template's source. None where not writable."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "derive", "jinja")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if not os.access(path, os.W_OK):
            return None
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(path)


def _loader(extra: tuple[str, ...]) -> jinja2.BaseLoader:
    paths = [*extra, str(templates_dir())]
    return jinja2.FileSystemLoader(paths)


@lru_cache(maxsize=None)
def environment(fmt: str, extra: tuple[str, ...] = ()) -> jinja2.Environment:
    """The environment of `fmt` (md, tex, html); `extra`: directories searched before derive's templates."""
    loader = _loader(extra)
    # A user's template (extra folders) runs in Jinja's sandbox: it reads the context but cannot reach Python
    # internals (`cycler.__init__.__globals__.os` ran shell commands from a shared template before).
    if extra:
        from jinja2.sandbox import SandboxedEnvironment as Env
    else:
        Env = jinja2.Environment
    common = dict(loader=loader, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                  keep_trailing_newline=True, bytecode_cache=None if extra else _bytecode_cache())
    if fmt == "tex":
        env = Env(
            **common, finalize=_tex_finalize, autoescape=False,
            block_start_string="<%", block_end_string="%>", variable_start_string="<<",
            variable_end_string=">>", comment_start_string="<#", comment_end_string="#>",
        )
        _tex_helpers(env)
    elif fmt == "md":
        env = Env(**common, finalize=_md_finalize, autoescape=False)
        env.filters["num"] = lambda n: MD(fmt_int(n))
        env.filters["cell"] = lambda s: MD(escape_md(str(s)))
        env.filters["code"] = lambda s: MD(visible(str(s)))  # derive's own formulas, inside `...` or a fence
        env.filters["md"] = MD  # a macro's output is already Markdown
        env.filters["prose"] = lambda s: MD(_prose(s, "md"))
        env.filters["line"] = lambda s: MD(_prose(Line(s), "md"))
        env.filters["word"] = lambda v: MD(escape_md(option_word(v)))
    elif fmt == "html":
        env = Env(**common, finalize=_html_finalize, autoescape=True)
        _html_helpers(env)
    else:
        raise RenderError(f"--format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    env.globals["fmt"] = fmt
    return env


def template_exists(name: str, fmt: str) -> bool:
    return (templates_dir() / f"{name}.{fmt}.j2").is_file()


def render(template: str, fmt: str, context: dict[str, Any]) -> str:
    try:
        return environment(fmt).get_template(f"{template}.{fmt}.j2").render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"{templates_dir()}: no template {exc.name}") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"{template}.{fmt}.j2: {exc.message}") from None


def format_of(path: Path) -> str:
    """md, tex or html from a template's name (`appendix.tex.j2`, `table.md.j2`)."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) < 2 or suffixes[-1] != ".j2" or suffixes[-2][1:] not in FORMATS:
        raise RenderError(f"--template: {visible(str(path))}: name it NAME.md.j2, NAME.tex.j2 or NAME.html.j2 "
                          "(the format comes from the suffix before .j2)")
    return suffixes[-2][1:]


def render_file(path: Path, context: dict[str, Any]) -> tuple[str, str]:
    """Render a user's template file with a sheet's context: (format, text). Errors are one line (exit 2)."""
    fmt = format_of(path)
    if not path.is_file():
        raise RenderError(f"--template: {visible(str(path))}: no such file")
    env = environment(fmt, (str(path.resolve().parent),))
    try:
        return fmt, env.get_template(path.name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{visible(str(path))}: line {exc.lineno}: {visible(exc.message or 'syntax error')}") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"{visible(str(path))}: {visible(exc.message or 'undefined value')}") from None
    except jinja2.TemplateError as exc:
        raise RenderError(f"{visible(str(path))}: {visible(str(exc))}") from None
    except Exception as exc:  # an error in the template's own expressions (1/0, a wrong type): one line, exit 2
        import traceback

        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path.resolve())]
        where = f"line {lines[-1]}: " if lines else ""
        raise RenderError(f"{visible(str(path))}: {where}{type(exc).__name__}: {visible(str(exc))}") from None


def _tex_helpers(env: jinja2.Environment) -> None:
    """Symbol macros, siunitx numbers and broken equations for the LaTeX templates (derive.render.latex)."""
    from . import latex

    env.filters["num"] = lambda n: TeX(latex.num(n))
    env.filters["tex"] = lambda s: TeX(str(s))  # code-made LaTeX (sympy, macro output) is markup, not data
    env.filters["esc"] = lambda s: TeX(escape_tex(str(s)))
    env.filters["prose"] = lambda s: TeX(_prose(s, "tex"))
    env.filters["line"] = lambda s: TeX(_prose(Line(s), "tex"))
    env.filters["word"] = lambda v: TeX(escape_tex(option_word(v)))
    env.filters["tex_lines"] = latex.tex_tree_lines
    env.filters["tex_expr"] = lambda e: TeX(latex.expr_tex(e))
    env.globals["equation"] = lambda lhs, expr, suffix="", more=(), width=58: TeX(
        latex.equation(lhs, expr, suffix, width, more=more))
    env.globals["align_row"] = lambda lhs, expr: TeX(latex.align_row(lhs, expr))
    env.globals["macro_definitions"] = lambda: TeX(latex.macro_definitions())
    env.globals["packages_comment"] = lambda: TeX(latex.packages_comment())
    env.globals["macro"] = lambda name: TeX(latex.macro(name))
    env.globals["pgfplots_compat"] = latex.PGFPLOTS_COMPAT
    env.globals["symbol_rows"] = latex.symbol_table
    env.filters["shapes"] = lambda s: TeX(" @ ".join(rf"\mbox{{{escape_tex(t)}}}" for t in str(s).split(" @ ")))


def _html_helpers(env: jinja2.Environment) -> None:
    """MathML closed forms and tree tables, prose with MathML, inline SVG charts (derive.render.html)."""
    from . import html

    env.filters["num"] = lambda n: Markup(escape_html(fmt_int(n)))
    env.filters["px"] = lambda v: Markup(f"{float(v):.1f}")  # SVG coordinates
    env.filters["prose"] = lambda s: Markup(_prose(s, "html"))
    env.filters["line"] = lambda s: Markup(_prose(Line(s), "html"))
    env.filters["word"] = lambda v: Markup(escape_html(option_word(v)))
    env.filters["mathml"] = lambda e: Markup(html.inline_math(e))
    env.filters["html_lines"] = html.html_tree_lines
    env.globals["equation"] = lambda lhs, expr, value=None, more=(), prefix="": Markup(
        html.equation(lhs, expr, value, more, prefix))
    env.globals["symbol_rows"] = html.symbol_rows
    env.globals["symbol"] = html.symbol
    env.globals["crossover_math"] = html.crossover_math
    env.globals["chart"] = lambda kind, data: Markup(html.chart_svg(kind, data))
    env.filters["shapes"] = lambda s: Markup(" @ ".join(f'<span class="nowrap">{escape_html(t)}</span>'
                                                        for t in str(s).split(" @ ")))

