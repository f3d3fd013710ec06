"""Writing outputs: never a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import RenderError


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written output."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RenderError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        if isinstance(data, str):
            data = data.encode("utf-8")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
