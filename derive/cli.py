"""The thin click shell around derive.api. Heavy imports (sympy, jinja2) happen inside commands only."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import click

from . import __version__
from .errors import FAILURES, UsageError, failure, silence_stdout

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


@main.command()
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
def sheet(configs: tuple[str, ...], sheet_name: str, fmt: str, out_dir: str, sets: tuple[str, ...],
          fragment: bool = False, template: str | None = None, window: str = "full") -> None:
    """Render an answer sheet (Markdown with SVG charts, LaTeX, HTML with MathML) into OUT.

    With no CONFIG, the default sheet: the transformer-accounting problem for the GPT-2 XL shape, with
    GPT-2 small to XL compared in part (d). CONFIG is a preset name (gpt2-xl) or a YAML file; with several,
    the first is the subject of parts (a)-(c) and (e) and all are compared in part (d). File names carry the
    configs and any --set overrides, so runs with different inputs do not replace each other's files.
    """
    from . import api

    overrides = api.parse_overrides(sets)
    loaded = api.load_configs(configs, overrides)
    if sheet_name is None:
        sheet_name = api.default_sheet_for(loaded)
    if template is not None:
        written = api.write_template(template, sheet_name, loaded, overrides, out_dir, fmt)
    else:
        formats = None if fmt == "all" else (fmt,)
        written = api.write_sheets(sheet_name, loaded, overrides, formats, out_dir, fragment=fragment,
                                   window=window)
    for path in written:
        note = " (replaced the file of that name)" if path in written.replaced else ""
        click.echo(f"wrote {api.escape_terminal(str(path))}{note}")


@main.command()
@click.argument("config", metavar="CONFIG")
@set_option
@json_option
def params(config: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Trainable parameters (per matrix, per block, total), buffers and weight memory of CONFIG."""
    from . import api

    acc = api.account(api.load_config(config, api.parse_overrides(sets)))
    report = api.params_report(acc)
    if as_json:
        _echo_json(report)
        return
    click.echo(f"{api.escape_terminal(acc.config.name)}: trainable parameters\n")
    click.echo(api.table_text(api.tree_lines(acc.params)))
    if acc.active_params is not None:
        click.echo(f"\nactive parameters per token ({api.active_summary(acc)}): {acc.active_params.value:,}")
    click.echo(f"\nnon-trainable buffers (not counted): {acc.buffers.value:,}")
    if api.defaults_line(acc.config):
        click.echo(api.defaults_line(acc.config))
    for dtype, n in report["memory_bytes"].items():
        size = api.bytes_summary(n)
        click.echo(f"weights in {dtype}: {size['bytes']} bytes = {size['gb']} GB = {size['gib']} GiB")


@main.command()
@click.argument("config", metavar="CONFIG")
@shape_options
@set_option
@json_option
@click.option("--window", type=click.Choice(["full", "band"]), default="full", show_default=True,
              help="Sliding-window layers: full (the S x S square the reference multiplies, what FlopCounterMode "
                   "counts) or band (only the query-key pairs inside the window).")
def flops(config: str, seq_len: int | None, batch: int, sets: tuple[str, ...], as_json: bool,
          window: str = "full") -> None:
    """Forward-pass matmul FLOPs of CONFIG, per matmul, per block and in total."""
    from . import api

    acc = api.account(api.load_config(config, api.parse_overrides(sets)), batch, seq_len, window=window)
    if as_json:
        _echo_json(api.flops_report(acc))
        return
    click.echo(f"{api.escape_terminal(acc.config.name)}: forward matmul FLOPs, batch_size {acc.batch_size}, "
               f"seq_len {acc.seq_len:,}\n")
    click.echo(api.table_text(api.tree_lines(acc.forward)))
    click.echo("")
    for g, v in acc.groups.items():
        click.echo(f"{acc.group_label(g)}: {v:,} ({float(acc.shares[g]) * 100:.1f}%)")
    if api.window_line(acc):
        click.echo(f"\n{api.window_line(acc)}")


@main.command()
@click.argument("config", metavar="CONFIG")
@click.option("--batch", type=int, default=None, help="Sequences per batch (default: the problem's 1,024).")
@click.option("--budget", default=None, help="Memory budget for the largest batch: 80GB (10^9) or 80GiB (2^30).")
@click.option("--steps", type=int, default=None, help="Training steps (default: the problem's 400,000).")
@click.option("--hardware", default=None, help="Accelerator from configs/hardware.yaml (default: a100-fp32).")
@click.option("--mfu", default=None, help="Model FLOPs utilization in (0, 1] (default: 0.5).")
@click.option("--activations", "activation_set", default="problem", show_default=True,
              help="Activation set counted for memory: problem or full.")
@click.option("--backward", type=click.Choice(["exact", "2x-forward"]), default="exact", show_default=True,
              help="Backward FLOPs: derived per matmul, or 2 x forward.")
@click.option("--causal/--no-causal", default=False, show_default=True,
              help="Count attention score matmuls as half the square.")
@click.option("--recompute", type=click.Choice(["none", "full"]), default="none", show_default=True,
              help="Activation recomputation.")
@set_option
@json_option
def train(config: str, batch: int | None, budget: str | None, steps: int | None, hardware: str | None,
          mfu: str | None, activation_set: str, backward: str, causal: bool, recompute: str,
          sets: tuple[str, ...], as_json: bool) -> None:
    """Training accounting of CONFIG with AdamW in fp32: memory = a * batch + b, the largest batch that fits,
    FLOPs of a training step and the training time."""
    from . import api

    conv = api.training_conventions(backward=backward, causal=causal, recompute=recompute,
                                    activations=activation_set)
    t = api.train_account(api.load_config(config, api.parse_overrides(sets)), batch_size=batch, steps=steps,
                          budget=budget, hardware=hardware, mfu=mfu, conventions=conv)
    report = api.training_report(t)
    if as_json:
        _echo_json(report)
        return
    mem = report["memory"]
    click.echo(f"{api.escape_terminal(t.config.name)}: training with AdamW, fp32, batch_size {t.batch_size:,}, "
               f"seq_len {t.seq_len:,}")
    for line in conv.lines():
        click.echo(f"  convention: {line}")
    click.echo(f"memory = {mem['per_example_bytes']:,} * batch_size + {mem['fixed_bytes']:,} bytes")
    click.echo(f"largest batch in {t.budget.text} ({t.budget.bytes:,} bytes): {report['max_batch_size']:,}")
    click.echo(f"forward FLOPs:     {report['forward_flops']:,}")
    click.echo(f"backward FLOPs:    {report['backward_flops']:,}")
    if report["recompute_flops"]:
        click.echo(f"recompute FLOPs:   {report['recompute_flops']:,}")
    click.echo(f"step FLOPs:        {report['step_flops']:,}")
    click.echo(f"AdamW FLOPs:       {report['optimizer_flops']:,}")
    for key, value in report["approximations"].items():
        click.echo(f"{key + ' estimate:':<19}{value:,}")
    click.echo(f"time: {t.steps:,} steps on {t.hardware.key} at {float(t.mfu):.0%} MFU = "
               f"{report['seconds']:,.0f} s = {report['days']:,.2f} days")


def _emit(text: str, out: str | None) -> None:
    """Print to stdout, or write OUT atomically."""
    from pathlib import Path

    from . import api

    if out is None:
        click.echo(text, nl=False)
    else:
        api.write_atomic(Path(out), text)
        click.echo(f"wrote {out}")


@main.command()
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG ...")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "tex"]), default="md", show_default=True)
@click.option("--columns", default=None, metavar="KEY,KEY,...",
              help="Columns to show (default: model,params,memory_fp32,memory_bf16,forward_flops,"
                   "forward_flops_per_token,attention_share).")
@click.option("--fragment", is_flag=True, help="LaTeX tabular only (macros provided), for \\input{}.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Write to this file.")
@set_option
def table(configs: tuple[str, ...], fmt: str, columns: str | None, fragment: bool, out: str | None,
          sets: tuple[str, ...]) -> None:
    """One row per model: parameters, weight memory, forward FLOPs per sequence and per token, shares.

    Each CONFIG is a preset name (gpt2-xl), a YAML file, or a Hugging Face config.json.
    """
    from . import api

    accs = [api.account(c) for c in api.load_configs(configs, api.parse_overrides(sets))]
    _emit(api.render_table(accs, fmt, columns, fragment), out)


@main.command()
@click.argument("config", metavar="CONFIG")
@click.argument("quantity", metavar="QUANTITY")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "tex"]), default="text", show_default=True)
@click.option("--numbers", is_flag=True, help="Also show the formula with the config's numbers.")
@shape_options
@set_option
def formula(config: str, quantity: str, fmt: str, numbers: bool, seq_len: int | None, batch: int,
            sets: tuple[str, ...]) -> None:
    """The closed form of QUANTITY (params, forward_flops, memory_fp32, ...) for CONFIG."""
    from . import api

    acc = api.account(api.load_config(config, api.parse_overrides(sets)), batch, seq_len)
    click.echo(api.render_formula(acc, quantity, fmt, numbers), nl=False)


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

    from . import api

    overrides = api.parse_overrides(sets)
    loaded = api.load_configs(configs, overrides)
    path = Path(out) if out else Path("build") / f"{api.file_stem(f'plot-{kind}', loaded, overrides)}.svg"
    replaced = path.exists()
    api.write_plot(kind, loaded, overrides, path)
    click.echo(f"wrote {api.escape_terminal(str(path))}" + (" (replaced the file of that name)" if replaced else ""))


@main.command()
@click.argument("config", metavar="CONFIG")
@shape_options
@set_option
@json_option
def verify(config: str, seq_len: int | None, batch: int, sets: tuple[str, ...], as_json: bool) -> None:
    """Build CONFIG on PyTorch's meta device and compare its parameters and forward FLOPs with the derivation.

    The assignment architecture uses derive's own PyTorch model; other architectures use transformers: the
    config.json's own model type, or the first of the 20 supported types whose options are exactly the config's.
    Exit status 1 on a mismatch. Needs torch and transformers: pip install 'torch==2.13.0' 'transformers==5.24.0'
    (or, from derive's checkout, pip install '.[verify]')."""
    from . import api

    acc = api.account(api.load_config(config, api.parse_overrides(sets)), batch, seq_len)
    result = api.verify(acc)
    if as_json:
        _echo_json({"config": result.config, "reference": result.reference, "batch_size": result.batch_size,
                    "seq_len": result.seq_len, "ok": result.ok,
                    "rows": [{"what": r.label, "derive": r.derived, "reference": r.reference, "ok": r.ok}
                             for r in result.rows]})
    else:  # line by line: a control character in a config name is shown, never sent to the terminal
        click.echo("\n".join(api.escape_terminal(line) for line in api.verify_text(result).split("\n")))
    if not result.ok:
        sys.exit(1)


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
    from .errors import UsageError

    try:
        with open(file, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    report = api.check_document(text, file, config)
    if as_json:
        _echo_json(api.check_report_json(report))
    else:
        click.echo(api.check_report_text(report, fmt), nl=False)
    sys.exit(report.exit_code)


@main.command()
@click.argument("config", metavar="CONFIG")
@click.option("--vary", "varies", multiple=True, metavar="KEY=SPEC",
              help="A key and its values: START:STOP:STEP (stop included) or V1,V2,... (repeatable). "
                   "Keys: the config's integer keys, batch_size (default 1), seq_len (default: context_length), "
                   "num_kv_heads, n_experts, experts_per_token.")
@click.option("--quantities", "quantity_spec", default="params,forward_flops", show_default=True,
              help="Comma-separated quantities: params, active_params, buffers, memory_fp32, memory_bf16, "
                   "forward_flops, forward_backward_flops, flops_per_token, ffn_flops, ... (an unknown name "
                   "lists them all).")
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
    by num_heads, seq_len > context_length, ...) are listed with a reason in the `invalid` column.
    """
    from . import api

    base = api.load_config(config, api.parse_overrides(sets))
    plan = api.sweep_plan(base, varies, quantity_spec)  # rows are computed and written block by block
    pieces = api.sweep_pieces(plan, fmt)
    if out_file is None:
        for piece in pieces:
            click.echo(piece, nl=False)
        return
    from pathlib import Path

    api.write_atomic(Path(out_file), pieces)
    click.echo(f"wrote {out_file}: {plan.size:,} combinations, {plan.invalid_count:,} invalid; "
               + "; ".join(api.sweep_arithmetic(plan)))


@main.command()
@click.argument("config", metavar="CONFIG")
@shape_options
@click.option("--tokens-per-second", default=None, metavar="X",
              help="Measured training throughput, all devices together (e.g. 238.3e3): print each convention's MFU.")
@click.option("--hardware", default=None, help="Accelerator for MFU, from configs/hardware.yaml (e.g. a100-bf16).")
@click.option("--peak-flops", default=None, metavar="F", help="Peak FLOP/s per device for MFU (e.g. 275e12), "
              "instead of --hardware.")
@click.option("--devices", type=int, default=1, show_default=True, help="Devices the throughput was measured on.")
@set_option
@json_option
def conventions(config: str, seq_len: int | None, batch: int, tokens_per_second: str | None, hardware: str | None,
                peak_flops: str | None, devices: int, sets: tuple[str, ...], as_json: bool) -> None:
    """Published FLOP estimates (6N, Kaplan, Chinchilla, PaLM, Megatron, nanoGPT, torchtitan, MaxText) of CONFIG
    beside derive's exact count, with each difference as a closed form and, given a throughput, each MFU."""
    from . import api

    acc = api.conventions_account(api.load_config(config, api.parse_overrides(sets)), batch, seq_len,
                                  tokens_per_second=tokens_per_second, hardware=hardware, peak_flops=peak_flops,
                                  devices=devices)
    if as_json:
        _echo_json(api.conventions_report(acc))
    else:
        click.echo(api.conventions_text(acc), nl=False)


@main.command()
@click.argument("configs", nargs=-1, metavar="[CONFIG ...]")
@click.option("--sheet", "sheet_name", default=None, help="The sheet whose context to show (default as for sheet).")
@set_option
@json_option
def context(configs: tuple[str, ...], sheet_name: str | None, sets: tuple[str, ...], as_json: bool) -> None:
    """The context a template given to `derive sheet --template` gets: accounting (the first CONFIG), accountings,
    configs, conventions. With --json, all of it (exact integers, evaluated trees with each node's value and
    formula); otherwise one line per value, as template expressions."""
    from . import api

    overrides = api.parse_overrides(sets)
    loaded = api.load_configs(configs, overrides)
    data = api.template_context(sheet_name or api.default_sheet_for(loaded), loaded, overrides)
    if as_json:
        _echo_json(data)
        return
    for key, value in api.context_lines(data):
        click.echo(f"{api.escape_terminal(key)} = {api.escape_terminal(value)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
