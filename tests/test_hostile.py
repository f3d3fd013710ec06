"""Hostile input and faults, one table: every row is a class of bad input or a fault, run through the CLI.

Each row states the exit status, the words its one-line message must hold (no traceback, the file / option /
key named), and what may be written: nothing (the folder is byte-for-byte as before) or the listed files.
Rows marked `process` run `python -m derive` in a subprocess because they need real file descriptors
(standard output on /dev/full, a pipe its reader closed). No row needs a large input: resource limits are
checked from lengths and counts before anything big exists.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from derive.cli import main

BASE = "vocab_size: 100\ncontext_length: 16\nnum_layers: 2\nd_model: 8\nnum_heads: 2\nd_ff: 16\n"
LLAMA = {"model_type": "llama", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 40,
         "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}
BIG = "1" + "0" * 4999  # 5,000 digits: past Python's 4,300-digit limit for reading an integer
LONG = "a" * 300  # a path component over 255 bytes


def laughs(flow: bool) -> str:
    """A 'billion laughs': nine levels of nine aliases, 9^9 = 387,420,489 leaves from a few hundred bytes."""
    levels = ["&a [x, x, x, x, x, x, x, x, x]"]
    levels += [f"&{c} [" + ", ".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi")]
    if flow:
        return "[" + ", ".join(levels) + "]"
    return "".join(f"l{i}: {lv}\n" for i, lv in enumerate(levels)) + BASE


def device(name: str) -> Callable[[Path], None]:
    """A character device in the row's folder (a /dev/null twin made with mknod as root; a link to /dev/null
    otherwise): a regression then replaces a node in the test folder, never the system's /dev/null."""
    def make(tmp: Path) -> None:
        try:
            os.mknod(tmp / name, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:  # not root: /dev is not writable either, so linking to /dev/null is safe
            os.symlink("/dev/null", tmp / name)
    return make


def mkfifo(name: str) -> Callable[[Path], None]:
    return lambda tmp: os.mkfifo(tmp / name)


def mkdir(*names: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        for name in names:
            (tmp / name).mkdir(parents=True)
    return make


def symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda tmp: os.symlink(target.replace("{tmp}", str(tmp)), tmp / name)


def sparse(name: str, size: int) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        with open(tmp / name, "wb") as fh:
            fh.truncate(size)
    return make


def fail_fsync(after: int = 0) -> Callable[[pytest.MonkeyPatch], None]:
    """The disk fills up: the (after+1)-th file's data cannot be flushed (ENOSPC)."""
    def patch(mp: pytest.MonkeyPatch) -> None:
        calls = []
        real = os.fsync

        def fsync(fd: int) -> None:
            calls.append(fd)
            if len(calls) > after:
                raise OSError(errno.ENOSPC, "No space left on device")
            real(fd)
        mp.setattr(os, "fsync", fsync)
    return patch


@dataclass
class Case:
    id: str
    args: list[str]  # "{tmp}" stands for the row's own folder
    needles: tuple[str, ...] = ()  # every one must be in the one-line message (or the output, for exit 0)
    code: int = 2
    files: dict[str, str | bytes] = field(default_factory=dict)  # written before the run
    setup: Callable[[Path], None] | None = None  # FIFOs, folders, links, sparse files
    patch: Callable[[pytest.MonkeyPatch], None] | None = None  # faults (disk full)
    written: tuple[str, ...] = ()  # files the run must create or change; nothing else may change
    process: str = ""  # "" (CliRunner), "full" (stdout on /dev/full) or "pipe" (reader closes stdout)
    quiet: bool = False  # no message at all
    usage: bool = False  # click's own usage error (Usage: ... Error: ...), fine as it is
    partial: bool = False  # standard output may hold what was printed before the failure


def cfg(**extra: str) -> str:
    return BASE + "".join(f"{k}: {v}\n" for k, v in extra.items())


CASES = [
    # --- 3. outputs onto special files ----------------------------------------------------------------
    Case("out-device", ["table", "gpt2-small", "--out", "{tmp}/null"], ("null", "character device"),
         setup=device("null")),
    Case("out-fifo", ["table", "gpt2-small", "--out", "{tmp}/pipe"], ("pipe", "FIFO"), setup=mkfifo("pipe")),
    Case("out-link-to-device", ["sweep", "gpt2-small", "--out", "{tmp}/link"], ("link", "character device"),
         setup=lambda tmp: (device("null")(tmp), symlink("link", "{tmp}/null")(tmp))),
    Case("out-link-to-file", ["table", "gpt2-small", "--out", "{tmp}/link.md"], ("wrote",), code=0,
         files={"real.md": "old"}, setup=symlink("link.md", "{tmp}/real.md"), written=("real.md",)),
    Case("sheet-target-is-folder", ["sheet", "gpt2-small", "--out", "{tmp}/out"],
         ("transformer-accounting-gpt2-small.tex", "directory"),
         files={"out/transformer-accounting-gpt2-small.md": "old"},
         setup=mkdir("out/transformer-accounting-gpt2-small.tex")),
    Case("sheet-out-is-file", ["sheet", "gpt2-small", "--out", "{tmp}/f"], ("--out", "is a file"),
         files={"f": "a file"}, usage=True),
    Case("sheet-ok", ["sheet", "gpt2-small", "--format", "tex", "--out", "{tmp}/new/deep"], ("wrote",), code=0,
         written=("new/deep/transformer-accounting-gpt2-small.tex",)),
    Case("escape-in-key", ["params", "{tmp}/c.yaml"], ("\\x1b[2J", "unknown key"),
         files={"c.yaml": BASE + '"\\e[2J": 1\n'}),
    # --- 4. resource exhaustion from small inputs ------------------------------------------------------
    Case("yaml-alias-bomb", ["params", "{tmp}/lol.yaml"], ("lol.yaml", "aliases expand"),
         files={"lol.yaml": laughs(flow=False)}),
    Case("set-alias-bomb", ["params", "gpt2-xl", "--set", "name=" + laughs(flow=True)],
         ("--set", "name", "aliases expand")),
    Case("yaml-alias-cycle", ["params", "{tmp}/c.yaml"], ("c.yaml", "nested"), files={"c.yaml": "a: &a [*a]\n"}),
    Case("sweep-product", ["sweep", "gpt2-small", "--vary", "d_model=1:19999999", "--vary",
                           "num_layers=1:19999999", "--vary", "d_ff=1:19999999"], ("combinations exceed",)),
    Case("sweep-one-range", ["sweep", "gpt2-small", "--vary", "d_model=1:30000000"], ("--vary", "20,000,000")),
    Case("sweep-list", ["sweep", "gpt2-small", "--vary", "d_model=1:15000000,1:15000000"], ("--vary", "values")),
    # --- 5. crashes that must be one line ----------------------------------------------------------------
    Case("model-type-list", ["params", "{tmp}/config.json"], ("config.json", "model_type", "unsupported"),
         files={"config.json": json.dumps({**LLAMA, "model_type": ["llama"]})}),
    Case("model-type-object", ["params", "{tmp}/config.json"], ("model_type", "unsupported"),
         files={"config.json": json.dumps({**LLAMA, "model_type": {"llama": 1}})}),
    # a multimodal wrapper (Gemma 3 4B+): refused, with the way to account for its language model
    Case("model-type-multimodal", ["params", "{tmp}/config.json"], ("config.json", "model_type", "'gemma3'",
                                                                     "text_config", "llama language model"),
         files={"config.json": json.dumps({"model_type": "gemma3", "text_config": LLAMA, "vision_config": {}})}),
    Case("layer-types-unknown", ["params", "{tmp}/config.json"], ("config.json", "layer_types[1]", "'bogus'"),
         files={"config.json": json.dumps({**LLAMA, "model_type": "qwen3", "head_dim": 8,
                                           "layer_types": ["full_attention", "bogus"]})}),
    Case("formula-swapped", ["formula", "params", "gpt2-xl"], ("params is a quantity", "derive formula gpt2-xl params")),
    Case("model-type-null", ["flops", "{tmp}/config.json"], ("model_type",),
         files={"config.json": json.dumps({**LLAMA, "model_type": None})}),
    Case("int-digits-yaml", ["params", "{tmp}/c.yaml"], ("c.yaml", "vocab_size", "5,000 digits"),
         files={"c.yaml": BASE.replace("vocab_size: 100", f"vocab_size: {BIG}")}),
    Case("int-digits-json", ["params", "{tmp}/config.json"], ("config.json", "vocab_size", "5,000 digits"),
         files={"config.json": json.dumps(LLAMA).replace('"vocab_size": 100', f'"vocab_size": {BIG}')}),
    Case("int-digits-set", ["params", "gpt2-xl", "--set", f"vocab_size={BIG}"], ("--set", "vocab_size", "digits")),
    Case("int-digits-vary", ["sweep", "gpt2-xl", "--vary", f"vocab_size={BIG}"], ("--vary", "digits")),
    Case("int-digits-result", ["flops", "gpt2-xl", "--batch", "9" * 4200, "--set", "vocab_size=" + "9" * 200],
         ("digits",), partial=True),
    # A size too large for its figures to be shown as floats (4,000 digits is under Python's limit): one line
    # naming the file and key (an OverflowError from the sheet's float conversions before).
    Case("size-digits-sheet", ["sheet", "{tmp}/c.yaml", "--out", "{tmp}/out"], ("c.yaml", "vocab_size", "4,000 digits"),
         files={"c.yaml": BASE.replace("vocab_size: 100", "vocab_size: " + "9" * 4000)}),
    Case("size-digits-json", ["sheet", "{tmp}/config.json", "--out", "{tmp}/out"],
         ("config.json", "vocab_size", "31 digits"),
         files={"config.json": json.dumps(LLAMA).replace('"vocab_size": 100', '"vocab_size": 1' + "0" * 30)}),
    Case("size-digits-option", ["params", "gpt2-xl", "--set", "head_dim=" + "9" * 40], ("--set", "head_dim", "40 digits")),
    Case("size-digits-vary", ["sweep", "gpt2-xl", "--vary", "d_model=" + "9" * 4000], ("--vary", "d_model", "digits")),
    Case("deep-json", ["params", "{tmp}/config.json"], ("config.json", "nested"),
         files={"config.json": "[" * 200_000 + "]" * 200_000}),
    Case("deep-yaml-flow", ["params", "{tmp}/c.yaml"], ("c.yaml", "nested"), files={"c.yaml": "[" * 200_000}),
    Case("deep-yaml-map", ["params", "{tmp}/c.yaml"], ("c.yaml", "nested"), files={"c.yaml": "{a: " * 200_000}),
    Case("deep-set", ["params", "gpt2-xl", "--set", "name=" + "[" * 200_000], ("--set", "name")),
    Case("long-component-config", ["params", f"{{tmp}}/{LONG}.yaml"], ("File name too long",)),
    Case("long-component-preset", ["params", LONG], ("unknown preset",)),
    Case("long-component-out", ["table", "gpt2-small", "--out", f"{{tmp}}/{LONG}.md"], ("File name too long",)),
    Case("long-name-many-files", ["sheet", "{tmp}/c.yaml", "--format", "tex", "--out", "{tmp}/out"], ("wrote",),
         code=0, files={"c.yaml": cfg(name="x" * 300)}, written=("out", "out/transformer-accounting-x*.tex")),
    Case("mfu-underflow", ["train", "gpt2-xl", "--mfu", "1e-400"], ("--mfu", "training time")),
    Case("mfu-exponent", ["train", "gpt2-xl", "--mfu", "1e-999999999"], ("--mfu",)),
    Case("steps-huge", ["train", "gpt2-xl", "--steps", "1" + "0" * 400], ("--steps", "training time")),
    Case("disk-full-table", ["table", "gpt2-small", "--out", "{tmp}/t.md"], ("t.md", "No space left"),
         patch=fail_fsync()),
    Case("disk-full-second-sheet-file", ["sheet", "gpt2-small", "--out", "{tmp}"], ("No space left",),
         files={"transformer-accounting-gpt2-small.md": "old md", "transformer-accounting-gpt2-small.tex": "old"},
         patch=fail_fsync(after=1)),
    Case("disk-full-sweep", ["sweep", "gpt2-small", "--vary", "d_model=64:6400:64", "--out", "{tmp}/s.csv"],
         ("s.csv", "No space left"), patch=fail_fsync()),
    Case("stdout-dev-full", ["params", "gpt2-xl"], ("cannot write the output", "No space left"), process="full"),
    Case("stdout-broken-pipe", ["sweep", "gpt2-small", "--vary", "d_model=64:64000:64", "--vary",
                                "num_layers=1:48"], code=141, process="pipe", quiet=True),
    # --- 6. newlines and escapes in keys and file names --------------------------------------------------
    Case("newline-in-key", ["params", "{tmp}/c.yaml"], ("c.yaml", "a\\nb", "unknown key"),
         files={"c.yaml": BASE + '"a\\nb": 1\n'}),
    Case("escape-in-value", ["params", "{tmp}/c.json"], ("\\x1b[31m", "unsupported"),
         files={"c.json": json.dumps({**LLAMA, "model_type": "\x1b[31mred"})}),
    Case("newline-in-missing-file", ["params", "{tmp}/bad\nname.yaml"], ("bad\\nname.yaml", "no such file")),
    Case("newline-in-file-name", ["params", "{tmp}/ev\nil.yaml"], ("ev\\nil.yaml", "colour"),
         files={"ev\nil.yaml": BASE + "colour: blue\n"}),
    Case("newline-in-set-key", ["params", "gpt2-xl", "--set", "a\nb=1"], ("--set", "a\\nb", "unknown key")),
    Case("newline-in-folder-name", ["params", "{tmp}/ev\nil/config.json"], ("ev_il: trainable parameters",),
         code=0, files={"ev\nil/config.json": json.dumps(LLAMA)}),
    Case("surrogate-in-value", ["params", "{tmp}/config.json"], ("\\ud800", "unsupported"),
         files={"config.json": '{"model_type": "\\ud800"}'}),
    # --- 10. silent misreadings ----------------------------------------------------------------------------
    Case("set-octal", ["params", "gpt2-xl", "--set", "num_layers=012"], ("--set", "num_layers", "'012'", "octal")),
    Case("set-hex", ["params", "gpt2-xl", "--set", "num_layers=0x10"], ("num_layers", "hexadecimal")),
    Case("set-underscore", ["params", "gpt2-xl", "--set", "num_layers=1_000"], ("num_layers", "underscores")),
    Case("set-base-60", ["params", "gpt2-xl", "--set", "num_layers=1:20"], ("num_layers", "base 60")),
    Case("yaml-octal", ["params", "{tmp}/c.yaml"], ("c.yaml", "num_layers", "octal", "line 3"),
         files={"c.yaml": BASE.replace("num_layers: 2", "num_layers: 012")}),
    Case("yaml-quoted-number-is-text", ["params", "{tmp}/c.yaml", "--json"], ('"config": "012"',), code=0,
         files={"c.yaml": cfg(name='"012"')}),
    Case("json-bom", ["params", "{tmp}/config.json", "--json"], ('"total"',), code=0,
         files={"config.json": "\ufeff" + json.dumps(LLAMA)}),
    Case("yaml-bom", ["params", "{tmp}/c.yaml", "--json"], ('"total"',), code=0, files={"c.yaml": "\ufeff" + BASE}),
    Case("preset-parent", ["params", "../x"], ("../x", "unknown preset")),
    Case("preset-nested", ["params", "../configs/gpt2-xl"], ("unknown preset",)),
    Case("preset-data-file", ["params", "_training"], ("unknown preset",)),
    Case("yaml-duplicate-key", ["params", "{tmp}/c.yaml"], ("c.yaml", "d_model", "duplicate", "line 7"),
         files={"c.yaml": BASE + "d_model: 16\n"}),
    Case("yaml-duplicate-nested", ["params", "{tmp}/c.yaml"], ("c.yaml", "x.y", "duplicate"),
         files={"c.yaml": BASE + "x: {y: 1, y: 2}\n"}),
    Case("json-duplicate-key", ["params", "{tmp}/config.json"], ("config.json", "vocab_size", "duplicate"),
         files={"config.json": json.dumps(LLAMA)[:-1] + ', "vocab_size": 7}'}),
    Case("name-newline", ["params", "{tmp}/c.yaml"], ("c.yaml", "name", "newline"),
         files={"c.yaml": cfg(name='"x\\n\\\\input{/etc/passwd}"')}),
    Case("description-escape", ["sheet", "{tmp}/c.yaml", "--out", "{tmp}/out"], ("description", "control"),
         files={"c.yaml": cfg(description='"\\e[2J"')}),
    Case("d-ff-source-tab", ["params", "{tmp}/c.yaml"], ("d_ff_source", "control"),
         files={"c.yaml": cfg(d_ff_source='"a\\tb"')}),
    Case("name-bidi", ["table", "{tmp}/c.yaml"], ("name", "\\u202e"), files={"c.yaml": cfg(name='"x\\u202Ey"')}),
    Case("set-name-newline", ["params", "gpt2-xl", "--set", 'name="a\\nb"'], ("--set", "name", "newline")),
    # --- tags never run; special files are never read -----------------------------------------------------
    Case("yaml-python-tag", ["params", "{tmp}/c.yaml"], ("c.yaml", "tag", "not allowed"),
         files={"c.yaml": BASE + "name: !!python/object/apply:os.system ['touch pwned']\n"}),
    Case("set-python-tag", ["params", "gpt2-xl", "--set", "name=!!python/object/apply:os.system ['touch pwned']"],
         ("--set", "name", "not allowed")),
    Case("yaml-set-tag", ["params", "{tmp}/c.yaml"], ("tag", "not allowed"), files={"c.yaml": BASE + "x: !!set {a}\n"}),
    Case("config-fifo", ["params", "{tmp}/c.yaml"], ("c.yaml", "not a regular file"), setup=mkfifo("c.yaml")),
    Case("config-device", ["params", "/dev/zero"], ("/dev/zero", "not a regular file")),
    Case("config-folder", ["params", "{tmp}/d.yaml"], ("d.yaml", "not a regular file"), setup=mkdir("d.yaml")),
    Case("config-huge", ["params", "{tmp}/big.yaml"], ("big.yaml", "larger than"),
         setup=sparse("big.yaml", 50_000_000)),
    # --- empty option values are errors, not defaults ----------------------------------------------------
    *[Case(f"empty-{opt.strip('-')}", ["train", "gpt2-xl", opt, ""], (opt, "empty"))
      for opt in ("--hardware", "--budget", "--mfu")],
    Case("empty-out-table", ["table", "gpt2-small", "--out", ""], ("--out", "empty")),
    Case("empty-out-sheet", ["sheet", "--out", ""], ("--out", "empty")),
    Case("empty-out-sweep", ["sweep", "gpt2-small", "--out", " "], ("--out", "empty")),
    Case("empty-sheet", ["sheet", "--sheet", "", "--out", "{tmp}"], ("--sheet", "empty")),
    Case("empty-columns", ["table", "gpt2-small", "--columns", ""], ("--columns", "empty")),
    Case("empty-quantities", ["sweep", "gpt2-small", "--quantities", ""], ("--quantities", "empty")),
    Case("empty-vary", ["sweep", "gpt2-small", "--vary", ""], ("--vary", "empty")),
    Case("empty-set", ["params", "gpt2-xl", "--set", ""], ("--set", "empty")),
    Case("empty-config", ["params", ""], ("CONFIG", "empty")),
]


def _snapshot(root: Path) -> dict[str, object]:
    """Every entry under root: file contents, link targets, kinds (FIFOs are never opened)."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                out[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                out[key] = ("file", path.read_bytes() if info.st_size < 1_000_000 else info.st_size)
            else:
                out[key] = ("other", stat.S_IFMT(info.st_mode))
    return out


def _run(case: Case, args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """Exit status, standard output and standard error of one row."""
    if case.process:
        cmd = [sys.executable, "-m", "derive", *args]
        if case.process == "full":
            with open("/dev/full", "w") as full:
                proc = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, cwd=cwd, timeout=120)
            return proc.returncode, "", proc.stderr.decode()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
        assert proc.stdout.read(100)  # the reader takes a little, then goes away
        proc.stdout.close()
        return proc.wait(timeout=120), "", proc.stderr.read().decode()
    monkeypatch.chdir(cwd)
    if case.patch is not None:
        case.patch(monkeypatch)
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, data in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    if case.setup is not None:
        case.setup(tmp_path)
    before = _snapshot(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    code, out, err = _run(case, args, tmp_path, monkeypatch)
    output = out + err

    assert code == case.code, output[-2000:]
    assert "Traceback" not in output and "Exception ignored" not in output, output[-2000:]
    if case.quiet:
        assert output == ""
    elif case.usage:
        assert err.startswith("Usage: ") and "Error: " in err and out == "", output[-2000:]
    elif case.code == 2:
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("derive: error: "), output[-2000:]
        assert len(lines[0]) < 1000
        assert case.partial or out == "", out[-2000:]
    for needle in case.needles:
        assert needle in output, (needle, output[-2000:])

    after = _snapshot(tmp_path)
    assert not [k for k in after if ".derive-" in k], "temporary files left behind"
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    patterns = {*case.written, *(str(p) for w in case.written for p in Path(w).parents if str(p) != ".")}
    assert all(any(fnmatch.fnmatchcase(k, p) for p in patterns) for k in changed), sorted(changed)
    assert all(any(fnmatch.fnmatchcase(k, p) for k in changed) for p in patterns), sorted(changed)
    assert not (tmp_path / "pwned").exists(), "a YAML tag ran"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null was replaced"


# --- sweeps: the size is checked from the lengths, and rows are streamed in blocks -------------------------

def _peak(fn) -> tuple[object, int]:
    import tracemalloc

    tracemalloc.start()
    try:
        value = fn()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sweep_limit_is_checked_before_any_value_exists() -> None:
    from derive.accounting.sweep import parse_varies
    from derive.errors import UsageError

    def refuse():
        with pytest.raises(UsageError, match="8,000,000,000,000,000,000,000 combinations exceed"):
            parse_varies(["d_model=1:20000000", "num_layers=1:20000000", "d_ff=1:20000000"])

    _, peak = _peak(refuse)
    assert peak < 1_000_000  # three ranges of 20 million values each: 480 MB as arrays, 2 GB as lists


def test_a_twenty_million_row_plan_holds_no_rows() -> None:
    """The largest allowed sweep is planned without a row; its last block is computed on its own, exactly."""
    from derive.accounting.quantities import parse_quantities
    from derive.accounting.sweep import parse_varies, plan_sweep
    from derive.api import load_config

    base = load_config("gpt2-small")
    qs = parse_quantities("params")
    plan_sweep(base, {"d_model": [64]}, qs)  # compile outside the measurement
    plan, peak = _peak(lambda: plan_sweep(base, parse_varies(["d_model=1:4000000", "num_layers=1:5"]), qs))
    assert plan.size == 20_000_000 and peak < 2_000_000
    columns, invalid = plan.evaluate(plan.size - 3, plan.size)
    V, d_ff = base.vocab_size, base.d_ff
    for d, L, p, why in zip(columns["d_model"].tolist(), columns["num_layers"].tolist(),
                            columns["params"].tolist(), invalid.tolist()):
        assert d == 4_000_000 and why == ("" if d % 12 == 0 else "d_model not divisible by num_heads")
        assert p == 2 * V * d + L * (4 * d * d + 3 * d * d_ff + 2 * d) + d
    assert columns["num_layers"].tolist() == [3, 4, 5]


@pytest.mark.parametrize("varies, quantities", [
    (["d_model=64:640:64", "num_heads=1:12", "seq_len=512,1024,2048"], "params,forward_flops,flops_per_token"),
    (["vocab_size=10000000000000000000,5", "d_model=768,100000000000000000000"], "params,forward_flops"),
    (["d_ff=100,200:400:100,200", "context_length=512,1024"], "memory_bf16,flops_per_token"),
    ([], "params"),
])
def test_streamed_sweep_text_does_not_depend_on_the_block_size(varies: list[str], quantities: str) -> None:
    from derive.accounting.quantities import parse_quantities
    from derive.accounting.sweep import csv_pieces, json_pieces, parse_varies, plan_sweep, run_sweep, to_csv, to_json
    from derive.api import load_config

    base, qs, varied = load_config("gpt2-small"), parse_quantities(quantities), parse_varies(varies)
    whole = run_sweep(base, varied, qs)
    plan = plan_sweep(base, varied, qs)
    assert (plan.size, plan.invalid_count) == (whole.size, whole.invalid_count)
    for block in (1, 7, 64, 10**6):
        assert "".join(csv_pieces(plan, block)) == to_csv(whole)
        assert "".join(json_pieces(plan, block)) == to_json(whole)
    assert json.loads(to_json(whole))["rows"] == [
        [*r.values()][:-1 - len(qs)] + [None if r["invalid"] else r[q.name] for q in qs] + [r["invalid"] or None]
        for r in whole.rows()]


def test_streaming_memory_is_bounded_by_the_block_size() -> None:
    from derive.accounting.quantities import parse_quantities
    from derive.accounting.sweep import csv_pieces, parse_varies, plan_sweep
    from derive.api import load_config

    plan = plan_sweep(load_config("gpt2-small"), parse_varies(["d_model=1:20000", "num_layers=1:2"]),
                      parse_quantities("params,forward_flops"))

    def drain(block: int) -> int:
        return sum(len(piece) for piece in csv_pieces(plan, block))

    plan.count_invalid(200)
    small, small_peak = _peak(lambda: drain(200))
    whole, whole_peak = _peak(lambda: drain(plan.size))
    assert small == whole > 1_000_000
    assert small_peak * 20 < whole_peak, (small_peak, whole_peak)
