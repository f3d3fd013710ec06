"""Writing outputs: all files of a command or none, never a half-written file, no temporary file left behind.

`write_all([(path, data), ...])` is the one writer every command uses (`write_atomic` is its one-file form):

1. Check every target first: a symbolic link is followed to the file it names; a target that exists and is
   not a regular file (a directory, `/dev/null` or another device, a FIFO, a socket) is refused, so derive
   never replaces a device with a file or writes into a pipe that nobody reads.
2. Stage every file as a temporary file beside its target (`.NAME.derive-PID-XXXXXXXX.tmp`), created with the
   permissions a new file gets under the user's umask (or the mode of the file it replaces), data flushed
   to disk.
3. Rename them into place. If one rename fails, the ones already renamed are rolled back from hard-link
   backups, so either every target holds its new content or every target holds its old one.

SIGTERM, SIGINT and SIGHUP while staging remove the temporary files before the signal takes its usual
effect; during the renames they wait until the renames are done. A run killed outright (SIGKILL, power loss)
may leave temporary files: the next write into the same directory removes those of a process that no longer
runs (or older than a day).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import stat
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..errors import RenderError, label

Data = str | bytes | Iterable[str | bytes]

STALE_SECONDS = 24 * 3600  # a temporary file of a process that still runs is left alone for this long
_TEMP = re.compile(r"^\..*\.derive-(\d+)-[0-9a-f]{8}\.(tmp|bak)$", re.DOTALL)
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))
_KINDS = {stat.S_ISDIR: "a directory", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
          stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISSOCK: "a socket"}


def write_atomic(path: Path, data: Data) -> None:
    """Write one file atomically (write_all with one file)."""
    write_all([(Path(path), data)])


def write_all(files: Sequence[tuple[Path, Data]]) -> None:
    """Write every (path, data) pair or none of them.

    `data` is text (written as UTF-8), bytes, or an iterable of either (streamed: a sweep of millions of
    rows never sits in memory). Raises RenderError (one line, naming the path) when a target is not a
    regular file or cannot be written; every target then keeps its old content (or stays absent). An
    exception raised by a streamed iterable propagates after the same clean-up."""
    targets = [_target(Path(path)) for path, _ in files]
    if len(set(targets)) != len(targets):
        raise ValueError(f"write_all: a target is listed twice: {[str(t) for t in targets]}")
    with _signals_raise():
        created: list[Path] = []
        temps: list[Path] = []
        try:
            for (given, _), final in zip(files, targets):
                # Folders are made for the path as given, never for where a dangling link points.
                created += _make_parent(final) if Path(given) == final else []
            for folder in dict.fromkeys(t.parent for t in targets):
                remove_stale_temps(folder)
            staged = [_stage(final, data, temps) for final, (_, data) in zip(targets, files)]
        except BaseException:
            with _signals_blocked():
                _discard(temps, created)
            raise
        with _signals_blocked():
            try:
                _commit(staged)
            except BaseException:
                _discard(temps, created)
                raise


def _fail(path: Path, exc: OSError, what: str = "cannot write") -> RenderError:
    return RenderError(f"{label(path)}: {what} ({exc.strerror or type(exc).__name__})")


def _target(path: Path) -> Path:
    """The file to replace: `path`, or the file its symbolic link names; refuses anything not a regular file."""
    given, via = path, ""
    try:
        if os.path.islink(path):
            path = Path(os.path.realpath(path))
            via = f" (a link to {label(path)})"
        info = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise RenderError(f"{label(given)}{via}: cannot write ({exc.strerror or type(exc).__name__})") from None
    except ValueError:  # a NUL byte
        raise RenderError(f"{label(given)}: cannot write (the path contains a NUL byte)") from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS.items() if test(info.st_mode)), "not a regular file")
        raise RenderError(f"{label(given)}{via}: is {kind}; derive writes only regular files") from None
    return path


def _make_parent(path: Path) -> list[Path]:
    """Create the missing folders above `path`; returns those created (outermost first), to undo."""
    missing = []
    parent = path.parent
    try:
        while not os.path.lexists(parent):
            missing.append(parent)
            if parent == parent.parent:
                break
            parent = parent.parent
    except (OSError, ValueError):  # os.path.lexists reports no error; kept for other Python versions
        raise RenderError(f"{label(path)}: cannot write (its folder cannot be looked up)") from None
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # made meanwhile by a concurrent run
        except OSError as exc:
            for done in reversed(created):
                with contextlib.suppress(OSError):
                    done.rmdir()
            raise _fail(folder, exc, "cannot create folder") from None
        created.append(folder)
    if not path.parent.is_dir():
        raise RenderError(f"{label(path.parent)}: is not a folder")
    return created


def _temp_name(final: Path, kind: str) -> Path:
    # Keep the name short enough that the temporary name stays under the 255-byte limit of a file name.
    stem = os.fsdecode(os.fsencode(final.name)[:100])
    return final.with_name(f".{stem}.derive-{os.getpid()}-{secrets.token_hex(4)}.{kind}")


def _mode(final: Path) -> int | None:
    """The permission bits of the file `final` replaces (None for a new file: os.open applies the umask)."""
    try:
        return stat.S_IMODE(os.stat(final).st_mode) & 0o777
    except OSError:
        return None


def _chunks(data: Data) -> Iterator[bytes]:
    if isinstance(data, (str, bytes)):
        data = (data,)
    for piece in data:
        yield piece.encode("utf-8") if isinstance(piece, str) else piece


def _stage(final: Path, data: Data, temps: list[Path]) -> tuple[Path, Path]:
    """Write `data` to a new temporary file beside `final`; returns (temporary, final)."""
    tmp = _temp_name(final, "tmp")
    temps.append(tmp)  # registered before it exists, so an interruption at any point removes it
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise _fail(final, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            mode = _mode(final)
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            for piece in _chunks(data):
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise _fail(final, exc) from None
    return tmp, final


def _backup(final: Path) -> Path | None:
    """A hard link (or, where links are not supported, a copy) of the file about to be replaced."""
    if not os.path.lexists(final):
        return None
    backup = _temp_name(final, "bak")
    try:
        os.link(final, backup)
    except OSError:
        try:
            shutil.copy2(final, backup)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(backup)
            raise _fail(final, exc, "cannot keep the old file while replacing it") from None
    return backup


def _commit(staged: list[tuple[Path, Path]]) -> None:
    """Rename every staged file into place; on a failure, put every old file back."""
    done: list[tuple[Path, Path, Path | None]] = []
    try:
        for i, (tmp, final) in enumerate(staged):
            # The last rename needs no backup: if it fails, its target is untouched.
            backup = _backup(final) if i < len(staged) - 1 else None
            done.append((tmp, final, backup))
            _target(final)  # still not a directory or device (another process may have made one)
            try:
                os.replace(tmp, final)
            except OSError as exc:
                raise _fail(final, exc) from None
    except BaseException:
        for tmp, final, backup in reversed(done):
            if os.path.lexists(tmp):
                continue  # never renamed
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, final)
                else:
                    os.unlink(final)
        raise
    finally:
        for _, _, backup in done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(backup)


def _discard(temps: list[Path], created: list[Path]) -> None:
    for tmp in temps:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def remove_stale_temps(folder: Path, now: float | None = None) -> list[Path]:
    """Remove derive's temporary files in `folder` left by runs that were killed: those of a process that no
    longer runs, or older than STALE_SECONDS. Only names derive makes are touched. Returns what was removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            if _running(int(match.group(1))) and now - info.st_mtime < STALE_SECONDS:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


class _Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """While inside: SIGTERM/SIGINT/SIGHUP raise, so the clean-up code runs; on the way out the signal is
    delivered again with its previous handler (SIGTERM then ends the process as it would have)."""
    if not _main_thread():
        yield
        return
    previous = {}
    for sig in _SIGNALS:
        handler = signal.getsignal(sig)
        if handler in (signal.SIG_DFL, signal.default_int_handler):  # never take over an ignored signal
            previous[sig] = handler

    def interrupted(signum: int, frame: object) -> None:
        raise _Interrupted(signum)

    for sig in previous:
        signal.signal(sig, interrupted)
    pending = None
    try:
        yield
    except _Interrupted as exc:
        pending = exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if pending is not None:  # outside the except block: no "during handling of" chain in a traceback
        signal.raise_signal(pending)
        raise KeyboardInterrupt  # only if the previous handler returned


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGTERM/SIGINT/SIGHUP while renaming or cleaning up; they arrive when the block ends."""
    if not _main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
