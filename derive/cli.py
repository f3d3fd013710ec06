"""The thin click shell around derive.api. Heavy imports (sympy, jinja2) happen inside commands only."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import __version__
from .errors import DeriveError

CONFIG_HELP = "a preset name (gpt2-xl), a YAML file, or a Hugging Face config.json"


class DeriveGroup(click.Group):
    """Turns every DeriveError into a one-line message and exit status 2 (1 for a found mismatch)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DeriveError as exc:
            click.echo(f"derive: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def set_option(f):
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                        help="Override a config value (repeatable), e.g. --set context_length=16384.")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (integers stay exact).")(f)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


@click.group(cls=DeriveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="derive")
def main() -> None:
    """Symbolic resource accounting for Transformer language models.

    Parameters, memory and matmul FLOPs derived as sympy expressions, substituted exactly, and rendered
    as answer sheets that show every step.
    """


@main.command()
@click.argument("configs", nargs=-1, metavar="[CONFIG ...]")
@click.option("--sheet", "sheet_name", default="transformer-accounting", show_default=True,
              help="Which answer sheet to render.")
@click.option("--format", "fmt", type=click.Choice(["md", "tex", "all"]), default="all", show_default=True,
              help="Output format.")
@click.option("--out", "out_dir", default="build", show_default=True, type=click.Path(file_okay=False),
              help="Directory the sheet is written into.")
@set_option
def sheet(configs: tuple[str, ...], sheet_name: str, fmt: str, out_dir: str, sets: tuple[str, ...]) -> None:
    """Render an answer sheet (Markdown and/or LaTeX) into OUT.

    With no CONFIG, the default sheet: the transformer-accounting problem for the GPT-2 XL shape, with
    GPT-2 small to XL compared in part (d). CONFIG is a preset name (gpt2-xl) or a YAML file; with several,
    the first is the subject of parts (a)-(c) and (e) and all are compared in part (d).
    """
    from . import api

    overrides = api.parse_overrides(sets)
    loaded = api.load_configs(configs, overrides)
    formats = ("md", "tex") if fmt == "all" else (fmt,)
    for path in api.write_sheets(sheet_name, loaded, overrides, formats, out_dir):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("config", metavar="CONFIG")
@set_option
@json_option
def params(config: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Trainable parameters (per matrix, per block, total), buffers and weight memory of CONFIG."""
    from . import api
    from .formatting import fmt_decimal, GB, GIB

    acc = api.account(api.load_config(config, api.parse_overrides(sets)))
    report = api.params_report(acc)
    if as_json:
        _echo_json(report)
        return
    click.echo(f"{acc.config.name}: trainable parameters\n")
    click.echo(api.table_text(api.tree_lines(acc.params)))
    click.echo(f"\nnon-trainable buffers (not counted): {acc.buffers.value:,}")
    for dtype, n in report["memory_bytes"].items():
        click.echo(f"weights in {dtype}: {n:,} bytes = {fmt_decimal(n / GB)} GB = {fmt_decimal(n / GIB)} GiB")


@main.command()
@click.argument("config", metavar="CONFIG")
@click.option("--seq-len", type=int, default=None, help="Tokens per sequence (default: context_length).")
@click.option("--batch", type=int, default=1, show_default=True, help="Sequences per batch.")
@set_option
@json_option
def flops(config: str, seq_len: int | None, batch: int, sets: tuple[str, ...], as_json: bool) -> None:
    """Forward-pass matmul FLOPs of CONFIG, per matmul, per block and in total."""
    from . import api

    acc = api.account(api.load_config(config, api.parse_overrides(sets)), batch, seq_len)
    if as_json:
        _echo_json(api.flops_report(acc))
        return
    click.echo(f"{acc.config.name}: forward matmul FLOPs, batch_size {acc.batch_size}, seq_len {acc.seq_len:,}\n")
    click.echo(api.table_text(api.tree_lines(acc.forward)))
    click.echo("")
    for g, v in acc.groups.items():
        click.echo(f"{acc.group_label(g)}: {v:,} ({float(acc.shares[g]) * 100:.1f}%)")


@main.command()
@click.argument("file", metavar="FILE")
@click.option("--config", "config", default=None, help=f"The model the document is about: {CONFIG_HELP}. "
              "Default: the configuration the document lists (`vocab_size : 50,257` ...).")
@click.option("--format", "fmt", type=click.Choice(["text", "md"]), default="text", show_default=True,
              help="Report format.")
@json_option
def check(file: str, config: str | None, fmt: str, as_json: bool) -> None:
    """Check a hand derivation FILE line by line: arithmetic, meaning, known pitfalls.

    Exit 0 when every understood line is right, 1 when something is wrong, 2 on bad input.
    """
    from . import api
    from .check_report import as_json as report_json, as_markdown, as_text
    from .errors import UsageError

    try:
        with open(file, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    report = api.check_document(text, file, config)
    if as_json:
        _echo_json(report_json(report))
    else:
        click.echo(as_markdown(report) if fmt == "md" else as_text(report), nl=False)
    sys.exit(report.exit_code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
