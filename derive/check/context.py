"""What a document says about itself: which model it is about (a listing, an inline listing such as
`GPT-2 XL (vocab_size 50,257, ...)`, a table, stated assumptions such as `d_ff = 8/3 * d_model = 2,048`, a
model's name), the input shape of each section (`batch_size = 4`, "increase the context length to 16,384",
"one sequence of 1,024 tokens"), the training run (steps, MFU, budgets), and which sections only state
conventions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from ..errors import DeriveError
from ..model.config import (
    BOOL_KEYS,
    CHOICE_KEYS,
    INT_KEYS,
    OPTIONAL_INT_KEYS,
    ModelConfig,
    load_config,
    preset_names,
)
from .document import Document, Line
from .training import Givens, default_givens

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
                "num_experts_per_tok": "experts_per_token"}
SETTING_NAMES = {"batch_size", "batch", "seq_len", "sequence_length", "seq_length", "context_length", "n_ctx",
                 "tokens", "t", "b", "s", "n"}
_NUM = r"(?<![\d,])(\d{1,3}(?:,\d{3}){1,8}(?!\d|,\d)|\d{1,24}(?!\d|,\d|\.\d))"  # at most 24 digits
_INLINE = re.compile(rf"(?<![\w*/+^@-])({'|'.join(sorted(KEY_SYNONYMS, key=len, reverse=True))})"
                     rf"\s*(?:=|:|of|is|at)?\s*{_NUM}(?!\s*(?:[*/x×^+@%(-]|\.\d|[A-Za-z_]\w*\s*(?:[*/^+)]|$)|"
                     rf"d_model|d_?ff|\\))", re.IGNORECASE)
_BATCH = re.compile(rf"\bbatch(?:[ _]size)?\s*(?:=|:|of|is)?\s*{_NUM}|\bb\s*=\s*{_NUM}|{_NUM}\s+sequences\b",
                    re.IGNORECASE)
_SEQ = re.compile(rf"\b(?:seq(?:uence)?[ _]len(?:gth)?|context[ _]length|context|n[ _]ctx|sequence length)"
                  rf"\s*(?:=\s*(?:context_length\s*=\s*)?|:\s*|of\s+|to\s+|at\s+|is\s+)?{_NUM}|"
                  rf"{_NUM}\s+tokens\b|\b[ts]\s*=\s*{_NUM}", re.IGNORECASE)
_LETTER_KEYS = {"V": "vocab_size", "T": "context_length", "L": "num_layers", "d": "d_model", "D": "d_model",
                "h": "num_heads", "H": "num_heads", "d_ff": "d_ff", "dff": "d_ff", "F": "d_ff", "E": "n_experts"}
_LETTERS_RE = re.compile(rf"(?<![\w*/+^.-])({'|'.join(_LETTER_KEYS)})\s*=\s*{_NUM}(?!\s*(?:[*/x×^+@%-]|\.\d))")
_STEPS = re.compile(rf"{_NUM}\s+(?:training\s+)?steps\b", re.IGNORECASE)
_MFU = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*mfu|mfu\s*(?:of|=|:)?\s*(0?\.\d+|\d+(?:\.\d+)?\s*%)", re.IGNORECASE)
_BUDGET = re.compile(r"(\d+)\s*(GB|GiB|TB|TiB)\b")
_CONVENTIONS = re.compile(r"\bconventions?\b|\bnotation\b", re.IGNORECASE)
_HALF = re.compile(r"bf16|bfloat16|fp16|float16|half[- ]precision", re.IGNORECASE)


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


@dataclass
class Model:
    """One model a document is about: its config, where it came from, and what the document states."""

    config: ModelConfig
    source: str
    stated: dict[str, int] = field(default_factory=dict)  # sizes the document itself gives (listing/assumptions)
    stated_lines: dict[str, int] = field(default_factory=dict)
    first_line: int = 0


@dataclass
class Context:
    models: list[Model]
    model_at: dict[int, int]  # line -> index into models (the section's model)
    shape_at: dict[int, tuple[int | None, int | None]]  # line -> (batch_size, seq_len) stated in its section
    givens: Givens
    conventions: set[int]  # lines in a conventions section
    half: bool  # the document works in bf16/fp16
    notes: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)  # presets the document mentions anywhere

    @property
    def main(self) -> Model:
        return self.models[0]


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
    value = line.segments[0].strip().strip("`*").lower()
    if line.name in CHOICE_KEYS:
        return value if value in CHOICE_KEYS[line.name] else None
    return {"true": True, "false": False}.get(value)


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
        value = cells[-1].lower()
        if name in CHOICE_KEYS and value in CHOICE_KEYS[name]:
            return name, None, value
        if name in BOOL_KEYS and value in ("true", "false"):
            return name, None, value == "true"
    if key is None:
        return None, None, None
    v = re.fullmatch(_NUM, cells[-1])
    if v:
        return key, _int(v.group(1)), None
    return None, None, None


def _validated(values: dict, file: str, name: str) -> ModelConfig:
    from ..model.config import ARCH_KEYS, config_from_mapping
    from .source import shown

    data = {k: values[k] for k in (*INT_KEYS, *ARCH_KEYS) if k in values}
    return config_from_mapping(data, shown(file), name)


def read_context(doc: Document, file: str, config: ModelConfig | None, overrides: dict | None = None) -> Context:
    """Models, shapes per section, training givens and conventions sections of a document.

    `config` (from --config and --set) is the main model; without it the document's own listing, inline
    listing, stated assumptions and named preset give it, or a one-line UsageError says what is missing."""
    blocks = listing_blocks(doc)
    assumed: set[str] = set()
    stated = statement_values(doc, assumed)
    if len(blocks) > 1:  # a second model's listing: what comes after it is about that model
        stated = {k: v for k, v in stated.items() if v[1] < blocks[1][0]}
    text_head = " ".join(line.text for line in doc.lines[:400])
    named = presets_named(" ".join(line.text for line in doc.lines[:5000] if len(line.text) < 500))
    models: list[Model] = []
    first_values = dict(blocks[0][1]) if blocks else {}
    main_values = dict(first_values)
    for key, (value, _) in stated.items():
        main_values.setdefault(key, value)
    if config is not None:
        main = Model(config, f"--config {config.source or config.name}")
    else:
        main = _document_model({**main_values, **(overrides or {})}, named, file,
                               {k: v for k, v in stated.items() if k not in first_values and k in assumed}, blocks)
        if overrides:
            main.source += f", with --set {', '.join(f'{k}={v}' for k, v in overrides.items())}"
    for key, value in main_values.items():
        if key in SIZE_KEYS and isinstance(value, int):
            main.stated[key] = value
            main.stated_lines[key] = stated.get(key, (value, blocks[0][0] if blocks else 0))[1]
    models.append(main)
    model_at: dict[int, int] = {}
    starts: list[tuple[int, int]] = [(0, 0)]
    for start, values in blocks[1:]:
        if values == first_values:
            continue
        merged = {**{k: v for k, v in main_values.items() if k in INT_KEYS}, **values}
        try:
            cfg = _validated(merged, file, f"{file}:{start}")
        except DeriveError:
            continue
        models.append(Model(cfg, f"the listing on line {start}", dict(values), first_line=start))
        starts.append((start, len(models) - 1))
    for name in named:
        if all(m.config.name != name for m in models) and len(models) < 8:
            try:
                models.append(Model(load_config(name), f"preset {name} named in the document"))
            except DeriveError:
                continue
    k = 0
    for line in doc.lines:
        while k + 1 < len(starts) and starts[k + 1][0] <= line.number:
            k += 1
        model_at[line.number] = starts[k][1]
    ctx = Context(models, model_at, _shapes(doc), _givens(doc), _conventions(doc),
                  bool(_HALF.search(text_head)), named=named)
    if config is not None and main_values:
        differ = [f"{k} {v:,} in the document (line {main.stated_lines.get(k, '?')}), "
                  f"{getattr(config, k):,} in {config.name}" for k, v in main_values.items()
                  if k in SIZE_KEYS and isinstance(v, int) and getattr(config, k, None) not in (None, v)]
        if differ:
            ctx.notes.append(f"--config {config.name} disagrees with the document: " + "; ".join(differ) + ".")
    return ctx


def _document_model(values: dict, named: list[str], file: str, stated: dict, blocks) -> Model:
    from ..errors import UsageError

    listed = {k: v for k, v in values.items() if k in INT_KEYS}
    missing = [k for k in INT_KEYS if k not in listed]
    if missing and named:
        base = load_config(named[0])
        merged = {**{k: getattr(base, k) for k in INT_KEYS}, **base.arch_values(), **values}
        merged = {k: v for k, v in merged.items() if v is not None}
        cfg = _validated(merged, file, named[0])
        return Model(cfg, f"preset {named[0]} named in the document" + _taken(values, stated))
    if missing:
        from .source import shown

        raise UsageError(f"{shown(file)}: no --config given and the document does not list {', '.join(missing)}")
    cfg = _validated(values, file, "document")
    return Model(cfg, "the document's own listing" + _taken(values, stated))


def _taken(values: dict, stated: dict) -> str:
    extra = [f"{k} = {v:,} (line {stated[k][1]})" for k, v in values.items() if k in stated and k in INT_KEYS
             and isinstance(v, int)]
    return f", with {', '.join(extra)} taken from the document" if extra else ""


def _shapes(doc: Document) -> dict[int, tuple[int | None, int | None]]:
    """(batch_size, seq_len) each line's section states: a heading sets them for its section, prose from
    its line on; a new Markdown heading starts again from the defaults."""
    out: dict[int, tuple[int | None, int | None]] = {}
    batch = seq = None
    for line in doc.lines:
        if line.heading_level is not None:
            batch = seq = None
        if not line.is_claim or line.heading_level is not None:
            text = line.text if len(line.text) < 2000 else ""
            if not re.search(r"=\s*[\d,]+\s*[*x/+]", text):
                b = next((g for m in _BATCH.finditer(text) for g in m.groups() if g), None)
                s = next((g for m in _SEQ.finditer(text) for g in m.groups() if g), None)
                batch = _int(b) if b else batch
                seq = _int(s) if s else seq
        out[line.number] = (batch, seq)
    return out


def _givens(doc: Document) -> Givens:
    g = default_givens()
    steps, mfu, budgets = g.steps, g.mfu, list(g.budgets)
    for line in doc.lines:
        text = line.text[:2000]
        m = _STEPS.search(text)
        if m:
            steps = _int(m.group(1))
        m = _MFU.search(text)
        if m:
            raw = m.group(1) or m.group(2)
            value = Fraction(raw.rstrip("% ").strip())
            mfu = value / 100 if (m.group(1) or "%" in raw) else value
        for amount, unit in _BUDGET.findall(text):
            if len(budgets) < 6 and re.search(r"budget|fit|\bin\b|batch|memory", text, re.IGNORECASE):
                budgets.append(f"{amount}{unit}")
    if not 0 < mfu <= 1:
        mfu = g.mfu
    return Givens(steps, g.batch, g.hardware, mfu, tuple(dict.fromkeys(budgets)))


def _conventions(doc: Document) -> set[int]:
    """Lines under a `Conventions` / `Notation` heading: statements of convention, not results."""
    out: set[int] = set()
    inside, level = False, 0
    for line in doc.lines:
        if line.heading_level is not None:
            if inside and line.heading_level <= level:
                inside = False
            if _CONVENTIONS.search(line.text):
                inside, level = True, line.heading_level
            continue
        if inside:
            out.add(line.number)
    return out
