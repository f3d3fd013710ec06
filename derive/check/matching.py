"""What the lines of a hand derivation refer to: its configuration listing, its sections, node names.

Names are matched against the symbolic derivation (Step.title, total_title, aliases), so the aliases in
derive/model/architectures.py are the vocabulary a document may use.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

from ..model.architectures import Derivation
from ..model.config import BOOL_KEYS, CHOICE_KEYS, INT_KEYS, OPTIONAL_INT_KEYS
from ..model.steps import Step
from .document import Document, Line, NotUnderstood, evaluate

LISTED_INT_KEYS = INT_KEYS + OPTIONAL_INT_KEYS
SETTINGS = set(LISTED_INT_KEYS) | set(CHOICE_KEYS) | set(BOOL_KEYS) | {"batch_size", "seq_len", "sequence_length"}
TREES = ("params", "buffers", "forward", "active_params")
# Prose that puts a section outside what check derives: training memory (activations, gradients, AdamW
# state), backward and optimizer FLOPs, training time. Its lines are "not understood", never "wrong".
TRAINING = re.compile(r"\badamw\b|\boptimi[sz]er\b|\bbackward\b|\bgradients?\b|\bactivations?\b|\btraining\b")
# A document is about training only if its prose names the optimizer or the backward pass somewhere (so a
# parameter-count answer that says "no activations" in passing is still checked in full).
TRAINING_DOCUMENT = re.compile(r"\badamw\b|\boptimi[sz]er\b|\bbackward\b")


def norm(label: str) -> str:
    """`token embedding (lookup)` -> `token_embedding`: the form names are compared in."""
    s = re.sub(r"\([^()]*\)", " ", label.lower())
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_")


def _names(step: Step) -> set[str]:
    names = {step.total_title, *step.aliases}
    if step.kind != "repeat":
        names.add(step.title)
    return {norm(n) for n in names if n}


@lru_cache(maxsize=None)
def _index(deriv: Derivation, tree: str) -> tuple[tuple[str, frozenset, frozenset], ...]:
    """(key, names, ancestors' names) for every node of a tree; built from the symbolic Steps."""
    root = getattr(deriv, tree)
    out = []

    def go(step: Step, above: frozenset) -> None:
        names = frozenset(_names(step))
        out.append((step.key, names, above))
        for child in step.children:
            go(child, above | names)

    for child in root.children:
        go(child, frozenset())
    out.append((root.key, frozenset(_names(root)), frozenset()))
    return tuple(out)


_SUFFIXES = ("_flops", "_matmul", "_params", "_parameters", "_weights", "_weight", "_count", "_table")


def match(deriv: Derivation, tree: str, name: str, context: tuple[str, ...], fuzzy: bool = False) -> tuple[str, ...]:
    """Keys of the nodes a line name refers to: exact name, then without a suffix; `fuzzy`: by words."""
    index = _index(deriv, tree)
    tries = [name] + [name[: -len(s)] for s in _SUFFIXES if name.endswith(s)] + [name[:-1]] * name.endswith("s")
    hits = []
    for n in tries:
        hits = [(k, above) for k, names, above in index if n in names]
        if hits:
            break
    if not hits and fuzzy:  # every word of some alias appears in the label: "the embedding lookup is ..."
        words = set(name.split("_"))
        scored = [(len(a), k, above) for k, names, above in index for a in names if set(a.split("_")) <= words]
        best = max((s for s, _, _ in scored), default=0)
        hits = [(k, above) for s, k, above in scored if s == best]
    if not hits:
        return ()
    ctx = {norm(c) for c in context}
    ctx |= {w for c in ctx for w in c.split("_") if w}
    score = {k: len(ctx & above) for k, above in hits}
    top = max(score.values())
    return tuple(dict.fromkeys(k for k, _ in hits if score[k] == top))


def sections(doc: Document) -> dict[int, tuple[str | None, int | None, int | None]]:
    """Per line number: section mode ('params'|'active'|'flops'|'training'), batch_size and seq_len so far.

    A Markdown heading switches the mode however short (`## FLOPs`); other prose needs 3 words, so a bold
    label does not. In a document about training (AdamW, optimizer, backward pass), training prose sets
    'training' until the next heading (prose inside it mentioning memory or FLOPs does not leave it)."""
    mode, batch, seq = None, None, None
    training = False
    prose = [line for line in doc.lines if not line.is_claim and not line.is_config]
    about_training = any(TRAINING_DOCUMENT.search(line.text.lower()) for line in prose)
    out = {}
    for line in doc.lines:
        if not line.is_claim and not line.is_config:
            text = line.text.lower().replace("`", "")
            heading = line.heading_level is not None
            if heading:
                training = False
            m = re.search(r"flop|matrix multipl|matmul|forward pass|(active param)|(parameter|memory)", text)
            if m and (heading or len(text.split()) >= 3):
                mode = "active" if m.group(1) else "params" if m.group(2) else "flops"
            if about_training and TRAINING.search(text):
                training = True
            b = re.search(r"batch(?:_size| size)?\s*(?:=|:|of)\s*([\d,]+)", text)
            s = re.search(r"(?:seq(?:uence)?[_ ]len(?:gth)?|context[_ ]length)\s*(?:=\s*(?:context_length\s*=\s*)?"
                          r"|:\s*|of\s+|at\s+)?(\d[\d,]*)", text)
            batch = int(b.group(1).replace(",", "")) if b else batch
            seq = int(s.group(1).replace(",", "")) if s else seq
        out[line.number] = ("training" if training else mode, batch, seq)
    return out


def listing_value(line: Line) -> int | None:
    """The value of a `d_model : 1,600` listing line the parser took for a claim (a listing after a chain)."""
    if line.name not in LISTED_INT_KEYS or len(line.segments) != 1:
        return None
    try:
        q = evaluate(line.segments[0])
    except NotUnderstood:
        return None
    return int(q.value) if q.exact and q.unit is None and q.value.denominator == 1 else None


def _option_value(line: Line) -> Any:
    """`norm : rmsnorm`, `bias : False`: an architecture option as the model-accounting sheet lists it.

    Only a value the key allows is taken (a line `ffn: 30,720,000` is a claim, not an option)."""
    if len(line.segments) != 1:
        return None
    try:
        value = yaml.safe_load(line.segments[0].strip())
    except yaml.YAMLError:
        return None
    if line.name in CHOICE_KEYS:
        return value if value in CHOICE_KEYS[line.name] else None
    return value if isinstance(value, bool) else None


def document_config(doc: Document) -> dict[str, Any]:
    """The configuration a document lists: integer sizes (the parser's listing, then listing lines found
    later) and the architecture options (norm, ffn, positions, bias, qkv_bias, tie_embeddings)."""
    found: dict[str, Any] = {k: v for k, v in doc.config.items()}
    for line in doc.lines:
        if line.name in LISTED_INT_KEYS and line.is_claim:
            value = listing_value(line)
        elif line.name in CHOICE_KEYS or line.name in BOOL_KEYS:
            value = _option_value(line)
        else:
            continue
        if value is not None:
            found.setdefault(line.name, value)
    return found


def document_ints(listed: dict[str, Any]) -> dict[str, int]:
    """The integer entries of document_config (symbols a chain may use)."""
    return {k: v for k, v in listed.items() if isinstance(v, int) and not isinstance(v, bool)}
