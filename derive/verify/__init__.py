"""`derive verify`: the derivation against PyTorch models built on the meta device (reference.py: derive's own
model of the assignment architecture; compare.py: transformers models for the others). Imports torch and
transformers only inside functions."""
