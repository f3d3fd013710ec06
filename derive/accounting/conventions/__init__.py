"""Published FLOP conventions beside derive's exact count (`derive conventions`, the conventions sheet).

`facts.py` reads what a convention needs from a Derivation (parameter counts as each source counts them, heads,
head dimension); `registry.py` holds the conventions as data (each formula as its source writes it, split into
terms that name the matmuls they estimate); `reconcile.py` puts each beside the exact forward / backward count
and simplifies the difference; `run.py` substitutes a config, computes MFU from a measured throughput and
builds the JSON report. This package imports nothing from `reconcile`/`run` at import time, so
`training/derivation.py` can read the registry without a cycle.
"""
