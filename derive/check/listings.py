"""Where a document lists the model it is about: `key : value` listings and tables of keys (sizes and
architecture options, in words as the LaTeX sheets write them: `ffn & mixture of experts`), inline listings
(`GPT-2 XL (vocab_size 50,257, ...)`, `V = 50257, L = 48`), stated assumptions (`d_ff = 8/3 * d_model = 2,048`),
the shipped presets a document names, and each named model's own sizes (a table row or a line naming it).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..model.config import (
    BOOL_KEYS,
    CHOICE_KEYS,
    INT_KEYS,
    OPTIONAL_INT_KEYS,
    preset_names,
)
from .document import Document, Line
from .vocabulary import option_value

SIZE_KEYS = INT_KEYS + OPTIONAL_INT_KEYS
# Names people give the config keys in prose listings.
KEY_SYNONYMS = {"vocab_size": "vocab_size", "n_vocab": "vocab_size", "context_length": "context_length",
                "n_ctx": "context_length", "max_position_embeddings": "context_length", "num_layers": "num_layers",
                "n_layer": "num_layers", "n_layers": "num_layers", "num_hidden_layers": "num_layers",
                "d_model": "d_model", "n_embd": "d_model", "hidden_size": "d_model", "num_heads": "num_heads",
                "n_head": "num_heads", "n_heads": "num_heads", "num_attention_heads": "num_heads", "d_ff": "d_ff",
                "intermediate_size": "d_ff", "num_kv_heads": "num_kv_heads", "n_kv_heads": "num_kv_heads",
                "num_key_value_heads": "num_kv_heads", "n_experts": "n_experts", "num_experts": "n_experts",
                "num_local_experts": "n_experts", "experts_per_token": "experts_per_token",
                "num_experts_per_tok": "experts_per_token",
                # the sizes of issue 12's architectures, as the sheets list them and transformers names them
                **{k: k for k in OPTIONAL_INT_KEYS}, "d_head": "head_dim",
                "moe_intermediate_size": "d_ff_expert", "shared_expert_intermediate_size": "d_ff_shared",
                "first_k_dense_replace": "num_dense_layers"}
SETTING_NAMES = {"batch_size", "batch", "seq_len", "sequence_length", "seq_length", "context_length", "n_ctx",
                 "tokens", "t", "b", "s", "n"}
_NUM = r"(?<![\d,])(\d{1,3}(?:,\d{3}){1,8}(?!\d|,\d)|\d{1,24}(?!\d|,\d|\.\d))"  # at most 24 digits
_INLINE = re.compile(rf"(?<![\w*/+^@-])({'|'.join(sorted(KEY_SYNONYMS, key=len, reverse=True))})"
                     rf"\s*(?:=|:|of|is|at)?\s*{_NUM}(?!\s*(?:[*/x×^+@%(-]|\.\d|[A-Za-z_]\w*\s*(?:[*/^+)]|$)|"
                     rf"d_model|d_?ff|\\))", re.IGNORECASE)
_LETTER_KEYS = {"V": "vocab_size", "T": "context_length", "L": "num_layers", "d": "d_model", "D": "d_model",
                "h": "num_heads", "H": "num_heads", "d_ff": "d_ff", "dff": "d_ff", "F": "d_ff", "E": "n_experts"}
_LETTERS_RE = re.compile(rf"(?<![\w*/+^.-])({'|'.join(_LETTER_KEYS)})\s*=\s*{_NUM}(?!\s*(?:[*/x×^+@%-]|\.\d))")

@lru_cache(maxsize=None)
def _preset_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """`GPT-2 XL`, `gpt2-xl`, `gpt2 xl` all name the preset gpt2-xl (longest names first)."""
    out = []
    for name in sorted(preset_names(), key=len, reverse=True):
        parts = re.findall(r"[a-z]+|\d+", name.lower())
        out.append((re.compile(r"(?<![\w-])" + r"[\s_-]?".join(parts) + r"(?![\w-])", re.IGNORECASE), name))
    return tuple(out)


def presets_named(text: str) -> list[str]:
    """Preset names a text mentions, in order of first mention (never a path: only the shipped presets)."""
    found = []
    for pattern, name in _preset_patterns():
        m = pattern.search(text, 0, 2_000_000)
        if m:
            found.append((m.start(), name))
    return [name for _, name in sorted(found)]


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def statement_values(doc: Document, assumptions: set | None = None) -> dict[str, tuple[int, int]]:
    """Sizes a document states outside a `key : value` listing: inline listings and `d_ff = ... = 2,048`
    (the keys of the second kind are added to `assumptions`)."""
    found: dict[str, tuple[int, int]] = {}
    for line in doc.lines:
        text = line.text
        if len(text) > 2000:
            continue
        letters = list(_LETTERS_RE.finditer(text))
        for m in letters if len(letters) >= 2 else ():  # `V = 50257, L = 48, d = 1600, h = 25`
            before = text[:m.start()].rstrip()
            if before.endswith(("*", "/", "+", "-", "^", "@", "x", "×")):
                continue
            found.setdefault(_LETTER_KEYS[m.group(1)], (_int(m.group(2)), line.number))
        for m in _INLINE.finditer(text):
            before = text[:m.start()].rstrip()
            if before.endswith(("*", "/", "+", "-", "^", "@", "x", "×", "(")) and not before.endswith("("):
                continue  # `8/3 * d_model = 2,048`: d_model is a factor here, not a listing
            key = KEY_SYNONYMS[m.group(1).lower()]
            found.setdefault(key, (_int(m.group(2)), line.number))
        for key, value in _assumption(line):
            if key not in found and assumptions is not None:
                assumptions.add(key)
            found.setdefault(key, (value, line.number))
    return found


def _assumption(line: Line) -> list[tuple[str, int]]:
    """`d_ff = 8/3 * d_model = 2,048` (a chain whose head is a config key and whose end is an integer)."""
    from .arith import evaluate
    from .values import NotUnderstood

    out = []
    for m in re.finditer(rf"\b({'|'.join(SIZE_KEYS)})\s*=\s*([^=;]{{1,80}}?)=\s*{_NUM}", line.text):
        expr = m.group(2).strip()
        try:
            if expr and not re.fullmatch(r"[\d,]+", expr):
                evaluate(expr, {"d_model": 1, "num_heads": 1, "vocab_size": 1, "num_layers": 1,
                                "context_length": 1, "d_ff": 1})
        except NotUnderstood:
            continue
        out.append((m.group(1), _int(m.group(3))))
    return out


def _option(line: Line):
    """`norm : rmsnorm`, `bias : False` as the model-accounting sheet lists them."""
    if line.name not in CHOICE_KEYS and line.name not in BOOL_KEYS or len(line.segments) != 1:
        return None
    return option_value(line.name, line.segments[0].strip().strip("`*"), CHOICE_KEYS.get(line.name))


def listing_blocks(doc: Document) -> list[tuple[int, dict]]:
    """Consecutive `key : value` lines (sizes and architecture options): (first line, values) per block."""
    blocks: list[tuple[int, dict]] = []
    current: dict = {}
    start, last = 0, -10
    for line in doc.lines:
        key = KEY_SYNONYMS.get(line.name or "")
        value = None
        if key and len(line.segments) == 1 and not line.is_heading:
            v = re.fullmatch(r"\s*[`*]*\s*" + _NUM + r"\s*[`*]*\s*", line.segments[0])
            value = _int(v.group(1)) if v else None
        option = _option(line) if value is None else None
        if value is None and option is None and line.text.lstrip().startswith("|"):
            key, value, option = _table_listing(line.text)
        if value is None and option is None:
            continue
        if line.number - last > 3 or (key in current and value is not None):
            if current:
                blocks.append((start, current))
            current, start = {}, line.number
        if value is not None:
            current[key] = value
        else:
            current[key if key and key not in KEY_SYNONYMS else line.name] = option
        last = line.number
    if current:
        blocks.append((start, current))
    merged: list[tuple[int, dict]] = []
    for s, b in blocks:  # architecture options listed apart from their sizes belong to the sizes above
        if merged and not any(k in INT_KEYS for k in b) and not any(k in merged[-1][1] for k in b):
            merged[-1][1].update(b)
        else:
            merged.append((s, b))
    return [(s, b) for s, b in merged if any(k in SIZE_KEYS for k in b)]


def _table_listing(text: str) -> tuple[str | None, int | None, object]:
    """`| vocab_size | V | 50,257 |`: a listing written as a table row (key first, value last)."""
    cells = [c.strip().strip("`*$ ") for c in text.strip().strip("|").split("|")]
    if len(cells) < 2:
        return None, None, None
    name = cells[0].lower().replace(" ", "_")
    key = KEY_SYNONYMS.get(name)
    if key is None and (name in CHOICE_KEYS or name in BOOL_KEYS):
        value = option_value(name, cells[-1], CHOICE_KEYS.get(name))
        if value is not None:
            return name, None, value
    if key is None:
        return None, None, None
    v = re.fullmatch(_NUM, cells[-1])
    if v:
        return key, _int(v.group(1)), None
    return None, None, None


# Column headers and words of a listing line that name a size (`| model | num_layers | d_model |`, `12 layers`).
_HEADER_KEYS = {"layers": "num_layers", "blocks": "num_layers", "heads": "num_heads", "width": "d_model",
                "hidden": "d_model", "vocab": "vocab_size", "vocabulary": "vocab_size", "context": "context_length",
                "ffn_width": "d_ff", "kv_heads": "num_kv_heads", "experts": "n_experts"}
_WORD_SIZES = re.compile(rf"{_NUM}\s+(layers|blocks|heads|experts)\b", re.IGNORECASE)


def _header_key(cell: str) -> str | None:
    name = re.sub(r"[^a-z0-9_]+", "_", cell.strip("`*$ ").lower()).strip("_")
    return KEY_SYNONYMS.get(name) or _HEADER_KEYS.get(name)


_MODEL_HEADER = re.compile(r"model|models|name|config|variant|size", re.IGNORECASE)
_OWN_NAME = re.compile(r"[A-Za-z][\w.\-]{0,39}")
_OWN_LINE = re.compile(r"\s*(?:[-*+]\s+)?[`*]*([A-Za-z][\w.\-]{0,39})[`*]*\s*:\s+")


def _own_name(cell: str) -> str | None:
    """A model name of the document's own (`toy-a`, `my_model`): one word, not a number nor a config key."""
    name = cell.strip("`*$ ")
    if not _OWN_NAME.fullmatch(name) or name.lower() in KEY_SYNONYMS or name.lower() in _HEADER_KEYS:
        return None
    return name


def model_listings(doc: Document) -> dict[str, dict[str, int]]:
    """Sizes the document gives for each model it names, besides its main listing: a table row naming the
    model under headers that are config keys (`| gpt2-small | 12 | 768 | 12 | 2,048 |`), or a line naming it
    with an inline listing (`gpt2-small: 12 layers, d_model 768, num_heads 12, d_ff 2,048`).  Models of the
    document's own (a made-up edition's `toy-a`, not a shipped preset) are named by such a row under a
    `model` column, or by such a line (`- toy-a: 2 layers, d_model 36, num_heads 3`)."""
    out: dict[str, dict[str, int]] = {}
    header: list[str | None] | None = None
    own_table = False
    for line in doc.lines:
        text = line.text.strip()
        if len(text) > 2000:
            continue
        if text.startswith("|"):
            cells = [c.strip() for c in text.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
                continue
            named = presets_named(cells[0]) if cells else []
            if not named and header is not None and own_table and _own_name(cells[0]):
                named = [_own_name(cells[0])]
            if not named:
                header = [_header_key(c) for c in cells]
                own_table = bool(_MODEL_HEADER.fullmatch(cells[0].strip("`*$ "))) and \
                    sum(k is not None for k in header) >= 2
                continue
            if header is None:
                continue
            values = {}
            for key, cell in zip(header, cells):
                m = re.fullmatch(_NUM, cell.strip("`* "))
                if key is not None and m:
                    values[key] = _int(m.group(1))
            if len(values) >= 2:
                out.setdefault(named[0], {}).update(values)
            continue
        header = None
        named = presets_named(text)
        own = _OWN_LINE.match(text)
        if not named and own and _own_name(own.group(1)):
            named = [own.group(1)]
        if len(named) != 1:
            continue
        values = {KEY_SYNONYMS[m.group(1).lower()]: _int(m.group(2)) for m in _INLINE.finditer(text)
                  if not text[:m.start()].rstrip().endswith(("*", "/", "+", "-", "^", "x", "×"))}
        values.update({_HEADER_KEYS[m.group(2).lower()]: _int(m.group(1)) for m in _WORD_SIZES.finditer(text)})
        if len(values) >= 2:
            out.setdefault(named[0], {}).update(values)
    return out
