"""Accounting: a config's numbers substituted into the model's symbolic trees, exactly.

`account.py` evaluates parameters, buffers, weight memory and forward FLOPs for one config; `training/`
derives backward FLOPs, activations, optimizer state and time; `quantities.py` is the one registry of named
closed forms that `derive formula` and `derive sweep` use; `series.py` and `sweep.py` evaluate many configs;
`hardware.py` holds accelerator peaks and memory budgets. Imports only derive.model (and errors/resources).
"""
