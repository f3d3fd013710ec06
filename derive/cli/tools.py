"""Commands that compare: `derive verify` against PyTorch, `derive check` of a hand derivation, sweeps."""

from __future__ import annotations

import sys

import click

from .base import CONFIG_HELP, _echo_json, json_option, main, set_option, shape_options


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
    from .. import api

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
@click.argument("file", metavar="FILE|-")
@click.option("--config", "config", default=None, help=f"The model the document is about: {CONFIG_HELP}. "
              "Default: the configuration the document gives (a listing `vocab_size : 50,257`, an inline listing, "
              "stated assumptions, or a model's name).")
@set_option
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True,
              help="Report format.")
@json_option
def check(file: str, config: str | None, sets: tuple[str, ...], fmt: str, as_json: bool) -> None:
    """Check a hand derivation FILE (Markdown, plain text or LaTeX; `-` reads standard input).

    Every numeric claim is found (chains, prose, tables, LaTeX math, formulas) and explained by its value:
    any node of the parameter, FLOP and memory trees, groups of them, training quantities, or a known
    pitfall. Exit 0 when every claim found is explained and right (claims not understood are listed),
    1 when a claim is wrong, 2 on bad input.
    """
    from .. import api

    text = api.read_document(file)
    report = api.check_document(text, file, config, api.parse_overrides(sets))
    if as_json or fmt == "json":
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
    from .. import api

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
