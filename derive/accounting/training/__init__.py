"""Training accounting: backward FLOPs per matmul, activations kept for backward, AdamW state and FLOPs,
the largest batch that fits a budget, and training time (`derive train`, the adamw-accounting sheet); at scale,
precision ledgers, parallelism (data with ZeRO, tensor with sequence, pipeline, expert), per-device memory by
pipeline stage, the fewest devices, FLOP conventions and MFU (`derive train` options, the training-at-scale sheet)."""
