"""The thin click shell around derive.api: `main` is the `derive` command group.

base.py holds the group (failures become exit statuses) and the options every command shares; each other
module holds a few commands and registers them on the group when imported. Only derive.api and
derive.errors are imported from the rest of derive, and only inside commands (so `derive --help` is fast).
"""

from __future__ import annotations

import sys

from . import (  # noqa: F401  (each registers its commands on `main`)
    figures,
    inference,  # noqa: F401  (issue 16: derive infer)
    sheets,
    tools,
    training,
)
from .base import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
