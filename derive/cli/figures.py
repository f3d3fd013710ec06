"""Commands that print a model's figures: parameters, FLOPs, closed forms, tables, FLOP conventions."""

from __future__ import annotations

import click

from .base import _echo_json, _emit, json_option, main, set_option, shape_options


@main.command()
@click.argument("config", metavar="CONFIG")
@set_option
@json_option
def params(config: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Trainable parameters (per matrix, per block, total), buffers and weight memory of CONFIG."""
    from .. import api

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
    from .. import api

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
@click.argument("quantity", metavar="QUANTITY")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "tex"]), default="text", show_default=True)
@click.option("--numbers", is_flag=True, help="Also show the formula with the config's numbers.")
@shape_options
@set_option
def formula(config: str, quantity: str, fmt: str, numbers: bool, seq_len: int | None, batch: int,
            sets: tuple[str, ...]) -> None:
    """The closed form of QUANTITY (params, forward_flops, memory_fp32, ...) for CONFIG."""
    from .. import api
    from ..errors import UsageError

    names = api.quantity_names()
    if config in names and quantity not in names:  # `derive formula params gpt2-xl`: the arguments swapped
        raise UsageError(f"{config} is a quantity: the order is CONFIG QUANTITY (derive formula {quantity} {config})")
    acc = api.account(api.load_config(config, api.parse_overrides(sets)), batch, seq_len)
    click.echo(api.render_formula(acc, quantity, fmt, numbers), nl=False)


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
    from .. import api

    accs = [api.account(c) for c in api.load_configs(configs, api.parse_overrides(sets))]
    _emit(api.render_table(accs, fmt, columns, fragment), out)


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
    from .. import api

    acc = api.conventions_account(api.load_config(config, api.parse_overrides(sets)), batch, seq_len,
                                  tokens_per_second=tokens_per_second, hardware=hardware, peak_flops=peak_flops,
                                  devices=devices)
    if as_json:
        _echo_json(api.conventions_report(acc))
    else:
        click.echo(api.conventions_text(acc), nl=False)
