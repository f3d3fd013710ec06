"""Decide what one claim is and whether it is right: by its value first, then by its words.

1. The written arithmetic: consecutive segments that disagree are an arithmetic error, unless the only
   difference is the unit's name (GB for GiB: the pitfall gb_vs_gib) or shapes against half their FLOPs
   (multiply-accumulates).
2. Every candidate the number could be (derive.check.search). If one of them is what the label names, the
   claim is right; a label that names nothing lets the value decide (ok, with what it is).
3. A label that names a quantity the value is not makes the claim wrong, with its cause: an earlier wrong
   line carried into it, a known pitfall (derive.check.pitfalls), the group it really is ("this is Q K^T and
   scores @ V together"), or plainly the expected value. Prose words only rank: they make a claim wrong only
   when no quantity at all has its value.
4. Nothing explains it: not understood, with the nearest candidates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from .candidates import BYTES_PER, Candidate, name_key
from .claims import Claim
from .explain_text import gb_text, show
from .pitfalls import GB_VS_GIB, PITFALLS, Pitfall
from .values import Quantity, agree, alternate_unit_match
from .vocabulary import Words, display, fallback_roles, read_words

# Roles a table's caption lends every row: what the figures are per, not what they are.
CAPTION_ROLES = frozenset({"per_parameter"})
TREE_FAMILIES = {"params": ("count", "bytes"), "forward": ("FLOPs", "FLOP/s"), "backward": ("FLOPs",),
                 "memory": ("bytes",), "buffers": ("count", "bytes"), "activations": ("count", "bytes"),
                 "active_params": ("count", "bytes")}


@dataclass
class ClaimCheck:
    """The verdict on one claim."""

    claim: Claim
    verdict: str = "ok"
    target: str | None = None
    expected: Fraction | None = None
    family: str | None = None
    notes: list[str] = field(default_factory=list)
    pitfall: str | None = None
    cause: int | None = None
    own: bool = False
    candidate: Candidate | None = None
    diff: Fraction | None = None

    @property
    def explanation(self) -> str:
        return " ".join(n for n in self.notes if n)

    @property
    def claimed_value(self) -> int | None:
        q = self.claim.value
        if q is None or not q.exact or q.value.denominator != 1 or abs(q.value.numerator).bit_length() > 13_000:
            return None
        return int(q.value)


def fits(q: Quantity, value: Fraction, family: str | None = None) -> bool:
    """The written number covers this value (its rounding from the digits written)."""
    return agree(q, Quantity(Fraction(value), None if family in (None, "count") else family)) is not None


def words_of(claim: Claim) -> tuple[Words, bool]:
    """(words, strong): a chain's or cell's label names its quantity; prose words only rank candidates."""
    # a remark in parentheses describes, it does not name: `w3 (multiplies the gate)`, `(softmax(QK^T) V)`
    label = re.sub(r"\((?:[^()]|\([^()]*\))*\)", " ", claim.label)
    if not label.strip() and claim.parent:
        label = claim.parent
    words = read_words(label)
    if not label.strip(" :") and label != claim.label:  # the label was only a remark
        words = read_words(claim.label)
    if claim.kind in ("chain", "cell") and not words.roles and not words.trees and claim.parent:
        words = read_words(label, claim.parent)
    strong = claim.kind in ("chain", "cell") and bool(words.roles or words.trees)
    if claim.qualifier:  # `8.51 GB in fp32`, `per sequence`: the qualifier refines, it does not name
        extra = read_words(claim.qualifier)
        roles = words.roles or (extra.roles if not strong else frozenset())
        words = Words(_per_parameter(roles | (extra.roles & CAPTION_ROLES)), words.scope or extra.scope,
                      words.trees, words.total, words.per or extra.per, words.dtype or extra.dtype, words.text,
                      words.tokens)
    if claim.caption:  # `AdamW, element-wise operations per parameter:` over a table: every row is per parameter
        extra = read_words(claim.caption)
        words = Words(_per_parameter(words.roles | (extra.roles & CAPTION_ROLES)), words.scope, words.trees,
                      words.total, words.per or extra.per, words.dtype or extra.dtype, words.text, words.tokens)
    if claim.kind == "prose" and claim.noun and read_words(claim.noun).trees & {"params"}:
        before = claim.label[:claim.label.rfind(claim.noun)] if claim.noun in claim.label else claim.label
        words = read_words(" ".join(before.split()[-8:]), claim.noun)
        strong = True  # `1.5 billion trainable parameters`: the noun says what the number counts
    return words, strong


def _per_parameter(roles: frozenset[str]) -> frozenset[str]:
    """`AdamW ... 14 FLOPs per parameter`: per parameter, the optimizer is what is counted, not a part of it."""
    return roles - {"optimizer"} if "per_parameter" in roles else roles


SECTION = "convention_"  # derive.check.conventions_candidates.SECTION
IN_SECTION = "section_"  # derive.check.scale_candidates.SECTION


def titled(c: Candidate, claim: Claim) -> bool:
    """The label is the node's own name (`rms_norm_1`, `total_per_transformer_block`)."""
    if not c.titles:
        return False
    names = {name_key(n) for n in claim.names} | {name_key(claim.label)}
    if "(" in claim.label:  # `rms_norm_1 (x num_layers)`: the name before a remark in parentheses
        names.add(name_key(re.sub(r"\([^()]*\)", " ", claim.label)))
    if any(t.startswith(SECTION) for t in c.titles):  # `#### kaplan: ...` or a row `| kaplan | ...`: the
        # first word of the label or of a heading above names the convention it is about
        names |= {SECTION + name_key(re.split(r"[:\s]", s.strip(), maxsplit=1)[0])
                  for s in (claim.label, *claim.context) if s.strip()}
    if any(t.startswith(IN_SECTION) for t in c.titles):  # a figure of a section about it (`## 2. Model states
        # per device`), numbering left out
        names |= {IN_SECTION + re.sub(r"^[\d_]+", "", name_key(s)) for s in claim.context}
    return bool(c.titles & names)


def same_quantity(c: Candidate, words: Words, wanted: frozenset[str]) -> bool:
    """The candidate is what the words name: the same parts, a compatible scope, tree and unit."""
    roles = c.roles - {"per_example"} if "per_example" in c.roles and wanted == {"activations"} else c.roles
    if roles != wanted and not (c.parts and c.parts == wanted) \
            and not (wanted <= {"step", "optimizer"} and roles == {"train_step"}) \
            and not (wanted == {"root"} and roles <= {"weights", "fixed"}) \
            and not (wanted == {"root"} and roles == {"peak_memory"} and "memory" in words.trees) \
            and not (wanted == words.roles and roles == fallback_roles(words)):
        return False
    if words.scope == "one" and c.scope == "all" or words.scope == "all" and c.scope == "one":
        return False
    if (words.per or None) != c.per:
        return False
    if c.tree in ("backward", "activations") and c.tree not in words.trees and c.tree not in wanted:
        return False  # the backward pass or the activations only when the words say so
    if wanted == {"root"} and words.trees and c.family not in {
            f for t in words.trees for f in TREE_FAMILIES.get(t, (c.family,))}:
        return False
    return True


def wanted_roles(words: Words) -> frozenset[str]:
    if words.roles:
        return words.roles
    return frozenset({"root"}) if words.trees or words.total else frozenset()


def choose_target(targets: list[Candidate], claim: Claim, words: Words, section: Words, dtype: str) -> Candidate | None:
    """The quantity the words name that this claim is most plausibly about (tree by unit and words, then
    the nearest value)."""
    q = claim.value
    unit = q.unit if q is not None else None
    pool: list[tuple[tuple, Candidate]] = []
    for t in targets:
        options = [t]
        if t.family == "count" and t.tree in ("params", "active_params", "buffers") and (
                unit == "bytes" or "memory" in words.trees):
            options = [_memory(t, dtype)] + ([t] if unit != "bytes" else [])
        for c in options:
            if unit is not None and unit != c.family:
                continue
            tree_words = words.trees or section.trees
            pref = 0 if any(c.family in TREE_FAMILIES.get(w, ()) for w in tree_words) else 1
            distance = abs(math.log(max(float(c.value), 1e-300)) - math.log(max(float(q.value), 1e-300))) \
                if q is not None and q.value > 0 and c.value > 0 else 1e9
            pool.append(((pref, c.rank, round(distance, 6)), c))
    if not pool:
        return None
    pool.sort(key=lambda x: x[0])
    return pool[0][1]


def _memory(c: Candidate, dtype: str) -> Candidate:
    from .search import memory_of

    return memory_of(c, dtype)


class Pitfalls:
    """Pitfall probes for one target (implements derive.check.pitfalls.Probe via the checker's accounting)."""

    def __init__(self, target: Candidate, values: dict, under, leaf, alt) -> None:
        self.target = target
        self.tree = "memory" if target.dtype else target.tree
        self.roles = target.roles
        self.expected = int(target.value) if target.value.denominator == 1 else target.value
        self.scale = BYTES_PER[target.dtype] if target.dtype else 1
        self.values = values
        self._under, self._leaf, self._alt = under, leaf, alt

    def under(self, leaf: str) -> int:
        return self._under(self.target, leaf) * self.scale

    def leaf(self, leaf: str) -> int:
        return self._leaf(self.target, leaf)

    def alt(self, **changes: int) -> int | None:
        return self._alt(self.target, changes)

    def first(self, q: Quantity) -> Pitfall | None:
        if not self.expected:
            return None
        for pit in PITFALLS.values():
            try:
                values = list(pit.candidates(self))
            except (KeyError, ZeroDivisionError, ValueError):
                continue
            if any(v is not None and fits(q, Fraction(v), self.target.family) for v in values):
                return pit
        return None


def arithmetic(chk: ClaimCheck) -> None:
    """The written arithmetic of a chain: a false step, a unit named for its twin, or MACs for FLOPs."""
    claim = chk.claim
    pair = claim.mismatch
    if pair is None:
        return
    a, b = claim.quantities[pair.left], claim.quantities[pair.right]
    chk.own = True
    if pair.alternate_unit:
        exact, written = (a, b) if b.unit_written and not b.exact else (b, a)
        chk.verdict, chk.pitfall = "wrong", GB_VS_GIB.key
        chk.notes.append(gb_text(exact, written, pair.alternate_unit))
    elif pair.macs:
        chk.verdict, chk.pitfall = "wrong", PITFALLS["macs_as_flops"].key
        chk.notes.append(f"The shapes {_short(claim.segments[pair.left])} are a matmul of {show(a.value, 'FLOPs')}; "
                         f"{_short(claim.segments[pair.right])} = {b} counts multiply-accumulates (MACs), half "
                         f"the FLOPs.")
    else:
        chk.verdict = "arithmetic error"
        chk.notes.append(f"Arithmetic: {_short(claim.segments[pair.left])} is {a}, not {b}.")


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def relation_text(target: Candidate, got: Candidate) -> str | None:
    """`this is Q K^T and scores @ V together: Q K^T alone is 3,355,443,200` and its kin."""
    if got.roles == target.roles:
        if got.scope != target.scope and got.scope and target.scope:
            what = "all blocks together" if got.scope == "all" else "one block"
            return f"this is {display(got.roles)} for {what}"
        if got.setting is not None and target.setting is not None and got.setting != target.setting:
            return f"this is the value for {got.setting.label}"
        return None
    if target.roles < got.roles:
        return (f"this is {display(got.roles)} together: {display(target.roles)} alone is "
                f"{show(target.value, target.family)}")
    if got.roles < target.roles:
        return (f"this is only {display(got.roles)}: {display(target.roles)} is {show(target.value, target.family)}")
    return f"this value is {got.describe()}"


def gb_vs_gib(q: Quantity, target: Candidate) -> str | None:
    """A rounded byte claim that fits the target only in its unit's decimal/binary twin."""
    if q.unit != "bytes" or q.exact or target.family != "bytes":
        return None
    exact = Quantity(target.value, "bytes", None, "bytes")
    alt = alternate_unit_match(exact, q)
    return gb_text(exact, q, alt) if alt else None
