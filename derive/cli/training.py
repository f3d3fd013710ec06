"""`derive train`: training memory per device, the largest batch, step FLOPs, time and MFU."""

from __future__ import annotations

import click

from .base import _echo_json, json_option, main, set_option

PRECISIONS = "fp32, bf16, bf16-mixed, fp16-mixed, bf16-mixed-fp32-grads, bf16-mixed-bf16-fp32-grads"


@main.command()
@click.argument("config", metavar="CONFIG")
@click.option("--batch", type=int, default=None,
              help="Sequences per optimizer step, all devices together (default: the problem's 1,024).")
@click.option("--budget", default=None, help="Memory per device for the largest batch and the fewest devices: "
                                             "80GB (10^9) or 80GiB (2^30).")
@click.option("--steps", type=int, default=None, help="Training steps (default: the problem's 400,000).")
@click.option("--hardware", default=None, help="Accelerator from configs/hardware.yaml, or a100, h100, ... completed by the "
                                                "precision's compute dtype (default: a100 at it: a100-fp32 for fp32, "
                                                "a100-bf16 for bf16-mixed).")
@click.option("--mfu", default=None, help="Model FLOPs utilization in (0, 1] (default: 0.5).")
@click.option("--activations", "activation_set", default=None,
              help="Activation set: problem (the handout's list; the default for the assignment architecture on "
                   "one stage without tensor parallelism), problem-swiglu, full (what autograd keeps for the "
                   "reference module; the default otherwise) or korthikanti (Korthikanti et al. 2022).")
@click.option("--backward", type=click.Choice(["exact", "2x-forward"]), default="exact", show_default=True,
              help="Backward FLOPs: derived per matmul, or 2 x forward.")
@click.option("--causal/--no-causal", default=False, show_default=True,
              help="Count attention score matmuls as half the square.")
@click.option("--recompute", default="none", show_default=True,
              help="Activation recomputation: none, selective (the attention core) or full (each block).")
@click.option("--precision", default="fp32", show_default=True, help=f"Bytes per parameter and activation: "
                                                                     f"{PRECISIONS}.")
@click.option("--optimizer", default="adamw", show_default=True,
              help="Optimizer state: adamw, sgd-momentum, sgd or adafactor.")
@click.option("--dp", type=int, default=None, help="Data-parallel degree (default 1).")
@click.option("--zero", type=int, default=None, help="ZeRO stage 0-3: shard optimizer states (1), gradients (2), "
                                                     "weights (3) over --dp.")
@click.option("--tp", type=int, default=1, show_default=True, help="Tensor-parallel degree (Megatron-LM).")
@click.option("--sp", is_flag=True, help="Sequence parallelism (splits the residual-width activations by --tp).")
@click.option("--pp", type=int, default=1, show_default=True, help="Pipeline stages (1F1B schedule).")
@click.option("--ep", type=int, default=1, show_default=True, help="Expert-parallel degree.")
@click.option("--etp", type=int, default=None, help="Expert tensor-parallel degree (default: --tp).")
@click.option("--seq-len", type=int, default=None,
              help="Tokens per training sequence, at most the config's context_length (default: context_length).")
@click.option("--micro-batch", type=int, default=None,
              help="Sequences per micro-batch per device (default: --batch / --dp, or 1 with --pp > 1).")
@click.option("--flops", "flop_convention", default="exact", show_default=True,
              help="FLOPs of a step for time and MFU: exact, or a training convention of `derive conventions` "
                   "(6n, kaplan-6n, chinchilla, palm, nanogpt, megatron, megatron-recompute, torchtitan, maxtext).")
@click.option("--window", default="full", show_default=True,
              help="Sliding-window FLOPs: full (the square the reference multiplies) or band.")
@click.option("--measured-step-time", default=None, help="Measured seconds per step: prints the MFU it means.")
@click.option("--tokens-per-second", default=None, help="Measured tokens per second, all devices: prints the MFU.")
@click.option("--edition", default=None,
              help="Handout edition whose AdamW problem gives the defaults and the model of that name: 2024, 2025 "
                   "(default), 2026 or an edition file.")
@click.option("--sheet", "sheet_format", default=None,
              help="Also write the training-at-scale sheet of this setup: md, tex, html or all.")
@click.option("--out", default="build", show_default=True, help="Directory of the sheet (with --sheet).")
@set_option
@json_option
def train(config: str, batch: int | None, budget: str | None, steps: int | None, hardware: str | None,
          mfu: str | None, activation_set: str | None, backward: str, causal: bool, recompute: str,
          precision: str, optimizer: str, dp: int | None, zero: int | None, tp: int, sp: bool, pp: int, ep: int,
          etp: int | None, micro_batch: int | None, flop_convention: str, window: str,
          measured_step_time: str | None, tokens_per_second: str | None, seq_len: int | None,
          edition: str | None, sheet_format: str | None, out: str,
          sets: tuple[str, ...], as_json: bool) -> None:
    """Training accounting of CONFIG: the homework's AdamW in fp32 by default (memory = a * batch + b, the
    largest batch that fits, step FLOPs and training time), or any architecture at scale: a precision ledger,
    ZeRO over --dp, tensor/sequence/pipeline/expert parallelism and recomputation, per device."""
    from .. import api

    conv = api.training_conventions(backward=backward, causal=causal, recompute=recompute,
                                    activations=activation_set or "")
    setup = api.training_setup(precision=precision, optimizer=optimizer, dp=dp, zero=zero, tp=tp, sp=sp, pp=pp,
                               ep=ep, etp=etp, micro_batch=micro_batch, flops=flop_convention, window=window,
                               measured_step_time=measured_step_time, tokens_per_second=tokens_per_second,
                               seq_len=seq_len)
    overrides = api.parse_overrides(sets)
    # A name the edition defines is its model (2026's gpt2-xl has d_ff 4,288), as in `derive sheet --edition`.
    cfg = api.load_config(config, overrides) if edition is None else api.load_edition(edition).config(config, overrides)
    t = api.train_account(cfg, batch_size=batch, steps=steps, budget=budget, hardware=hardware, mfu=mfu,
                          conventions=conv, setup=setup, edition=edition)
    report = api.training_report(t)
    written = api.write_training_sheet(t, sheet_format, out) if sheet_format is not None else []
    if as_json:
        _echo_json(report)
    else:
        for line in api.train_text(t, report):
            click.echo(line)
    for path in written:
        note = " (replaced the file of that name)" if path in written.replaced else ""
        click.echo(f"wrote {api.escape_terminal(str(path))}{note}", err=as_json)
