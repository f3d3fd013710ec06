"""Commands that write documents: answer sheets, a sheet's template context, charts."""

from __future__ import annotations

import click

from .base import DeriveCommand, _echo_json, json_option, main, set_option


class SheetCommand(DeriveCommand):
    """`derive sheet --help` ends with the sheets and handout editions that ship (read from files: no sympy)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from .. import catalog

        names = catalog()
        default = names["default_edition"]
        for title, items in (("Sheets (--sheet)", names["sheets"]),
                             ("Editions (--edition)", [f"{e} (default)" if e == default else e
                                                       for e in names["editions"]])):
            with formatter.section(title):
                formatter.write_text("\b\n" + "\n".join(items))  # \b: one per line, never re-wrapped
        super().format_epilog(ctx, formatter)


@main.command(cls=SheetCommand)
@click.argument("configs", nargs=-1, metavar="[CONFIG ...]")
@click.option("--sheet", "sheet_name", default=None,
              help="Which answer sheet to render (default: transformer-accounting for the assignment "
                   "architecture, model-accounting for any other model).")
@click.option("--format", "fmt", type=click.Choice(["md", "tex", "html", "all"]), default="all", show_default=True,
              help="Output format; all = every format the sheet has (md with SVG charts, tex, html).")
@click.option("--out", "out_dir", default="build", show_default=True, type=click.Path(file_okay=False),
              help="Directory the sheet is written into.")
@click.option("--fragment", is_flag=True,
              help="LaTeX without preamble or \\begin{document}, for \\input{} (written as NAME-fragment.tex).")
@click.option("--template", "template", default=None, type=click.Path(dir_okay=False), metavar="FILE.j2",
              help="Render your own Jinja template (NAME.md.j2, NAME.tex.j2 or NAME.html.j2) with the sheet's "
                   "context instead of the built-in sheet; `derive context CONFIG --json` shows that context.")
@set_option
@click.option("--window", type=click.Choice(["full", "band"]), default="full", show_default=True,
              help="Sliding-window layers (model-accounting sheet): full square, or only the band in the window.")
@click.option("--edition", default=None, metavar="YEAR|FILE.yaml",
              help="The CS336 handout whose questions the transformer- and adamw-accounting sheets answer (its "
                   "models, d_ff rules and givens); a year listed below or an edition file of your own.")
@click.option("--detail", type=click.Choice(["full", "brief"]), default="full", show_default=True,
              help="full: every listing; brief: each part's derivation and answer, to hand in.")
def sheet(configs: tuple[str, ...], sheet_name: str, fmt: str, out_dir: str, sets: tuple[str, ...],
          fragment: bool = False, template: str | None = None, window: str = "full", edition: str | None = None,
          detail: str = "full") -> None:
    """Render an answer sheet (Markdown with SVG charts, LaTeX, HTML with MathML) into OUT.

    With no CONFIG, the default sheet: the transformer-accounting problem for the GPT-2 XL shape, with
    GPT-2 small to XL compared in part (d). CONFIG is a preset name (gpt2-xl) or a YAML file; with several,
    the first is the subject of parts (a)-(c) and (e) and all are compared in part (d). File names carry the
    configs and any --set overrides, so runs with different inputs do not replace each other's files.
    """
    from .. import api

    overrides = api.parse_overrides(sets)
    loaded = api.load_configs(configs, overrides, edition)
    if sheet_name is None:
        sheet_name = api.default_sheet_for(loaded, edition)
    if template is not None:
        written = api.write_template(template, sheet_name, loaded, overrides, out_dir, fmt, edition=edition,
                                     detail=detail)
    else:
        formats = None if fmt == "all" else (fmt,)
        written = api.write_sheets(sheet_name, loaded, overrides, formats, out_dir, fragment=fragment,
                                   window=window, edition=edition, detail=detail)
    for path in written:
        note = " (replaced the file of that name)" if path in written.replaced else ""
        click.echo(f"wrote {api.escape_terminal(str(path))}{note}")


@main.command()
@click.argument("configs", nargs=-1, metavar="[CONFIG ...]")
@click.option("--sheet", "sheet_name", default=None, help="The sheet whose context to show (default as for sheet).")
@set_option
@json_option
def context(configs: tuple[str, ...], sheet_name: str | None, sets: tuple[str, ...], as_json: bool) -> None:
    """The context a template given to `derive sheet --template` gets: accounting (the first CONFIG), accountings,
    configs, conventions. With --json, all of it (exact integers, evaluated trees with each node's value and
    formula); otherwise one line per value, as template expressions."""
    from .. import api

    overrides = api.parse_overrides(sets)
    loaded = api.load_configs(configs, overrides)
    data = api.template_context(sheet_name or api.default_sheet_for(loaded), loaded, overrides)
    if as_json:
        _echo_json(data)
        return
    for key, value in api.context_lines(data):
        click.echo(f"{api.escape_terminal(key)} = {api.escape_terminal(value)}")


@main.command()
@click.argument("configs", nargs=-1, metavar="[CONFIG ...]")
@click.option("--kind", type=click.Choice(["shares", "context"]), default="shares", show_default=True,
              help="shares: forward-FLOP shares per model; context: FLOPs and shares against context length.")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Output file: .svg (drawn from a template), .tex (pgfplots), .png/.pdf (need matplotlib). "
                   "Default build/plot-KIND[-CONFIG...].svg.")
@set_option
def plot(configs: tuple[str, ...], kind: str, out: str | None, sets: tuple[str, ...]) -> None:
    """Draw part (d)'s or part (e)'s chart on its own (default configs: GPT-2 small to XL / gpt2-xl)."""
    from pathlib import Path

    from .. import api

    overrides = api.parse_overrides(sets)
    loaded = api.load_configs(configs, overrides)
    path = Path(out) if out else Path("build") / f"{api.file_stem(f'plot-{kind}', loaded, overrides)}.svg"
    replaced = path.exists()
    api.write_plot(kind, loaded, overrides, path)
    click.echo(f"wrote {api.escape_terminal(str(path))}" + (" (replaced the file of that name)" if replaced else ""))
