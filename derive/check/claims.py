"""Find every numeric claim of a document: chains (`a = b = c`, `name: value`, several on one line), prose
("roughly 1.5 billion parameters", "about 7.9 GB", "33x more", "22.3%"), Markdown table cells (named by their
row and column headers) and formulas in symbols.

A claim keeps its words (the label and the qualifiers around the number), every `=`-segment with its exact
value, and the consecutive comparisons of its chain. What it means is decided elsewhere (derive.check.explain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .arith import _strip_prose, evaluate
from .document import Line, _split_segments
from .lexer import _preprocess, _tokenize
from .values import (
    NotUnderstood,
    Number,
    Quantity,
    _is_trailing_word,
    agree,
    alternate_unit_match,
)

MAX_CLAIMS_PER_LINE = 64  # a line with more `=` than this is data, not a derivation: the rest are counted
SETTING_LABELS = {"batch_size", "batch", "seq_len", "sequence_length", "seq_length", "context_length", "n_ctx",
                  "b", "t", "s", "n", "steps", "mfu", "budget"}
CONFIG_LABELS = {"vocab_size", "num_layers", "d_model", "num_heads", "d_ff", "num_kv_heads", "n_experts",
                 "experts_per_token", "n_layer", "n_head", "n_embd", "hidden_size", "intermediate_size"}


@dataclass
class Pair:
    """Two consecutive understood segments and how they compare."""

    left: int
    right: int
    how: str | None  # exact | rounding | written unit | None (they disagree)
    alternate_unit: str | None = None
    macs: bool = False  # a matmul's shapes against half their FLOPs (multiply-accumulates)
    formulas: bool = False  # both sides are formulas in symbols: an equation, not arithmetic to check


@dataclass
class Claim:
    """One number the author presents as a result."""

    line: int
    text: str
    label: str
    kind: str  # chain | prose | cell | ratio
    segments: tuple[str, ...] = ()
    quantities: list = field(default_factory=list)  # Quantity | NotUnderstood per segment
    pairs: list[Pair] = field(default_factory=list)
    value: Quantity | None = None
    formula: str | None = None  # the claimed segment when it is a formula in symbols
    symbol: str | None = None  # `d_k`, `a`, `P`: the symbol a chain states
    shape: tuple[int, int] | None = None  # (batch_size, seq_len) its matmul shapes show
    model: str | None = None  # a preset a table row names
    context: tuple[str, ...] = ()
    parent: str | None = None  # the indented heading it sits under (`final_rms_norm:`)
    note: str = ""
    noun: str | None = None  # prose: the noun right after the number (`trainable parameters`)
    qualifier: str = ""  # words after the value (`in fp32`, `per sequence`)
    names: tuple[str, ...] = ()  # name-like parts of the label (a table's name cells), compared with titles
    caption: str = ""  # the sentence introducing its table (`AdamW, element-wise operations per parameter:`)

    @property
    def mismatch(self) -> Pair | None:
        return next((p for p in self.pairs if p.how is None and not p.formulas), None)


Scope = Callable[[int], Mapping[str, Number]]

_SENTENCE = re.compile(r"(?<=[A-Za-z0-9)%])\.\s+(?=[A-Za-z(*])|;\s+|\s{3,}(?=[A-Za-z#(]\S*\s*[=:])")
def body_text(line: Line) -> str:
    """The line without list/quote/heading markers, bold and code marks."""
    s = line.text.strip()
    s = re.sub(r"^(?:>\s*)+", "", s)
    s = re.sub(r"^#{1,6}\s+", "", s)
    s = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", s)
    s = s.replace("`", "").replace("**", "").replace("__", " ")
    return s


def split_clauses(text: str) -> list[str]:
    """Sentences and `;`-separated parts (outside parentheses), and two claims separated by wide spaces."""
    if "(" not in text:
        return [c for c in _SENTENCE.split(text) if c and c.strip()]
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and c in ".;" and i + 1 < len(text) and text[i + 1] == " ":
            if c == ";" or (i > 0 and (text[i - 1].isalnum() or text[i - 1] in ")%") and text[i + 2:i + 3].isalpha()):
                out.append(text[start:i])
                start = i + 1
    out.append(text[start:])
    final = []
    for part in out:
        final.extend(p for p in re.split(r"\s{3,}(?=[A-Za-z#(]\S*\s*[=:])", part) if p.strip())
    return final


# --------------------------------------------------------------------------------------------
# evaluating segments
# --------------------------------------------------------------------------------------------

def value_of(segment: str, scope: Mapping[str, Number]) -> tuple[Quantity | NotUnderstood, bool]:
    """(value, is_formula): arithmetic first, then a formula with implicit multiplication."""
    try:
        q = evaluate(segment, scope)
        if q.stripped and _has_symbols(segment, scope):  # `L (3 d_ff d_model + ...)`: a formula, not a remark
            try:
                f = evaluate(segment, scope, implicit=True)
                if not f.stripped:
                    return f, True
            except NotUnderstood:
                pass
        return q, _has_symbols(segment, scope)
    except NotUnderstood as exc:
        first = exc
    if re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}\s+[A-Za-z]{3,}", segment) and not re.search(r"_", segment):
        return first, False
    try:
        return evaluate(segment, scope, implicit=True), True
    except NotUnderstood:
        return first, False


def _has_symbols(segment: str, scope: Mapping[str, Number]) -> bool:
    return any(w in scope for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", segment)
               if not _is_trailing_word(w) and w not in ("floor", "ceil"))


def split_value(segment: str, scope: Mapping[str, Number]) -> tuple[str, str] | None:
    """`8.51 GB in fp32` -> (`8.51 GB`, `in fp32`); `2,127,057,600   memory` -> (`2,127,057,600`, `memory`)."""
    try:
        text, _ = _preprocess(segment)
        toks = _tokenize(text)
    except NotUnderstood:
        return None
    depth = 0
    for k, tok in enumerate(toks):
        depth += {"LP": 1, "RP": -1}.get(tok.kind, 0)
        if k == 0 or depth > 0 or toks[k - 1].kind not in ("NUM", "IDENT", "RP", "OTHER"):
            continue
        cut = ((tok.kind == "IDENT" and tok.text not in scope and not _is_trailing_word(tok.text)
                and tok.text not in ("floor", "ceil"))
               or (tok.kind == "COMMA" and k + 1 < len(toks) and text[tok.end:tok.end + 1] == " ")
               or (tok.kind == "OTHER" and tok.text not in "%"))
        if cut:
            head, rest = text[:tok.start].strip(), text[tok.start:].strip(" ,:")
            try:
                evaluate(head, scope)
            except NotUnderstood:
                return None
            return head, rest
    return None


def _shape_setting(segments: tuple[str, ...], scope: Mapping[str, Number]) -> tuple[int, int] | None:
    """(batch, seq) from the first matmul written with shapes: (B, S, d) @ ... or (B, h, S, d_k) @ ...."""
    d_model, heads = scope.get("d_model"), scope.get("num_heads")
    for seg in segments:
        m = re.search(r"\(\s*([\d,\s]+?)\s*\)\s*(?:@|×|\*|x)\s*\(", seg.replace("`", ""))
        if not m:
            continue
        try:
            dims = [int(x.replace(",", "").strip()) for x in re.split(r",\s+|,(?=\d{1,3}(?!\d))|\s*,\s*", m.group(1))
                    if x.strip()]
        except ValueError:
            continue
        if len(dims) == 3:
            return dims[0], dims[1]
        if len(dims) == 4 and dims[1] == heads:
            return dims[0], dims[2]
        if len(dims) == 2 and dims[1] in (d_model,):
            return 1, dims[0]
    return None


def check_segments(segments: tuple[str, ...], scope: Mapping[str, Number]) -> tuple[list, list[Pair], list[bool]]:
    """Values of every segment and the comparison of consecutive understood ones."""
    values, formulas = [], []
    for seg in segments:
        v, is_formula = value_of(seg, scope)
        values.append(v)
        formulas.append(is_formula)
    pairs = []
    understood = [i for i, v in enumerate(values) if isinstance(v, Quantity)]
    for i, j in zip(understood, understood[1:]):
        a, b = values[i], values[j]
        how = agree(a, b)
        pair = Pair(i, j, how)
        if how is None and re.search(r"\)\s*(?:[*×x]|\\times)\s*\(", segments[i]):
            try:  # `(4 x 1,600) x (1,600 x 2)` may be plain arithmetic after all
                plain = evaluate(segments[i], scope, shapes=False)
                if agree(plain, b) is not None:
                    values[i], how = plain, agree(plain, b)
                    pair.how = how
            except NotUnderstood:
                pass
        if how is None and _share(a, b):  # `536,870,912 bytes = 0.7% of the budget`: a share of something else
            pair.how = "share"
        elif how is None:
            pair.alternate_unit = alternate_unit_match(a, b)
            pair.formulas = formulas[i] and formulas[j] and _symbolic_both(segments[i], segments[j])
            if "@" in segments[i] or re.search(r"\)\s*[*×x]\s*\(", segments[i]):
                pair.macs = a.value == 2 * b.value
        pairs.append(pair)
    return values, pairs, formulas


def _share(a: Quantity, b: Quantity) -> bool:
    """A quantity in units (bytes, FLOPs, seconds) set equal to a percentage: the percentage is its share of
    something else, not the same number (its value is checked as a claim of its own)."""
    return any(q.unit_written == "%" and other.unit not in (None, "ratio") for q, other in ((a, b), (b, a)))


def _symbolic_both(a: str, b: str) -> bool:
    """Both sides written in symbols (no literal beyond small constants): an equation, not arithmetic."""
    def symbolic(s: str) -> bool:
        return bool(re.search(r"[A-Za-z]", s)) and not re.search(r"\d{3,}|\d,\d{3}", s)
    return symbolic(a) and symbolic(b)


# --------------------------------------------------------------------------------------------
# chains
# --------------------------------------------------------------------------------------------

def _wordy(segment: str, scope: Mapping[str, Number]) -> bool:
    """Words, not arithmetic: two words side by side, or a word that is neither a symbol nor a unit."""
    try:
        text, _ = _preprocess(segment)
        toks, _ = _strip_prose(_tokenize(text), text, scope)
    except (NotUnderstood, RecursionError):
        return True
    words = [t for t in toks if t.kind == "IDENT" and t.text not in scope and not _is_trailing_word(t.text)
             and t.text not in ("floor", "ceil")]
    return bool(words) or not toks


def chain_claims(number: int, clause: str, scope: Mapping[str, Number], context: tuple[str, ...],
                 parent: str | None, learned: frozenset[str] = frozenset(), models: tuple[str, ...] = ()
                 ) -> tuple[list[Claim], list[str]]:
    """Claims of one clause with `=`: (claims, leftover words for prose claims); `models`: the document's own
    model names (a made-up edition's `toy-a`), which a label names as it names a preset."""
    name = None
    first_sep = re.search(r"(?<![=<>!~])=(?![=>])|≈|~=", clause)
    colon = clause.find(":")
    rest = clause
    if 0 < colon and (first_sep is None or colon < first_sep.start()) and not clause[:colon].strip().isdigit():
        name, rest = clause[:colon].strip(), clause[colon + 1:]
    segments = list(_split_segments(rest))
    if not segments:
        return [], []
    symbol = None
    head = segments[0].strip()
    if name is not None and len(segments) > 1 and re.fullmatch(r"[A-Za-z]", head) and head in scope \
            and re.search(r",\s*[A-Za-z]\w*\s*$", segments[1]):
        name = None  # `(a) GPT-2 XL: V = 50257, T = 1024`: the symbol is what the chain states
    if name is not None and len(segments) > 1 and _given(head) and _names_model(name, models):
        # `gpt2-small: d_ff = 3,072`: the size of the model the label names, stated (not d_ff's arithmetic)
        name, segments = f"{name} {head}", segments[1:]
    if name is None:
        ident = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\*?|[A-Za-z]\w*\s*\([A-Za-z ,]*\)", head)
        if ident:
            symbol = head.split("(")[0].strip()
            name = head
            if head not in scope or head in learned:  # `b = ...` restates (or redefines) the document's b
                segments = segments[1:]
        elif _wordy(head, scope) and len(segments) > 1:
            name, segments = head, segments[1:]
    elif len(segments) > 1 and _wordy(head, scope) and split_value(head, scope) is None:
        last = re.search(r"([A-Za-z_]\w*)\s*$", head)
        if last and _given(last.group(1)):
            # `mixture of experts: 64 experts of width d_ff_expert = 1,408`: a size the words end on, stated
            name, segments = f"{name} {head}", segments[1:]
        else:  # `attention: W_Q, ..., W_O each d x d -> 4 * 1600^2 = 10.24M`: the arithmetic the words end on
            tail = _label_tail(head, scope)[1]
            segments = [tail, *segments[1:]] if tail else segments
    claims: list[Claim] = []
    leftovers: list[str] = []
    label = name or ""
    current: list[str] = []
    for k, seg in enumerate(segments):
        v, _ = value_of(seg, scope)
        if isinstance(v, Quantity) or not seg.strip():
            current.append(seg)
            continue
        split = split_value(seg, scope)
        if split is None:
            current.append(seg)  # unreadable: skipped in the arithmetic, like a remark
            continue
        head, words = split
        current.append(head)
        if k + 1 < len(segments) and words and not re.match(r"^[,;]", words):
            claims.append(_chain(number, clause, label, current, scope, context, parent, symbol))
            label, tail = _label_tail(words, scope)
            current, symbol = [tail] if tail else [], None
        else:
            leftovers.append(words)
            claim = _chain(number, clause, label, current, scope, context, parent, symbol)
            claim.qualifier = words
            claims.append(claim)
            current = []
            label = ""
        if len(claims) >= MAX_CLAIMS_PER_LINE:
            break
    if current:
        claims.append(_chain(number, clause, label, current, scope, context, parent, symbol))
    return [c for c in claims if c.value is not None or c.formula], leftovers


def _label_tail(words: str, scope: Mapping[str, Number]) -> tuple[str, str | None]:
    """`is given (q: num_heads * head_dim` -> (`is given (q:`, `num_heads * head_dim`): arithmetic at the end
    of the words before an `=` is the chain's first step. A lone size (`of width d_ff_expert`) stays in the
    words: it names what the value is."""
    if not words or "=" in words or len(words) > 400 or not re.search(r"[*/+^]", words):
        return words, None
    tokens = words.split(" ")
    for i in range(1, len(tokens)):
        tail = " ".join(tokens[i:]).strip()
        if not tail or tail.count("(") != tail.count(")") or not re.search(r"[*/+^]", tail) \
                or re.match(r"[*/+^)]", tail):
            continue
        try:
            q = evaluate(tail, scope)
        except NotUnderstood:
            continue
        if isinstance(q, Quantity) and not q.stripped and _has_symbols(tail, scope):
            return " ".join(tokens[:i]).strip(), tail
    return words, None


def _names_model(label: str, models: tuple[str, ...] = ()) -> bool:
    from .context import presets_named

    return bool(presets_named(label)) or label.strip("`*$ ") in models


def _given(head: str) -> bool:
    """A config key or a setting written alone (`d_ff`, `batch_size`): a size a statement gives."""
    from ..model.options import OPTIONAL_INT_KEYS

    return head in CONFIG_LABELS or head in SETTING_LABELS or head in OPTIONAL_INT_KEYS


def _chain(number, clause, label, segments, scope, context, parent, symbol) -> Claim:
    segs = tuple(segments)
    values, pairs, formulas = check_segments(segs, scope)
    claim = Claim(number, clause.strip(), label.strip(), "chain", segs, values, pairs, context=context,
                  parent=parent, symbol=symbol)
    exact = [q for q in values if isinstance(q, Quantity) and q.exact]
    understood = [q for q in values if isinstance(q, Quantity)]
    claim.value = exact[-1] if exact else (understood[-1] if understood else None)
    if understood and formulas[values.index(understood[-1])]:
        last = segs[values.index(understood[-1])]
        if not any(isinstance(q, Quantity) and not f for q, f in zip(values, formulas)):
            claim.formula = last
            claim.value = understood[-1]
    claim.shape = _shape_setting(segs, scope)
    return claim


# --------------------------------------------------------------------------------------------
# prose
# --------------------------------------------------------------------------------------------
