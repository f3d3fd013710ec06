"""The command group and what every command shares: failures as exit statuses, common options, output.

Heavy imports (sympy, jinja2) happen inside commands only; derive.cli imports nothing of derive but api and
errors."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import click

from .. import __version__
from ..errors import FAILURES, UsageError, failure, silence_stdout

CONFIG_HELP = "a preset name (gpt2-xl), a YAML file, or a Hugging Face config.json"


class DeriveCommand(click.Command):
    """A derive command: an empty option or argument value (`--hardware ''`) is an error, never the default."""

    def invoke(self, ctx: click.Context) -> Any:
        for param in self.params:
            value = ctx.params.get(param.name or "")
            if not getattr(param, "is_flag", False) and any(
                    isinstance(v, str) and not v.strip() for v in (value if isinstance(value, tuple) else (value,))):
                name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name.strip("[]. ")
                raise UsageError(f"{name}: empty value (leave the option out for its default)")
        return super().invoke(ctx)


class DeriveGroup(click.Group):
    """The one place where failures become exit statuses without a traceback (policy: errors.failure):
    a DeriveError is one line and exit 2 (1 for a found mismatch); a broken pipe exits 141 quietly; Ctrl-C
    exits 130; an unexpected OSError (disk full, /dev/full), RecursionError, ValueError, OverflowError or
    MemoryError is one line and exit 2."""

    command_class = DeriveCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                if sys.stdout is not None and not sys.stdout.closed:
                    sys.stdout.flush()  # inside the try: a failing final write is handled here too
        except FAILURES as exc:
            code, message = failure(exc)
            if message is None:
                silence_stdout()
            else:
                with contextlib.suppress(OSError):  # standard error closed as well: the status still says it
                    click.echo(f"derive: error: {message}", err=True)
            ctx.exit(code)


def set_option(f):
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                        help="Override a config value (repeatable), e.g. --set context_length=16384.")(f)


def shape_options(f):
    """--seq-len and --batch: the shape of the input a FLOP count is for."""
    f = click.option("--batch", type=int, default=1, show_default=True, help="Sequences per batch.")(f)
    return click.option("--seq-len", type=int, default=None,
                        help="Tokens per sequence (default: context_length).")(f)


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


def _emit(text: str, out: str | None) -> None:
    """Print to stdout, or write OUT atomically."""
    from pathlib import Path

    from .. import api

    if out is None:
        click.echo(text, nl=False)
    else:
        api.write_atomic(Path(out), text)
        click.echo(f"wrote {out}")
