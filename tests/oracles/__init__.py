"""Independent oracles (PyTorch / transformers models on the meta device) that derive is checked against."""
