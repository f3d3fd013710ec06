"""Training accounting: backward FLOPs per matmul, activations kept for backward, AdamW state and FLOPs,
the largest batch that fits a budget, and training time (`derive train`, the adamw-accounting sheet)."""
