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
    GPT-2 small to XL compared in part (d). CONFIG is """ + CONFIG_HELP + "."
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
@click.argument("config", metavar="CONFIG")
@click.option("--vary", "varies", multiple=True, metavar="KEY=SPEC",
              help="A key and its values: START:STOP:STEP (stop included) or V1,V2,... (repeatable). "
                   "Keys: the config's integer keys, batch_size, seq_len (default: context_length).")
@click.option("--quantities", "quantity_spec", default="params,forward_flops", show_default=True,
              help="Comma-separated quantities: params, buffers, forward_flops, flops_per_token, "
                   "memory_fp32, memory_bf16, memory_fp16, and any registered in derive.quantities.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="Output format.")
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False),
              help="Write to this file (atomically) instead of standard output.")
@set_option
def sweep(config: str, varies: tuple[str, ...], quantity_spec: str, fmt: str, out_file: str | None,
          sets: tuple[str, ...]) -> None:
    """Evaluate quantities on every combination of the --vary values around CONFIG.

    Functions are compiled once from the symbolic expressions: numpy int64 where the largest value fits,
    exact Python integers otherwise (the output says which). Invalid combinations (d_model not divisible
    by num_heads, seq_len > context_length) are listed with a reason in the `invalid` column.
    """
    from . import api

    base = api.load_config(config, api.parse_overrides(sets))
    result = api.sweep(base, varies, quantity_spec)
    text = api.sweep_text(result, fmt)
    if out_file is None:
        click.echo(text, nl=False)
        return
    from .render import write_atomic
    from pathlib import Path

    write_atomic(Path(out_file), text)
    click.echo(f"wrote {out_file}: {result.size:,} combinations, {result.invalid_count:,} invalid; "
               + "; ".join(api.sweep_arithmetic(result)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
