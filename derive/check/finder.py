"""Walk a document and collect its claims: lines of chains and prose (derive.check.claims) and the cells of
Markdown tables, each named by its row and column headers (`| forward FLOPs | 0.33 TFLOPs |`).

Headings, configuration listings, conventions sections and statements of the input shape (`batch_size = 4`)
carry no claims. Symbols a document defines (`d_k = ... = 64`, `a = ... = 15,517,753,344`) are learned in
order, so later lines may use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from fractions import Fraction
from typing import Callable, Iterator, Mapping

from .claims import (
    CONFIG_LABELS,
    SETTING_LABELS,
    Claim,
    Pair,
    _chain,
    body_text,
    chain_claims,
    split_clauses,
    value_of,
)
from .context import KEY_SYNONYMS, Context, presets_named
from .listings import _NUM, _int
from .document import MAX_LINE, Document, Line
from .lexer import _preprocess
from .notation import _as_matmul
from .prose import prose_claims
from .values import Number, Quantity, _unit, agree

_HEADER_UNIT = re.compile(r"\b(GB|GiB|MB|MiB|TB|TiB|KB|KiB|[Bb]ytes|[KMGTPE]?FLOPs|FLOP/s|[Dd]ays|[Hh]ours|[Ss]econds)\b"
                          r"(?!\s*(?:/|per\b))|(%)")
# Column headers that are a model's sizes (givens), by the words people use.
_SIZE_HEADERS = {"layers", "blocks", "heads", "width", "hidden", "hidden_size", "vocab", "vocabulary", "context",
                 "d_k", "head_dim", "kv_heads", "experts"}
_SEPARATOR = re.compile(r"\s*:?-{2,}:?\s*")
_NUMBER_PHRASE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s*(?:[A-Za-z/%]+)?(?:\s+per\s+\w+)?")
_EQUALS = re.compile(r"(?<![=<>!~])=(?![=>])|≈|~=")
# Symbols a listing may use for the sizes (`V = 50257, L = 48, d = 1600`): givens, not claims.
_LETTERS = {"V", "T", "L", "d", "D", "h", "H", "F", "B", "S", "n", "E"}
_ALIASES = {"dff", "d_ffn", "n_layers", "n_heads", "n_embd", "n_ctx", "n_vocab", "vocab", "seq", "dmodel"}
# Column headers that name no quantity ("| quantity | value |").
_GENERIC = {"value", "values", "quantity", "result", "results", "answer", "number", "amount", "figure", "count"}


# `d_ff 2,048`, `d_ff = 2,048`: a size stated in words before the arithmetic that gives it.
_KEY_VALUE = re.compile(rf"\b({'|'.join(sorted(KEY_SYNONYMS, key=len, reverse=True))})\s*[=:]?\s*{_NUM}")


@dataclass
class Row:
    cells: list[str]
    header: list[str] | None
    caption: str = ""  # the line right before the table when it introduces it (ends with a colon)


def _cells(text: str) -> list[str]:
    s = text.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") and not s.endswith("\\|") else s
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def table_rows(doc: Document) -> dict[int, Row]:
    """Every Markdown table row (not the header or the separator), with its table's header cells."""
    out: dict[int, Row] = {}
    header: list[str] | None = None
    previous: Line | None = None
    prev_cells: list[str] | None = None
    caption, before = "", ""
    for line in doc.lines:
        text = line.text.strip()
        if not text.startswith("|"):
            header, prev_cells, previous = None, None, line
            before = text if line.heading_level is None else ""
            continue
        if prev_cells is None:  # a table starts: the sentence before it, if it introduces it, is its caption
            caption = before if before.endswith(":") and len(before) < 500 else ""
        cells = _cells(text)
        if all(_SEPARATOR.fullmatch(c) or not c for c in cells):
            header = prev_cells
            if previous is not None:
                out.pop(previous.number, None)
        else:
            out[line.number] = Row(cells, header, caption)
        prev_cells, previous = cells, line
    return out


def _parents(doc: Document) -> dict[int, str]:
    """The `name:` line an indented line sits under (the original's `final_rms_norm:` / `    d_model = 1,600`)."""
    out: dict[int, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.lines:
        if line.heading_level is not None:
            stack = []
            continue
        while stack and stack[-1][0] >= line.indent:
            stack.pop()
        if stack:
            out[line.number] = stack[-1][1]
        if line.is_heading and line.heading_level is None and len(stack) < 16:
            stack.append((line.indent, line.text.strip().rstrip(":").strip("*` ")[:200]))
    return out


def _statement(claim: Claim) -> bool:
    """`batch_size = 4`, `using d_ff = 8/3 * d_model = 2,048`: a given or an assumption, not a result."""
    if claim.parent or claim.kind != "chain" or re.search(r"\w\*\s*$", claim.label.replace("**", "")):
        return False  # `seq_len* = 3 d_ff / 2`: the crossover, a result
    if claim.value is not None and claim.value.exact and any(
            _int(m.group(2)) == claim.value.value for m in _KEY_VALUE.finditer(claim.label[-600:])):
        return True  # `gpt2-small: ..., d_ff 2,048 (assumed: 64 x round(8 / 3 x 768 / 64) = 2,048)`: a size's rule
    label = claim.label.strip().strip("*`").lower()
    words = re.findall(r"(?<![\w^])[a-z_][a-z0-9_]*(?![\w^])", label)
    if not words or not re.search(r"(?:^|[\s(,])" + re.escape(words[-1]) + r"\s*$", label):
        return False
    last = words[-1]
    givens = SETTING_LABELS | CONFIG_LABELS | set(KEY_SYNONYMS) | _ALIASES
    tokens = re.findall(r"[A-Za-z_]\w*", claim.label)
    return last in givens or bool(tokens) and tokens[-1] in _LETTERS and re.search(
        r"(?:^|[\s(,])" + tokens[-1] + r"\s*$", claim.label.strip().strip("*`")) is not None


def find_claims(doc: Document, ctx: Context, scope_for: Callable[[int], dict[str, Number]]) -> list[Claim]:
    """All claims in document order; `scope_for(line)` gives the symbols a line may use."""
    return list(iter_claims(doc, ctx, scope_for))


_LETTER = re.compile(r"[A-Za-z]")


def iter_claims(doc: Document, ctx: Context, scope_for: Callable[[int], dict[str, Number]]) -> Iterator[Claim]:
    """The claims line by line (a long document is checked as it is read, not held whole)."""
    rows = table_rows(doc)
    parents = _parents(doc)
    learned: dict[str, Number] = {}
    seen: dict[tuple, list[Claim]] = {}
    for line in doc.lines:
        n = line.number
        if line.heading_level is not None or n in ctx.conventions:
            continue
        if (line.name or "") in ("as_written", "formula_as_written"):
            continue  # `as written: 72 B s L h^2 (...)`: a source's formula in its own notation, a given
        if line.is_config and ((line.name or "") in KEY_SYNONYMS or (line.name or "") in SETTING_LABELS):
            continue  # `vocab_size : 50,257`: the listing (a `token_embedding: 80,411,200` line is a claim)
        if len(line.text) > MAX_LINE:
            yield Claim(n, line.text[:200] + "...", "", "line", note=f"a line of {len(line.text):,} "
                        f"characters is data, not a derivation step; it was not read")
            continue
        base = scope_for(n)
        scope = {**learned, **{k: v for k, v in base.items() if k not in learned or k in CONFIG_LABELS}}
        if n in rows:
            yield from _row_claims(n, rows[n], scope, line.context, ctx.own)
            continue
        if line.is_heading and not line.segments:
            continue
        key = (line.text.strip(), line.context, parents.get(n), tuple(sorted(learned.items())), id(base))
        if key in seen:  # the same line again (a document that repeats itself): the same claims
            found = [dc_replace(c, line=n, quantities=list(c.quantities), pairs=list(c.pairs)) for c in seen[key]]
        else:
            found = _line_claims(line, scope, parents.get(n), frozenset(learned), ctx.own)
            if len(seen) < 20_000:
                seen[key] = [dc_replace(c) for c in found]
        for c in found:
            if c.symbol and c.value is not None and c.value.exact and c.symbol.lower() not in CONFIG_LABELS \
                    and c.symbol.lower() not in SETTING_LABELS and not c.symbol.endswith("*") \
                    and not (c.formula and c.segments and _LETTER.search(c.segments[-1])):
                # (`P = 12 d_model^2 num_layers + ...` with no number written defines P's closed form, which
                # may assume another d_ff than the config's: the number it evaluates to is not P's value)
                learned[c.symbol] = c.value.value
        yield from (c for c in found if not _statement(c) and not _definition(c) and not _equation(c))


def _equation(claim: Claim) -> bool:
    """`4 B d L S^2 = 6 B d_ff d L S` (an equation to solve) or `d = d_model, h = num_heads` (a legend):
    formulas on both sides, no result."""
    if claim.kind != "chain" or not claim.formula:
        return False
    segs = [s.strip() for s in claim.segments]
    if re.search(r"[A-Za-z_)]\s*(?:\^\s*\(?\d+\)?)?\s*$", claim.label) and re.search(
            r"[A-Za-z_]\w*\s*(?:[*/+^-]|\s)\s*[\w(]", claim.label.split("where")[-1].split(":")[-1]) and \
            re.search(r"[*^]", claim.label):
        return True  # `... where 4 B d L S^2 = 6 B d_ff d L S`: the left side is a formula too
    if all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s) for s in segs) and re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]*\s*", claim.label or "x"):
        return True
    if len(segs) >= 2 and not claim.symbol and re.fullmatch(r"[A-Za-z_]\w*", segs[-1]) \
            and not re.fullmatch(r"[A-Za-z_]\w*", segs[0]) \
            and all(re.search(r"[A-Za-z]", s) and not re.search(r"\d{2,}|\d,\d", s) for s in segs):
        return True  # `k and v project to num_kv_heads * d_k = d_kv`: notation, every side in symbols
    return len(segs) >= 2 and any(p.formulas and p.how is None for p in claim.pairs)


def _definition(claim: Claim) -> bool:
    """`GB = 10^9 bytes`: a unit's definition. Right ones are conventions, not claims; a wrong one stays,
    its arithmetic compared with the unit's size."""
    m = re.search(r"(?:^|[(,;]\s*|\b1\s+)([A-Za-z/]+)\s*$", claim.label.strip())
    words = [m.group(1)] if m else []
    if claim.kind != "chain" or not words or _unit(words[-1]) is None or claim.value is None:
        return False
    family, size = _unit(words[-1])
    if claim.value.unit is None:  # `days = 568,819,274 / 86,400 = 6,583.56`: a value named by its unit
        claim.quantities = [Quantity(q.value * size, family, q.approx_digits, words[-1], q.scale * size)
                            if isinstance(q, Quantity) and q.unit is None else q for q in claim.quantities]
        q = claim.value
        claim.value = Quantity(q.value * size, family, q.approx_digits, words[-1], q.scale * size)
        return False
    one = Quantity(Fraction(size), family, None, words[-1], Fraction(size))
    if agree(one, claim.value) is not None:
        return True
    claim.quantities.insert(0, one)
    claim.segments = (f"1 {words[-1]}",) + claim.segments
    claim.pairs.insert(0, Pair(0, 1, None))
    return False


def _line_claims(line: Line, scope: Mapping[str, Number], parent: str | None,
                 learned: frozenset[str] = frozenset(), models: tuple[str, ...] = ()) -> list[Claim]:
    out: list[Claim] = []
    body = body_text(line)
    for clause in split_clauses(body):
        if _EQUALS.search(clause):
            head, value_part = _label_value(clause, scope)
            found, leftovers = chain_claims(line.number, value_part if head else clause, scope, line.context,
                                            parent, learned, models)
            if head:
                for c in found[:1]:
                    c.label = f"{head} {c.label}".strip()
                    c.text = clause.strip()
                out.extend(prose_claims(line.number, head, scope, line.context, parent))
            elif found and re.search(r"\d", found[0].label):
                # `One AdamW step costs 14 FLOPs per parameter = 29,778,806,400 FLOPs`: the label's own
                # number is a claim of its own, and no part of the name
                inner = prose_claims(line.number, found[0].label, scope, line.context, parent)
                if inner:
                    out.extend(inner)
                    found[0].label = _NUMBER_PHRASE.sub(" ", found[0].label).strip()
            out.extend(found)
            for words in leftovers:
                out.extend(prose_claims(line.number, words, scope, line.context, parent))
            continue
        colon = clause.find(":")
        after = clause[colon + 1:].strip() if colon > 0 else ""
        if after and isinstance(value_of(after.split(",")[0], scope)[0], Quantity):
            found, leftovers = chain_claims(line.number, clause, scope, line.context, parent, learned, models)
            out.extend(found)
            for words in leftovers:
                out.extend(prose_claims(line.number, words, scope, line.context, parent))
            continue
        if colon > 0 and not after and parent is None:
            continue
        out.extend(prose_claims(line.number, clause, scope, line.context, parent))
    return out


def _label_value(clause: str, scope: Mapping[str, Number]) -> tuple[str, str]:
    """`they need 8,508,230,400 bytes = 8.51 GB` -> (`they need`, `8,508,230,400 bytes = 8.51 GB`)."""
    m = _EQUALS.search(clause)
    assert m is not None
    first = clause[:m.start()]
    if not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", first):
        return "", clause
    numbers = list(re.finditer(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?", first))
    if not numbers:
        return "", clause
    start = numbers[-1].start()
    tail = first[start:]
    if isinstance(value_of(tail, scope)[0], Quantity) and not re.match(r"\s*[*x×/+^(\w-]", first[:start][::-1]):
        return first[:start].strip(), clause[start:]
    return "", clause


def _row_claims(number: int, row: Row, scope: Mapping[str, Number], context: tuple[str, ...],
                own: tuple[str, ...] = ()) -> list[Claim]:
    """The claims of a table row; `own`: the document's own model names, which name a row's model as a
    preset's name does."""
    cells = row.cells
    header = row.header or []
    label = cells[0] if cells and not re.fullmatch(r"[\d,.\s%]+", cells[0]) else ""
    # `q_a_proj: query compression to r_q (1, 163840, 7168) @ ...`: the name before the colon names the row
    m = re.match(r"\s*([A-Za-z_][\w.\-]*)\s*:\s+\S", label)
    row_name = m.group(1) if m else None
    key = label.strip("`* ").lower().replace(" ", "_")
    if key in KEY_SYNONYMS or key in SETTING_LABELS:
        return []
    models = (presets_named(label) or [m for m in own if label.strip("`*$ ") == m]) if label else []
    out: list[Claim] = []
    skip = False
    for j, cell in enumerate(cells[1:] if label else cells, start=1 if label else 0):
        if skip:
            skip = False
            continue
        head = header[j] if j < len(header) else ""
        hkey = head.strip("`*$ ").lower().replace(" ", "_")
        if hkey in KEY_SYNONYMS or hkey in _SIZE_HEADERS or hkey.rstrip("s") in _SIZE_HEADERS or hkey in (
                "symbol", "key", "config_key", "times", "repeats", "occurrences", "x", "#", "multiplicity",
                "as_written"):
            continue  # the config's sizes, how many times a row counts, a source's formula as written: givens
        text = cell.replace("`", "").replace("**", "").strip()
        if not text or text in ("-", "–") or not re.search(r"\d|[A-Za-z]", text):
            continue
        names = [label] + [x for x in cells[1:j] if _name_like(x)]
        name = " ".join(n for n in names if n) + f" {'' if head.strip('*` ').lower() in _GENERIC else head}"
        name = name.strip()
        if _EQUALS.search(text):
            found, _ = chain_claims(number, f"{name}: {text}", scope, context, None)
            out.extend(found)
            continue
        value, formula = value_of(text, scope)
        nxt = cells[j + 1].replace("`", "").replace("**", "").strip() if j + 1 < len(cells) else ""
        nxt_head = header[j + 1] if j + 1 < len(header) else ""
        nxt_value = value_of(_with_unit(nxt, nxt_head), scope)[0] if nxt else None
        if (formula or "@" in text) and isinstance(nxt_value, Quantity) and not re.search(r"[A-Za-z]", nxt):
            out.append(_chain(number, f"{name}: {text} = {nxt}", name, [text, _with_unit(nxt, nxt_head)],
                              scope, context, None, None))
            skip = True
            continue
        if not isinstance(value, Quantity):
            continue
        if "@" in text or _as_matmul(_preprocess(text)[0]):
            continue  # operand shapes on their own describe a matmul; the number next to them is the claim
        if formula:
            out.append(_chain(number, f"{name}: {text}", name, [text], scope, context, None, None))
            continue
        text = _with_unit(text, head)
        value, _ = value_of(text, scope)
        if isinstance(value, Quantity):
            out.append(Claim(number, f"{name}: {cell}", name, "cell", (text,), [value], [], value,
                             context=context, model=models[0] if models else None))
    for c in out:
        c.model = c.model or (models[0] if models else None)
        c.names = tuple(x.strip("`* ") for x in cells if _name_like(x)) + ((row_name,) if row_name else ())
        c.caption = row.caption
    return out


def _name_like(cell: str) -> bool:
    """A cell that names something (`rms_norm_1`, `per block`), not a description or a number."""
    text = cell.strip("`* ")
    return bool(text) and len(text.split()) <= 3 and bool(re.search(r"[A-Za-z]", text)) \
        and not re.search(r"[=@]|\d{3}", text)


def _with_unit(cell: str, header: str) -> str:
    """A bare number in a column headed `GB (10^9 B)` or `FLOPs each` is in that unit."""
    if not re.fullmatch(r"\s*[\d,]+(?:\.\d+)?\s*", cell):
        return cell
    m = _HEADER_UNIT.search(header or "")
    if m and m.group(2):
        return f"{cell}%"
    unit = m.group(1) if m else ""
    unit = unit.lower() if unit.lower() in ("bytes", "days", "hours", "seconds") else unit
    return f"{cell} {unit}" if m else cell
