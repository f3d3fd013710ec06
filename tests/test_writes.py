"""derive.render.output.write_all: all files or none, permissions under the umask, no temporary file left
behind (also after SIGTERM and SIGINT, and after a SIGKILL by the next run)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from derive.errors import RenderError
from derive.render import output
from derive.render.output import remove_stale_temps, write_all, write_atomic


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".derive-" in p.name)


def test_all_files_written(tmp_path: Path) -> None:
    write_all([(tmp_path / "a.md", "new a"), (tmp_path / "sub" / "b.tex", b"new b"),
               (tmp_path / "c.csv", iter(["1,", "2\n"]))])
    assert (tmp_path / "a.md").read_text() == "new a"
    assert (tmp_path / "sub" / "b.tex").read_bytes() == b"new b"
    assert (tmp_path / "c.csv").read_text() == "1,2\n"
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_a_failed_rename_restores_every_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 failing: int) -> None:
    """The n-th rename fails (as if its target became a directory meanwhile): the renames before it are
    rolled back, so every target keeps its old content; files that did not exist stay absent."""
    (tmp_path / "a.md").write_text("old a")
    (tmp_path / "c.svg").write_text("old c")
    files = [(tmp_path / "a.md", "new a"), (tmp_path / "b.tex", "new b"), (tmp_path / "c.svg", "new c")]
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == failing and str(src).endswith(".tmp"):
            raise OSError(21, "Is a directory", str(dst))
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", replace)
    with pytest.raises(RenderError, match="Is a directory"):
        write_all(files)
    assert (tmp_path / "a.md").read_text() == "old a"
    assert not (tmp_path / "b.tex").exists()
    assert (tmp_path / "c.svg").read_text() == "old c"
    assert _temps(tmp_path) == []


def test_a_failing_stream_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("old")

    def rows():
        yield "first block\n"
        raise ValueError("the computation failed half-way")

    with pytest.raises(ValueError, match="half-way"):
        write_all([(tmp_path / "a.md", "new"), (tmp_path / "rows.csv", rows())])
    assert (tmp_path / "a.md").read_text() == "old"
    assert not (tmp_path / "rows.csv").exists() and _temps(tmp_path) == []


def test_folders_created_for_a_failed_write_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(RenderError, match="No space left"):
        write_all([(tmp_path / "new" / "deeper" / "a.md", "x")])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_umask_permissions(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.md", "x")
        write_all([(tmp_path / "b.md", "x"), (tmp_path / "c.tex", "y")])
    finally:
        os.umask(old)
    for name in ("a.md", "b.md", "c.tex"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("old")
    os.chmod(tmp_path / "a.md", 0o640)
    write_atomic(tmp_path / "a.md", "new")
    assert stat.S_IMODE((tmp_path / "a.md").stat().st_mode) == 0o640


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("old")
    (tmp_path / "link.md").symlink_to(tmp_path / "real.md")
    write_atomic(tmp_path / "link.md", "new")
    assert (tmp_path / "link.md").is_symlink() and (tmp_path / "real.md").read_text() == "new"


def test_special_files_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(RenderError, match="FIFO"):
        write_all([(tmp_path / "a.md", "x"), (tmp_path / "pipe", "y")])
    (tmp_path / "folder").mkdir()
    with pytest.raises(RenderError, match="directory"):
        write_all([(tmp_path / "a.md", "x"), (tmp_path / "folder", "y")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]


def test_stale_temporary_files_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".a.md.derive-4194399-0123abcd.tmp"  # above Linux's largest pid: no such process
    alive = tmp_path / f".a.md.derive-{os.getppid()}-89abcdef.tmp"  # a running process, recent
    old_alive = tmp_path / f".b.md.derive-{os.getppid()}-00000000.bak"
    foreign = tmp_path / ".a.md.other-4194399-0123abcd.tmp"  # not derive's naming: never touched
    for p in (dead, alive, old_alive, foreign):
        p.write_text("partial")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old_alive, (two_days_ago, two_days_ago))
    write_atomic(tmp_path / "z.md", "x")  # any write into the folder cleans up
    assert not dead.exists() and not old_alive.exists()
    assert alive.exists() and foreign.exists()
    assert remove_stale_temps(tmp_path) == []


SCRIPT = """
import os, signal, sys
from pathlib import Path
from derive.render.output import write_all

# A process started in the background by a non-interactive shell inherits SIGINT ignored (and Python then leaves it
# ignored); derive never takes over an ignored signal, so give this process the disposition a terminal gives it.
signal.signal(signal.SIGINT, signal.default_int_handler)

out = Path(sys.argv[1])
(out / "a.md").write_text("old")

def rows():
    yield "x" * 1000
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    yield "never written"

write_all([(out / "a.md", "new"), (out / "b.csv", rows())])
print("not reached")
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_while_writing_removes_the_temporary_files(tmp_path: Path, sig: str) -> None:
    """The process still ends by the signal, after the clean-up (SIGINT raises KeyboardInterrupt first, which
    Python turns into the signal's status when nothing catches it)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), str(tmp_path), sig],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -getattr(signal, sig), proc.stderr
    assert "not reached" not in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
    assert (tmp_path / "a.md").read_text() == "old"


def test_signal_handlers_are_restored(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    write_all([(tmp_path / "a.md", "x")])
    assert {s: signal.getsignal(s) for s in before} == before


def test_sigint_in_the_cli_exits_130_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from derive import api
    from derive.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "account", interrupted)
    result = CliRunner().invoke(main, ["params", "gpt2-xl"])
    assert result.exit_code == 130 and result.output == ""
