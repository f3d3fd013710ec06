"""`derive infer`: KV cache, prefill and decode FLOPs, bytes moved and rooflines, and what fits a memory budget."""

from __future__ import annotations

import click

from .base import _echo_json, json_option, main, set_option


@main.command()
@click.argument("config", metavar="CONFIG")
@click.option("--prompt", type=int, default=None,
              help="Prompt tokens per sequence, N (default 512, or half the context length if it is shorter "
                   "than 1,024).")
@click.option("--generate", type=int, default=None,
              help="Tokens generated per sequence, M: prefill gives the first, M - 1 decode steps the rest "
                   "(default 512, or the rest of a short context).")
@click.option("--batch", type=int, default=1, show_default=True, help="Sequences decoded together, B.")
@click.option("--dtype", default="bf16", show_default=True, help="Number format of the weights: fp32, bf16, fp16, "
              "fp8 (also picks the hardware entry's peak).")
@click.option("--kv-dtype", default=None, help="Number format of the KV cache (default: --dtype).")
@click.option("--hardware", default=None, help="Accelerator from configs/hardware.yaml: a key (h100-bf16) or a "
              "name completed by --dtype (h100, a100, h200, b200, mi300x). Default: h100.")
@click.option("--peak-flops", default=None, metavar="F", help="Peak FLOP/s instead of the hardware's (e.g. 312e12).")
@click.option("--bandwidth", default=None, metavar="BYTES/S",
              help="Memory bandwidth in bytes/s instead of the hardware's (e.g. 1.5e12).")
@click.option("--budget", default=None, help="Memory for weights and KV cache: 80GB (10^9 bytes) or 80GiB (2^30). "
              "Default: the accelerator's memory.")
@click.option("--sheet", "write_sheet", is_flag=True,
              help="Also write the inference-accounting sheet for these options into --out.")
@click.option("--format", "fmt", type=click.Choice(["md", "tex", "html", "all"]), default="all", show_default=True,
              help="Formats of the sheet written with --sheet.")
@click.option("--out", "out_dir", default="build", show_default=True, type=click.Path(file_okay=False),
              help="Directory the sheet is written into (with --sheet).")
@set_option
@json_option
def infer(config: str, prompt: int | None, generate: int | None, batch: int, dtype: str, kv_dtype: str | None,
          hardware: str | None, peak_flops: str | None, bandwidth: str | None, budget: str | None,
          write_sheet: bool, fmt: str, out_dir: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Inference accounting of CONFIG for a batch of sequences of --prompt tokens generating --generate tokens:
    KV cache bytes per token and in total, prefill and decode FLOPs (each step and all of them, as closed forms),
    bytes moved, arithmetic intensity and roofline time bounds, the batch size where decode turns compute-bound,
    and the most tokens and requests that fit --budget beside the weights."""
    from .. import api

    options = {"prompt": prompt, "generate": generate, "batch_size": batch, "dtype": dtype, "kv_dtype": kv_dtype,
               "hardware": hardware, "peak_flops": peak_flops, "bandwidth": bandwidth, "budget": budget}
    cfg = api.load_config(config, api.parse_overrides(sets))
    acc = api.infer_account(cfg, **options)
    written = None
    if write_sheet:
        written = api.write_inference_sheet([cfg], options, None if fmt == "all" else (fmt,), out_dir)
    if as_json:
        _echo_json(api.infer_report(acc))
    else:
        click.echo(api.infer_text(acc), nl=False)
        if api.defaults_line(cfg):
            click.echo(api.defaults_line(cfg))
    for path in written or ():
        note = " (replaced the file of that name)" if path in written.replaced else ""
        click.echo(f"wrote {api.escape_terminal(str(path))}{note}", err=as_json)
