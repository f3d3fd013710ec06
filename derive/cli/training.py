"""`derive train`: training memory, the largest batch, step FLOPs and time."""

from __future__ import annotations

import click

from .base import _echo_json, json_option, main, set_option


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
    from .. import api

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
