"""One exception hierarchy, so the CLI can turn every expected failure into a one-line message.

Also the one place that makes text safe to put in a message: `printable` escapes control characters (so a
newline in a key or a file name cannot break the one-line contract, and an escape sequence cannot reach the
terminal), and `shown` is a bounded repr for values (a value read from a hostile file may be enormous).
"""

from __future__ import annotations

import errno
import io
import math
import os
import re
import reprlib
import sys
from typing import Any


class DeriveError(Exception):
    """Base class: anything derive reports to a user as bad input (exit status 2)."""

    exit_code = 2


class ConfigError(DeriveError):
    """A config (preset, YAML, JSON, --set) is missing, malformed or inconsistent."""

    def __init__(self, source: str, key: str | None, message: str):
        self.source = source
        self.key = key
        where = f"{label(source)}: {label(key)}: " if key else f"{label(source)}: "
        super().__init__(where + message)


class UsageError(DeriveError):
    """An option value that click cannot validate by itself (unknown sheet, bad budget...)."""


class RenderError(DeriveError):
    """A template failed to render or an output could not be written."""


# --- text that is safe in a one-line message -------------------------------------------------------------

# Characters that could break a line, reorder it (bidirectional controls, "Trojan Source") or drive a
# terminal: C0/C1 controls, DEL, line/paragraph separators, lone surrogates and the bidi controls.
UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                          "\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Longest message the CLI prints; values inside messages are bounded much tighter by `shown`.
MAX_MESSAGE = 4000


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every unsafe character escaped (`\\n`, `\\x1b`, `\\u202e`): one line, inert on a terminal.

    Idempotent: escaping an escaped text changes nothing (backslashes are left as they are)."""
    return UNSAFE_CHARS.sub(_escape, text)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the cut marked with ' ... '."""
    if len(text) <= limit:
        return text
    keep = max(limit - 5, 2)
    return text[: keep - keep // 3] + " ... " + text[len(text) - keep // 3:]


def label(text: Any, limit: int = 200) -> str:
    """A file name, key or option as it may appear in a message: printable, at most `limit` characters."""
    return clip(printable(str(text)), limit)


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """A whole message as the CLI prints it: printable and bounded."""
    return clip(printable(message), limit)


def _int_digits(n: int) -> int:
    """Decimal digits of |n| without converting it to a string (Python refuses beyond 4,300 digits)."""
    n = abs(n)
    if n < 10:
        return 1
    guess = int(n.bit_length() * math.log10(2))
    return guess + 1 if n >= 10**guess else guess


class _BoundedRepr(reprlib.Repr):
    """reprlib with tighter bounds, and integers too long to print described by their size."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = 60
        self.maxlong = 40
        self.maxother = 60
        for attr in ("maxdict", "maxlist", "maxtuple", "maxset", "maxfrozenset", "maxdeque", "maxarray"):
            setattr(self, attr, 6)

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 256:  # past ~77 digits: say how big, never convert (it may exceed 4,300 digits)
            return f"<an integer of {_int_digits(x):,} digits>"
        return super().repr_int(x, level)


_REPR = _BoundedRepr()


def shown(value: Any) -> str:
    """A value as a message may quote it: a bounded, one-line repr (strings quoted, long values cut,
    huge integers described by their number of digits). Never builds the value's full repr."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a repr that fails must not turn a clear message into a traceback
        text = f"<{type(value).__name__}>"
    return clip(printable(text), 120)


# --- exit statuses ---------------------------------------------------------------------------------------

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away
EXIT_INTERRUPTED = 130  # 128 + SIGINT
# What the CLI turns into an exit status; anything else is a bug in derive and keeps its traceback.
FAILURES = (DeriveError, KeyboardInterrupt, OSError, RecursionError, ValueError, OverflowError, MemoryError)


def failure(exc: BaseException) -> tuple[int, str | None]:
    """The exit status and one-line message (None: exit quietly) for an exception in FAILURES.

    A DeriveError carries its own status (2 bad input, 1 a found mismatch). Standard output closed by its
    reader (`derive sweep ... | head`) exits 141 without a word, like a process ended by SIGPIPE; Ctrl-C
    exits 130. Other OSErrors (disk full, standard output on /dev/full, a file name over 255 bytes),
    nesting too deep for Python, numbers too long to print and exhausted memory are bad input: exit 2."""
    if isinstance(exc, DeriveError):
        return exc.exit_code, one_line(str(exc))
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, None
    if isinstance(exc, OSError):
        if exc.errno == errno.EPIPE:
            return EXIT_BROKEN_PIPE, None
        reason = exc.strerror or type(exc).__name__
        if exc.filename is not None:
            return 2, one_line(f"{label(exc.filename)}: {reason}")
        silence_stdout()  # a write without a file name is standard output; its last flush would fail again
        return 2, f"cannot write the output: {one_line(reason)}"
    if isinstance(exc, RecursionError):
        return 2, "the input is nested too deeply to process"
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        if "value has" in str(exc):  # reading text: an input number too long
            return 2, "a number in the input has more than 4,300 digits, more than Python reads"
        return 2, "a result has more digits than Python prints (4,300): the config's values are too large"
    if isinstance(exc, MemoryError):
        return 2, "out of memory"
    return 2, one_line(f"{exc} ({type(exc).__name__})")


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so the interpreter's last flush of unwritten output cannot fail
    again (Python would print `Exception ignored ... BrokenPipeError` and exit 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file descriptor (a test's captured output): nothing to protect
