"""Reading hostile input: config files, YAML and JSON documents, --set values and free-text keys.

Everything a user hands derive passes through here before it becomes a config:

- files: regular files only (never a FIFO, a device or a directory, which could block or never end), at most
  MAX_FILE_BYTES, UTF-8 with or without a byte-order mark (in YAML and JSON alike);
- YAML: safe_load semantics (no tag ever runs: only the plain data tags are accepted), plus refusals PyYAML
  does not make: a key given twice, aliases that expand to more than MAX_ALIAS_NODES nodes (a "billion
  laughs" of a few hundred bytes), nesting deeper than MAX_DEPTH, integers that are not plain decimal
  (YAML 1.1 reads `012` as octal 10, `0x10` as 16, `1_000` as 1000 and `1:20` as 80), integers longer than
  Python reads (MAX_INT_DIGITS);
- JSON: the same duplicate-key, nesting and integer-length refusals;
- free text (`name`, `description`): no newline or control character (they would end a comment in LaTeX or a
  row in Markdown).

Every refusal is a ConfigError naming the source and the key. Nothing here knows config keys; model/config.py
and model/hf.py decide what the values mean.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import UNSAFE_CHARS, ConfigError, printable, shown

MAX_FILE_BYTES = 10_000_000  # a config.json is a few kB; this bounds memory, not any real config
MAX_DEPTH = 64  # levels of nested mappings/lists; real configs use 3
MAX_ALIAS_NODES = 10_000  # nodes reached again through aliases; a config needs a handful
MAX_INT_DIGITS = 4300  # Python's own limit on reading an integer from text (sys.get_int_max_str_digits)
# A model size (vocab_size, d_model, --vary values ...) has at most this many digits: no model comes near, and a
# product of a dozen such sizes stays below 10^308, so every figure can also be shown as a float (GB, shares).
MAX_SIZE_DIGITS = 30

_YAML = "tag:yaml.org,2002:"
# The plain data tags; anything else (!!python/object, !!set, a local !tag) is refused, never constructed.
SCALAR_TAGS = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
MERGE_TAG = _YAML + "merge"
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")


# --- files -----------------------------------------------------------------------------------------------

def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def path_exists(path: Path) -> bool:
    """Whether `path` exists; False for a text that cannot be a path (a component over 255 bytes, a NUL
    byte), where pathlib would raise."""
    try:
        os.stat(path)
        return True
    except (OSError, ValueError):
        return False


def check_path(path: Path, source: str) -> bool:
    """Whether `path` exists, raising a ConfigError for a path the system cannot even look up (a component
    over 255 bytes, a NUL byte) instead of the OSError/ValueError pathlib would raise."""
    try:
        os.stat(path)
        return True
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        return False
    except OSError as exc:
        raise ConfigError(source, None, f"cannot read file ({_reason(exc)})") from None
    except ValueError:  # embedded NUL byte
        raise ConfigError(source, None, "cannot read file (the path contains a NUL byte)") from None


def require_regular_file(path: Path, source: str) -> None:
    """ConfigError unless `path` is an existing regular file (or a link to one)."""
    if not check_path(path, source):
        raise ConfigError(source, None, "no such file")
    if not path.is_file():
        raise ConfigError(source, None, "not a regular file (a directory, device or pipe)")


def read_text(path: Path, source: str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; a leading byte-order mark is dropped.

    The file is opened without blocking and checked after opening (fstat), so a FIFO or device swapped in
    for the file is refused rather than read forever. Raises ConfigError naming `source`."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ConfigError(source, None, f"cannot read file ({_reason(exc)})") from None
    except ValueError:
        raise ConfigError(source, None, "cannot read file (the path contains a NUL byte)") from None
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(source, None, "not a regular file (a directory, device or pipe)")
            if info.st_size > limit:
                raise ConfigError(source, None, f"file is larger than {limit:,} bytes")
            data = handle.read(limit + 1)
        except OSError as exc:
            raise ConfigError(source, None, f"cannot read file ({_reason(exc)})") from None
    if len(data) > limit:
        raise ConfigError(source, None, f"file is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, None, f"not UTF-8 text (byte {exc.start})") from None


# --- integers --------------------------------------------------------------------------------------------

def _yaml11_reading(node: ScalarNode, loader: yaml.SafeLoader) -> str:
    """What YAML 1.1 makes of a non-decimal integer (`as 10, octal`), for the message."""
    body = node.value.strip().lstrip("+-")
    kind = ("base 60" if ":" in body else "without its underscores" if "_" in body
            else "hexadecimal" if body[:2] in ("0x", "0X") else "binary" if body[:2] in ("0b", "0B")
            else "octal" if body.startswith("0") else "")
    if len(body) > 40:  # no need to convert a long text to say how it would be misread
        return f"as {kind}" if kind else "differently"
    try:
        value = loader.construct_yaml_int(node)
    except (ValueError, IndexError):
        return f"as {kind}" if kind else "differently"
    return f"as {value}, {kind}" if kind else f"as {value}"


def decimal_int(text: str) -> int:
    """A plain decimal integer (optional sign, no leading zero, no separator, at most MAX_INT_DIGITS digits).

    Raises ValueError with the reason (the caller names the source and key)."""
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{shown(text)} is not a plain decimal integer")
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits:,} digits is longer than derive reads "
                         f"({MAX_INT_DIGITS:,} digits)")
    return int(text)


# --- YAML ------------------------------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """SafeLoader's scanner, parser and composer with a bound on nesting (the composer recurses)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Refused(Exception):
    """A refusal found while reading, before the caller's source is attached."""

    def __init__(self, key: str | None, message: str, mark: Any = None):
        super().__init__(message)
        self.key = key
        self.message = message
        self.line = mark.line + 1 if mark is not None else None


def _join(path: str | None, key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path or ''}[{key}]"
    return f"{path}.{key}" if path else str(key)


class _Builder:
    """Turns a composed node graph into Python data, counting the nodes reached again through aliases."""

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.seen: set[int] = set()
        self.revisits = 0

    def build(self, node: Node, path: str | None = None, depth: int = 0) -> Any:
        if id(node) in self.seen:
            self.revisits += 1
            if self.revisits > MAX_ALIAS_NODES:
                raise _Refused(path, f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes", node.start_mark)
        else:
            self.seen.add(id(node))
        if depth > MAX_DEPTH:  # an alias inside its own anchor (a cycle) ends here
            raise _Refused(path, f"nested more than {MAX_DEPTH} levels deep", node.start_mark)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _YAML + "seq":
                raise _Refused(path, f"tag {shown(node.tag)} is not allowed (only plain YAML data)", node.start_mark)
            return [self.build(child, _join(path, i), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _YAML + "map":
                raise _Refused(path, f"tag {shown(node.tag)} is not allowed (only plain YAML data)", node.start_mark)
            return self.mapping(node, path, depth)
        raise _Refused(path, "unexpected YAML node", getattr(node, "start_mark", None))  # pragma: no cover

    def scalar(self, node: ScalarNode, path: str | None) -> Any:
        if node.tag not in SCALAR_TAGS:
            raise _Refused(path, f"tag {shown(node.tag)} is not allowed (only plain YAML data)", node.start_mark)
        if node.tag == _YAML + "int":
            try:
                return decimal_int(node.value)
            except ValueError as exc:
                if _DECIMAL.fullmatch(node.value.strip()):
                    raise _Refused(path, str(exc), node.start_mark) from None
                raise _Refused(path, f"{shown(node.value)} is not a decimal integer (YAML 1.1 reads it "
                                     f"{_yaml11_reading(node, self.loader)}); write it in plain decimal digits, "
                                     "or quote it to make it a string", node.start_mark) from None
        try:
            return self.loader.yaml_constructors[node.tag](self.loader, node)
        except (ValueError, OverflowError, yaml.YAMLError):  # e.g. a timestamp with month 13
            raise _Refused(path, f"cannot read {shown(node.value)} as {node.tag[len(_YAML):]}",
                           node.start_mark) from None

    def mapping(self, node: MappingNode, path: str | None, depth: int) -> dict[Any, Any]:
        merged: dict[Any, Any] = {}
        own: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *base` (earlier merged mappings win, own keys win over all)
                sources = self.build(value_node, _join(path, "<<"), depth + 1)
                for source in reversed(sources if isinstance(sources, list) else [sources]):
                    if not isinstance(source, dict):
                        raise _Refused(_join(path, "<<"), "a merge key needs a mapping or a list of mappings",
                                       value_node.start_mark)
                    merged.update(source)
                continue
            if not isinstance(key_node, ScalarNode):
                raise _Refused(path, "a key must be a plain value, not a list or mapping", key_node.start_mark)
            key = self.scalar(key_node, path)
            if key in own:
                raise _Refused(_join(path, key), "duplicate key (given twice in the same mapping)",
                               key_node.start_mark)
            own[key] = self.build(value_node, _join(path, key), depth + 1)
        return {**merged, **own}


def _yaml_data(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _Builder(loader).build(node)
    finally:
        loader.dispose()


def load_yaml(text: str, source: str) -> Any:
    """`text` as YAML data (safe_load semantics plus the refusals in the module docstring).

    Raises ConfigError(source, key, ...) naming the key path (`rope_scaling.factor`) and the line."""
    try:
        return _yaml_data(text)
    except _Refused as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        raise ConfigError(source, exc.key, exc.message + where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(source, None, f"not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(source, None, f"nested more than {MAX_DEPTH} levels deep") from None


def load_yaml_value(raw: str, source: str, key: str) -> Any:
    """One --set value as YAML (`16384` -> 16384, `true` -> True, `gpt2` -> 'gpt2').

    Text that is not valid YAML stays a string (`--set name=a: b`); every refusal of load_yaml still applies
    (tags, aliases, non-decimal and overlong integers) and names `source` and `key`."""
    try:
        return _yaml_data(raw)
    except _Refused as exc:
        inner = f" (at {exc.key})" if exc.key else ""
        raise ConfigError(source, key, exc.message + inner) from None
    except (yaml.YAMLError, RecursionError):
        return raw


# --- JSON ------------------------------------------------------------------------------------------------

class _LongInt:
    """Stands for a JSON integer too long to read, until its key is known."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _json_int(text: str) -> int | _LongInt:
    digits = len(text.lstrip("-"))
    return _LongInt(digits) if digits > MAX_INT_DIGITS else int(text)


def _walk_json(data: Any, source: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and integers too long to read, naming the key (iteratively)."""
    stack: list[tuple[Any, str | None, int]] = [(data, None, 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(source, path, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, _LongInt):
            raise ConfigError(source, path, f"an integer of {value.digits:,} digits is longer than derive reads "
                                            f"({MAX_INT_DIGITS:,} digits)")
        if isinstance(value, dict):
            stack.extend((v, _join(path, k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, _join(path, i), depth + 1) for i, v in enumerate(value))


def load_json(text: str, source: str) -> Any:
    """`text` as JSON, refusing duplicate keys, nesting deeper than MAX_DEPTH and overlong integers.

    A byte-order mark is accepted (as YAML accepts it). Raises ConfigError naming the source and key."""
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ConfigError(source, key, "duplicate key (given twice in the same object)")
            out[key] = value
        return out

    try:
        data = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=no_duplicates, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise ConfigError(source, None, f"not valid JSON at line {exc.lineno}") from None
    except RecursionError:
        raise ConfigError(source, None, f"nested more than {MAX_DEPTH} levels deep") from None
    _walk_json(data, source)
    return data


# --- free text -------------------------------------------------------------------------------------------

def check_text(value: str, source: str, key: str) -> str:
    """`value` unchanged, or a ConfigError if it holds a newline or a control character.

    Names and descriptions reach LaTeX comments, Markdown table rows, CSV cells and terminals; a line break
    or an escape sequence in one could end a comment or a row. Renderers escape as well; this is the
    refusal at the door."""
    match = UNSAFE_CHARS.search(value)
    if match:
        raise ConfigError(source, key, f"contains a newline or control character ({printable(match.group())} "
                                       f"at position {match.start()}); names and descriptions are one line "
                                       "of text")
    return value


def safe_name(text: str) -> str:
    """A default name taken from a file or directory name, with its unsafe characters replaced by '_'."""
    return UNSAFE_CHARS.sub("_", text)


__all__ = ["MAX_FILE_BYTES", "MAX_DEPTH", "MAX_ALIAS_NODES", "MAX_INT_DIGITS", "check_path", "path_exists", "read_text",
           "require_regular_file", "decimal_int", "load_yaml", "load_yaml_value", "load_json", "check_text",
           "safe_name"]


def size_too_large(value: int) -> str | None:
    """Why an integer cannot be a model size (more than MAX_SIZE_DIGITS digits), or None when it can."""
    if value < 10 ** MAX_SIZE_DIGITS:
        return None
    return (f"an integer of {len(str(value)):,} digits is larger than any size derive accounts for (at most "
            f"{MAX_SIZE_DIGITS} digits, so that every figure stays within what a float can show)")
