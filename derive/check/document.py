"""Read hand-written accounting derivations and check their arithmetic exactly.

This module is self-contained (standard library only) and knows nothing of the rest of derive:
it turns a plain-text or Markdown answer into labelled lines of `=`-chains, evaluates every
segment of a chain with exact rationals, and says which consecutive segments disagree.

    >>> doc = parse_document("vocab_size : 50,257\\nq: 4 * 2,560,000 = 10,240,000\\n")
    >>> doc.config, check_chain(doc.lines[1], doc.config).ok
    ({'vocab_size': 50257}, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

from .arith import _strip_prose, evaluate
from .lexer import _preprocess, _tokenize
from .values import (
    NotUnderstood,
    Number,
    Quantity,
    _is_trailing_word,
    agree,
    alternate_unit_match,
)

__all__ = [
    "NotUnderstood", "Quantity", "Line", "Document", "PairCheck", "ChainResult",
    "parse_document", "parse_line", "evaluate", "check_chain", "check_document", "agree",
    "alternate_unit_match",
]

# --------------------------------------------------------------------------------------------
# Lines and documents
# --------------------------------------------------------------------------------------------

_IDENT_FULL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEP_RE = re.compile(r"(≈|~=|(?<![=<>!])=(?![=>]))")
_CONFIG_CONTEXT = re.compile(r"config|setting|hyper|assum|given|setup|spec", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One non-blank line: its label, enclosing headings, and `=`-separated segments."""

    number: int
    indent: int
    name: str | None
    context: tuple[str, ...]
    segments: tuple[str, ...]
    text: str
    is_heading: bool = False
    heading_level: int | None = None  # Markdown '#' level
    is_config: bool = False
    is_claim: bool = False

    @property
    def defines(self) -> str | None:
        """`d_k` for a bare chain `d_k = d_model // num_heads = 64`: a symbol later lines may use."""
        if self.name is None and len(self.segments) >= 2:
            head = self.segments[0].replace("`", "").strip(" *")
            if _IDENT_FULL.fullmatch(head):
                return head
        return None


@dataclass
class Document:
    """A parsed answer: the configuration listing and every line in order."""

    config: dict[str, int]
    lines: list[Line]

    @property
    def claims(self) -> list[Line]:
        return [line for line in self.lines if line.is_claim]


def _normalise(label: str) -> str:
    s = label.replace("`", "").replace("*", "").replace("$", "").strip().rstrip(":").strip()
    return re.sub(r"\s+", "_", s.lower())


def _split_segments(rest: str) -> tuple[str, ...]:
    """Split on `=` (not `==`, `<=`, `>=`, `!=`, `=>`); `≈`/`~=` also split and stay on the right part."""
    parts = _SEP_RE.split(rest, maxsplit=MAX_SEGMENTS)
    segs = [parts[0]]
    for sep, part in zip(parts[1::2], parts[2::2]):
        segs.append(("≈ " + part.strip()) if sep in ("≈", "~=") else part)
    segs = [s.strip() for s in segs]
    if segs == [""]:
        return ()
    return tuple(segs)


@lru_cache(maxsize=50_000)
def _wordy(segment: str) -> bool:
    """Two words side by side outside parentheses (a sentence, not a formula or a unit)."""
    try:
        text, _ = _preprocess(segment)
        toks, _ = _strip_prose(_tokenize(text), text, {})
    except (NotUnderstood, RecursionError):
        return False
    return any(a.kind == "IDENT" and b.kind == "IDENT" and not _is_trailing_word(b.text)
               for a, b in zip(toks, toks[1:]))


@dataclass
class _Raw:
    number: int
    indent: int
    eff_indent: float
    level: int | None
    name: str | None
    segments: tuple[str, ...]
    text: str
    heading: bool


MAX_LINE = 200_000  # characters: a longer line is data, not a derivation step (reported, never parsed)
MAX_SEGMENTS = 200  # `=`-segments read on one line
MAX_CONTEXT = 16  # enclosing headings kept per line: deeper nesting is not read as more context


def _read_line(number: int, raw: str) -> _Raw | None:
    text = raw.rstrip("\n").rstrip("\r")
    if len(text) > MAX_LINE:
        return _Raw(number, 0, 0.0, None, None, (), text, False)
    expanded = text.expandtabs(4)
    body = expanded.strip()
    if not body or re.fullmatch(r"[-*_=]{3,}", body):
        return None
    indent = len(expanded) - len(expanded.lstrip())
    body = re.sub(r"^(?:>\s*)+", "", body)
    level = None
    m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", body)
    if m:
        level, body = len(m.group(1)), m.group(2)
    listed = False
    m = re.match(r"^(?:[-*+]|\d+[.)])\s+", body)
    if m:
        body, listed = body[m.end():], True
    body = body.replace("`", "")
    body = re.sub(r"\*\*([^*]+?)\s*:\s*\*\*", r"**\1**:", body)  # **q_proj:** -> **q_proj**:
    eff = indent + (0.5 if listed else 0.0)
    if re.fullmatch(r"\*\*[^*]+\*\*\s*:?", body):  # a bold line on its own
        return _Raw(number, indent, eff, level, _normalise(body), (), text, True)
    first_sep = _SEP_RE.search(body)
    colon = body.find(":")
    name = None
    rest = body
    if colon > 0 and (first_sep is None or colon < first_sep.start()) and _normalise(body[:colon]):
        name, rest = _normalise(body[:colon]), body[colon + 1:]
    if level is not None and first_sep is None:
        return _Raw(number, indent, eff, level, _normalise(body), (), text, True)
    segments = _split_segments(rest)
    return _Raw(number, indent, eff, level if not segments else None, name, segments, text,
                heading=name is not None and not segments)


def parse_line(text: str, number: int = 1) -> Line:
    """One line on its own (no context, no config): handy for checking a single chain."""
    raw = _read_line(number, text)
    if raw is None:
        return Line(number, 0, None, (), (), text)
    return _finish(raw, (), {}, is_config=False)


def _finish(raw: _Raw, context: tuple[str, ...], symbols: Mapping[str, Number], is_config: bool) -> Line:
    claim = False
    if not raw.heading and not is_config and raw.segments:
        prose = any(_wordy(s) for s in raw.segments[:-1]) or (raw.name is None and _wordy(raw.segments[0]))
        if not prose:
            for seg in raw.segments:
                try:
                    evaluate(seg, symbols)
                    claim = True
                    break
                except NotUnderstood:
                    continue
    return Line(number=raw.number, indent=raw.indent, name=raw.name, context=context,
                segments=raw.segments, text=raw.text, is_heading=raw.heading,
                heading_level=raw.level if raw.heading else None, is_config=is_config, is_claim=claim)


def _config_value(raw: _Raw) -> int | None:
    """The integer of a `key : 50,257` listing line, else None."""
    if raw.heading or raw.name is None or len(raw.segments) != 1 or not _IDENT_FULL.fullmatch(raw.name):
        return None
    text, approx = _preprocess(raw.segments[0])
    try:
        toks = _tokenize(text)
    except NotUnderstood:
        return None
    if approx or len(toks) != 1 or toks[0].kind != "NUM" or toks[0].approx is not None:
        return None
    value = toks[0].value
    return int(value) if value is not None and value.denominator == 1 else None


def parse_document(text: str) -> Document:
    """Lines with labels, heading context and segments; config from `key : int` listing lines.

    Context follows indentation (a list item counts as half a column deeper than a plain line
    at the same indent) nested inside Markdown heading levels.  A `key : int` line is config
    while no chain has been seen yet, or anywhere under a heading that mentions config/settings.
    """
    raws: list[tuple[_Raw, tuple[str, ...]]] = []
    stack: list[tuple[str, float, str]] = []  # (kind 'md'|'ind', level-or-indent, name)
    fenced = False
    for number, raw_text in enumerate(text.splitlines(), start=1):
        if re.match(r"^\s*(```|~~~)", raw_text):
            fenced = not fenced
            continue
        raw = _read_line(number, raw_text)
        if raw is None:
            continue
        if raw.heading and raw.level is not None:
            while stack and (stack[-1][0] == "ind" or stack[-1][1] >= raw.level):
                stack.pop()
            raws.append((raw, tuple(n for _, _, n in stack)))
            if len(stack) < MAX_CONTEXT:
                stack.append(("md", raw.level, raw.name or ""))
            continue
        md = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", raw_text) if raw.level is None else None
        if md:  # `#### kaplan-6n: Kaplan et al. 2020, C = 6N`: a claim, and the heading of what follows
            while stack and (stack[-1][0] == "ind" or stack[-1][1] >= len(md.group(1))):
                stack.pop()
            raws.append((raw, tuple(n for _, _, n in stack)))
            if len(stack) < MAX_CONTEXT:
                stack.append(("md", len(md.group(1)), _normalise(md.group(2).replace("`", ""))))
            continue
        while stack and stack[-1][0] == "ind" and stack[-1][1] >= raw.eff_indent:
            stack.pop()
        raws.append((raw, tuple(n for _, _, n in stack)))
        if raw.heading and len(stack) < MAX_CONTEXT:
            stack.append(("ind", raw.eff_indent, raw.name or ""))
    config: dict[str, int] = {}
    config_lines: set[int] = set()
    chain_seen = False
    for raw, context in raws:
        value = _config_value(raw)
        if value is not None and (not chain_seen or any(_CONFIG_CONTEXT.search(c) for c in context)):
            config.setdefault(raw.name, value)  # type: ignore[arg-type]
            config_lines.add(raw.number)
        elif len(raw.segments) >= 2 and not any(_wordy(s) for s in raw.segments[:-1]):
            chain_seen = True
    lines = [_finish(raw, context, config, raw.number in config_lines) for raw, context in raws]
    return Document(config=config, lines=lines)


# --------------------------------------------------------------------------------------------
# Checking chains
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairCheck:
    """Comparison of two consecutive understood segments (indices into the segments)."""

    left: int
    right: int
    ok: bool
    how: str | None  # 'exact', 'rounding', 'written unit'; None when they disagree
    alternate_unit: str | None = None  # e.g. 'GiB' when a written 'GB' only fits as GiB


@dataclass(frozen=True)
class ChainResult:
    """Per-segment values (or why not) and the consecutive comparisons of one line."""

    line: Line
    quantities: tuple[Quantity | NotUnderstood, ...]
    pairs: tuple[PairCheck, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """No understood pair disagrees (segments we could not read are skipped, not failed)."""
        return all(p.ok for p in self.pairs)

    @property
    def complete(self) -> bool:
        """Every segment was understood."""
        return all(isinstance(q, Quantity) for q in self.quantities)

    @property
    def first_mismatch(self) -> tuple[int, int, Quantity, Quantity] | None:
        for p in self.pairs:
            if not p.ok:
                left, right = self.quantities[p.left], self.quantities[p.right]
                assert isinstance(left, Quantity) and isinstance(right, Quantity)
                return p.left, p.right, left, right
        return None

    @property
    def final(self) -> Quantity | None:
        for q in reversed(self.quantities):
            if isinstance(q, Quantity):
                return q
        return None


def check_chain(line: Line | str, symbols: Mapping[str, Number] | None = None) -> ChainResult:
    """Evaluate every segment and compare consecutive understood ones (skipping unreadable ones)."""
    if isinstance(line, str):
        line = parse_line(line)
    symbols = symbols or {}
    quantities: list[Quantity | NotUnderstood] = []
    for seg in line.segments:
        try:
            quantities.append(evaluate(seg, symbols))
        except NotUnderstood as exc:
            quantities.append(exc)
    understood = [i for i, q in enumerate(quantities) if isinstance(q, Quantity)]
    pairs = []
    for i, j in zip(understood, understood[1:]):
        a, b = quantities[i], quantities[j]
        assert isinstance(a, Quantity) and isinstance(b, Quantity)
        how = agree(a, b)
        pairs.append(PairCheck(i, j, how is not None, how, None if how else alternate_unit_match(a, b)))
    return ChainResult(line, tuple(quantities), tuple(pairs))


def check_document(doc: Document, symbols: Mapping[str, Number] | None = None) -> list[ChainResult]:
    """Check every claim line in order, learning `name = ...` definitions (config is never rebound)."""
    known: dict[str, Number] = {**doc.config, **(symbols or {})}
    fixed = set(known)
    results = []
    for line in doc.claims:
        defined = line.defines
        scope = known
        if defined and defined not in fixed:
            scope = {k: v for k, v in known.items() if k != defined}
        result = check_chain(line, scope)
        results.append(result)
        final = result.final
        if defined and defined not in fixed and final is not None and final.exact and final.unit is None:
            known[defined] = final.value
    return results
