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

from ..errors import DeriveError
from ..model.config import (
    BOOL_KEYS,
    CHOICE_KEYS,
    INT_KEYS,
    ModelConfig,
    load_config,
)
from .document import Document
from .listings import (  # noqa: F401 (KEY_SYNONYMS and presets_named are read through this module too)
    _NUM,
    KEY_SYNONYMS,
    SIZE_KEYS,
    _int,
    listing_blocks,
    model_listings,
    presets_named,
    statement_values,
)
from .training import Givens, default_givens, known_hardware

_BATCH = re.compile(rf"\bbatch(?:[ _]size)?\s*(?:=|:|of|is)?\s*{_NUM}|\bb\s*=\s*{_NUM}|{_NUM}\s+sequences\b",
                    re.IGNORECASE)
_SEQ = re.compile(rf"\b(?:seq(?:uence)?[ _]len(?:gth)?|context[ _]length|context|n[ _]ctx|sequence length)"
                  rf"\s*(?:=\s*(?:context_length\s*=\s*)?|:\s*|of\s+|to\s+|at\s+|is\s+)?{_NUM}|"
                  rf"{_NUM}\s+tokens\b|\b[ts]\s*=\s*{_NUM}", re.IGNORECASE)
_STEPS = re.compile(rf"{_NUM}\s+(?:training\s+)?steps\b", re.IGNORECASE)
_MFU = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*mfu|mfu\s*(?:of|=|:)?\s*(0?\.\d+|\d+(?:\.\d+)?\s*%)", re.IGNORECASE)
_BUDGET = re.compile(r"(\d+)\s*(GB|GiB|TB|TiB)\b")
# the training run's batch: `Training step for batch_size = 4`, `a training step on 1,024 sequences`
_TRAIN_BATCH = re.compile(rf"training (?:step|run) (?:for|with|at) batch[ _]size\s*(?:=|of)?\s*{_NUM}|"
                          rf"training (?:step|run) (?:on|over|of) {_NUM} sequences", re.IGNORECASE)
_CONVENTIONS = re.compile(r"\bconventions?\b|\bnotation\b", re.IGNORECASE)
_HALF = re.compile(r"bf16|bfloat16|fp16|float16|half[- ]precision", re.IGNORECASE)


@dataclass
class Model:
    """One model a document is about: its config, where it came from, and what the document states."""

    config: ModelConfig
    source: str
    stated: dict[str, int] = field(default_factory=dict)  # sizes the document itself gives (listing/assumptions)
    stated_lines: dict[str, int] = field(default_factory=dict)
    first_line: int = 0
    named: str = ""  # the preset the document names for this listing (its section's heading)


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
    own: tuple[str, ...] = ()  # names of models of its own the document sizes (`toy-a`), not shipped presets

    @property
    def main(self) -> Model:
        return self.models[0]


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
        before = [line.text for line in doc.lines if starts[-1][0] <= line.number < start]
        models.append(Model(cfg, f"the listing on line {start}", dict(values), first_line=start,
                            named=next(iter(presets_named(" ".join(before)[-2000:])[-1:]), "")))
        starts.append((start, len(models) - 1))
    sizes = model_listings(doc)
    listed_arch = {k: v for k, v in first_values.items() if k in CHOICE_KEYS or k in BOOL_KEYS}
    for name in named:
        if all(m.config.name != name and m.named != name for m in models) and len(models) < 8:
            try:
                models.append(_named_model(name, sizes.get(name, {}), listed_arch, file))
            except DeriveError:
                continue
    own = _own_models(sizes, main_values, models, listed_arch, file)
    k = 0
    for line in doc.lines:
        while k + 1 < len(starts) and starts[k + 1][0] <= line.number:
            k += 1
        model_at[line.number] = starts[k][1]
    ctx = Context(models, model_at, _shapes(doc), _givens(doc), _conventions(doc),
                  bool(_HALF.search(text_head)), named=named, own=own)
    if config is not None and main_values:
        differ = [f"{k} {v:,} in the document (line {main.stated_lines.get(k, '?')}), "
                  f"{getattr(config, k):,} in {config.name}" for k, v in main_values.items()
                  if k in SIZE_KEYS and isinstance(v, int) and getattr(config, k, None) not in (None, v)]
        if differ:
            ctx.notes.append(f"--config {config.name} disagrees with the document: " + "; ".join(differ) + ".")
    return ctx


def _own_models(sizes: dict[str, dict[str, int]], main_values: dict, models: list[Model], arch: dict,
                file: str) -> tuple[str, ...]:
    """Models the document names and sizes that are no shipped preset (a made-up edition's `toy-a` in a
    comparison table): the main model's other sizes with the ones given, appended to `models`.  A name whose
    sizes are the main model's is the main model; its name is kept so its rows are read as the main model."""
    from ..model.config import preset_names

    presets = set(preset_names())
    own: list[str] = []
    for name, given in sizes.items():
        if name in presets or not ({"d_model", "num_layers"} & set(given)):
            continue
        own.append(name)
        if all(main_values.get(k) == v for k, v in given.items()) or len(models) >= 8 or any(
                m.config.name == name for m in models):
            continue
        merged = {**{k: v for k, v in main_values.items() if k in INT_KEYS}, **arch, **given}
        if "d_ff" not in given:
            merged.pop("d_ff", None)  # the d_ff rule gives it at this width, not the main model's d_ff
        try:
            models.append(Model(_validated(merged, file, name), f"{name} as the document sizes it",
                                dict(given)))
        except DeriveError:
            continue
    return tuple(own)


def _named_model(name: str, sizes: dict[str, int], arch: dict, file: str) -> Model:
    """A preset the document names: with the sizes the document gives for it (a table row, a line naming it)
    and the architecture the document lists for its models (a handout edition's GELU models are GELU)."""
    base = load_config(name)
    if not sizes and not arch:
        return Model(base, f"preset {name} named in the document")
    data = {**{k: getattr(base, k) for k in INT_KEYS}, **sizes}
    data.update({k: v for k, v in base.arch_values().items() if v is not None and k not in arch
                 and not (arch and (k in CHOICE_KEYS or k in BOOL_KEYS))})
    data.update(arch)
    taken = ", ".join(f"{k} = {v:,}" for k, v in sizes.items() if getattr(base, k, None) != v)
    cfg = _validated(data, file, name)
    return Model(cfg, f"preset {name} named in the document" + (f", with {taken} from the document" if taken else ""),
                 dict(sizes))


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
    steps, mfu, budgets, batch = g.steps, g.mfu, list(g.budgets), None
    for line in doc.lines:
        text = line.text[:2000]
        m = _STEPS.search(text)
        if m:
            steps = _int(m.group(1))
        m = _TRAIN_BATCH.search(text) if batch is None else None
        if m and 0 < _int(m.group(1) or m.group(2)) <= 1 << 24:
            batch = _int(m.group(1) or m.group(2))
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
    sets, ratio = _activation_givens(doc)
    return Givens(steps, batch or g.batch, g.hardware, mfu, tuple(dict.fromkeys(budgets)), sets=sets, d_ff_ratio=ratio,
                  named_hardware=_hardware_named(doc))


def _hardware_named(doc: Document) -> tuple[str, ...]:
    """The accelerators whose full names the document writes (`NVIDIA H100, TF32 tensor core (the handout's
    495 TFLOP/s)`), longest name first so a name inside another does not count twice; the first two."""
    table = known_hardware()
    found: dict[str, int] = {}
    names = sorted(table.values(), key=lambda hw: -len(hw.name))
    for line in doc.lines:
        text = line.text[:2000]
        for hw in names:
            if hw.name in text and hw.key not in found:
                found[hw.key] = line.number
                text = text.replace(hw.name, " ")
        if len(found) >= 2:
            break
    return tuple(sorted(found, key=found.get))


# `activation set: problem-swiglu`, `set \`cs336-2024\``, `--activations full`: the set a document counts
_SET = re.compile(r"(?:activation set|activations? counted \(set|--activations)\W{0,4}([a-z0-9][a-z0-9_-]{0,40})",
                  re.IGNORECASE)
# `d_ff = 8/3 * d_model` with no value after it: the rule a document's symbolic forms assume
_DFF_RULE = re.compile(r"\bd_\{?ff\}?\s*=\s*(\d+)\s*(?:/\s*(\d+))?\s*(?:\*|x|\\times|\\cdot|×)?\s*"
                       r"\\?(?:d_\{?model\}?|dmodel)(?!\s*=\s*\d)")


def _activation_givens(doc: Document) -> tuple[tuple[str, ...], Fraction | None]:
    """The activation sets a document names (in order) and its d_ff rule (`d_ff = 8/3 x d_model`), if any."""
    sets: list[str] = []
    ratio: Fraction | None = None
    for line in doc.lines:
        text = line.text[:2000]
        if len(sets) < 4:
            sets += [m.group(1).lower() for m in _SET.finditer(text)]
        m = _DFF_RULE.search(text) if ratio is None else None
        if m and int(m.group(1)) and int(m.group(2) or 1):
            ratio = Fraction(int(m.group(1)), int(m.group(2) or 1))
    return tuple(dict.fromkeys(sets)), ratio


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
