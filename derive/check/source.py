"""Reading the document to check, safely: a regular file or standard input, never more than MAX_BYTES.

A FIFO would block forever and /dev/zero never ends, so only regular files are opened (checked with
os.stat before opening, and again with fstat on the opened descriptor, so a path swapped in between is
caught too), and at most MAX_BYTES + 1 bytes are ever read, from a file or from standard input.
"""

from __future__ import annotations

import os
import stat
import sys

from ..errors import UsageError

MAX_BYTES = 20 * 1000 * 1000  # 20 MB: far beyond any hand derivation, small enough to check in seconds


def shown(file: str) -> str:
    """A file name for a one-line message: control characters (a newline in a name) escaped, long names cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in file)
    return text if len(text) <= 300 else text[:297] + "..."


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _decode(data: bytes, file: str) -> str:
    if len(data) > MAX_BYTES:
        raise UsageError(f"{shown(file)}: larger than {MAX_BYTES // 1_000_000} MB; derive check reads documents up to that")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{shown(file)}: not UTF-8 text (byte {exc.start})") from None


def read_document(file: str) -> str:
    """The document's text; `-` is standard input. UsageError (one line, exit 2) for anything else."""
    if file == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            data = sys.stdin.read(MAX_BYTES + 1)
            return _decode(data.encode("utf-8") if isinstance(data, str) else data, "<stdin>")
        return _decode(stream.read(MAX_BYTES + 1), "<stdin>")
    try:
        info = os.stat(file)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{shown(file)}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{shown(file)}: {_kind(info.st_mode)}, not a document (derive check reads regular files "
                         f"or standard input, -)")
    if info.st_size > MAX_BYTES:
        raise UsageError(f"{shown(file)}: {info.st_size:,} bytes, larger than {MAX_BYTES // 1_000_000} MB; derive check "
                         f"reads documents up to that")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(file, flags)
    except OSError as exc:
        raise UsageError(f"{shown(file)}: cannot read: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{shown(file)}: not a regular file")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UsageError(f"{shown(file)}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return _decode(b"".join(chunks), file)
