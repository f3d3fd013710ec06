"""`python -m derive` runs the CLI."""

from .cli import main

main()
