"""Mistakes carried into totals: a wrong line is remembered, so a later total that only carries it is "wrong
only because of line N" (its error times how often the part counts in the total), and a part's own mistake
is stated as its effect on the model's total ("the total is 6,291,456 too high").

Also the probes the pitfalls ask (how many times a node counts in a quantity, one node's value, the
quantity with the config changed), answered from the same evaluated trees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..errors import DeriveError
from ..model.steps import Evaluated
from .arith import evaluate
from .candidates import BYTES_PER, Candidate, Setting, accounting_for
from .claims import Claim
from .explain import ClaimCheck, fits
from .explain_text import show
from .values import NotUnderstood

COUNTED_TREES = ("params", "forward", "active_params", "buffers")


@dataclass
class Wrong:
    """A wrong claim, remembered so later totals that only carry it are not blamed on their own."""

    line: int
    tree: str
    setting: Setting
    keys: tuple[str, ...]
    diff: Fraction  # per occurrence, in the base tree's units
    root: int
    claimed: int
    expected: int


def _under(node: Evaluated, key: str, mult: int = 1) -> int:
    """How many times node `key` counts inside `node` (repeats multiply)."""
    if node.key == key:
        return mult
    inner = mult * (node.repeat_value or 1)
    return sum(_under(c, key, inner) for c in node.children)


def _base(c: Candidate) -> Candidate:
    return c.base if c.base is not None and c.dtype else c


class Carry:
    """The memory of wrong lines and the tree probes (mixed into the Checker, which owns `search`)."""

    def _remember(self, chk: ClaimCheck, t: Candidate, diff: Fraction, cause: int | None) -> None:
        base = _base(t)
        scale = BYTES_PER[t.dtype] if t.dtype else 1
        per = diff / scale / (base.times if base.scope == "all" else 1)
        w = Wrong(chk.claim.line, base.tree, base.setting, base.keys, per,
                  cause if cause is not None else chk.claim.line, int(chk.claim.value.value), int(t.value))
        key = (w.tree, w.setting, w.keys)
        before, previous = self.latest.get(key), self.by_claimed.get(w.claimed)
        if before is None or before.diff != w.diff or previous is None or previous.expected != w.expected:
            self.generation += 1  # what later lines can be blamed on has changed
        self.latest[key] = w
        self.by_claimed[w.claimed] = w

    def _count_in(self, t: Candidate, leaf: str) -> int:
        """Occurrences of node `leaf` (or a full key) inside the target's nodes."""
        base = _base(t)
        root = self._root(base)
        if root is None or not base.keys:
            return 0
        prefix = "params" if base.tree in ("params", "active_params") else base.tree
        key = leaf if leaf.split(".")[0] in (prefix, "params", "forward", "buffers") else f"{prefix}.{leaf}"
        nodes = self._nodes(base)
        if any(k not in nodes for k in base.keys):
            return 0
        n = sum(_under(nodes[k], key) for k in base.keys)
        return n * (base.times if base.scope == "all" else 1)

    def _leaf(self, t: Candidate, leaf: str) -> int:
        base = _base(t)
        root = self._root(base)
        prefix = "params" if base.tree in ("params", "active_params") else base.tree
        node = self._nodes(base).get(f"{prefix}.{leaf}") if root is not None else None
        return node.value if node is not None else 0

    def _alt(self, t: Candidate, changes: dict) -> int | None:
        base = _base(t)
        if base.setting is None or base.tree not in COUNTED_TREES or not base.keys:
            return None
        changes = dict(changes)
        batch = changes.pop("batch_size", base.setting.batch)
        try:
            acc = accounting_for(base.setting.config.replace(**changes), batch, base.setting.seq,
                                 self.search._acc_cache)
            root = getattr(acc, base.tree)
            total = 0
            for k in base.keys:
                node = root.find(k)
                total += node.value * (_under(root, k) if base.scope == "all" else 1)
        except (DeriveError, ValueError, KeyError, ZeroDivisionError, TypeError):
            return None
        return total * (BYTES_PER[t.dtype] if t.dtype else 1)

    def _nodes(self, base: Candidate) -> dict[str, Evaluated]:
        si = self.search.setting_index(base.setting) if base.setting is not None else None
        if si is None:
            return {}
        if base.tree == "active_params":  # its keys are params.* too: look in its own tree first
            root = si.roots.get("active_params")
            return {n.key: n for n in root.walk()} if root is not None else {}
        return si.nodes

    def _root(self, base: Candidate) -> Evaluated | None:
        if base.setting is None or base.tree not in COUNTED_TREES:
            return None
        si = self.search.setting_index(base.setting)
        return si.roots.get(base.tree) if si is not None else None

    def _propagated(self, t: Candidate, q) -> int | None:
        base = _base(t)
        if base.tree not in COUNTED_TREES:
            return None
        scale = BYTES_PER[t.dtype] if t.dtype else 1
        inside = []
        for (tree, setting, keys), w in self.latest.items():
            if tree != base.tree or setting != base.setting or keys == base.keys or not keys:
                continue  # (a quantity with no derivation node, e.g. a training figure, holds no other)
            n = self._count_in(base, keys[0]) if base is not t else self._count_in(t, keys[0])
            if n:
                inside.append((w, n))
        for w, n in inside:
            if fits(q, (base.value + w.diff * n) * scale, t.family):
                return w.root
        if len(inside) > 1 and fits(q, (base.value + sum(w.diff * n for w, n in inside)) * scale, t.family):
            return min(w.root for w, _ in inside)
        return None

    def _substituted(self, claim: Claim, t: Candidate) -> int | None:
        """Putting earlier lines' right values in place of their wrong ones fixes this line."""
        for seg in claim.segments[:-1] if len(claim.segments) > 1 else ():
            used, text = [], seg
            for m in re.finditer(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\d,.])\d{4,}(?![\d,.])", seg):
                w = self.by_claimed.get(int(m.group(0).replace(",", "")))
                if w is not None:
                    text = text.replace(m.group(0), str(w.expected), 1)
                    used.append(w.root)
            if not used:
                continue
            try:
                value = evaluate(text, self.scope_for(claim.line)).value
            except NotUnderstood:
                continue
            if value == t.value:
                return min(used)
        return None

    def _effect(self, t: Candidate, diff: Fraction | None) -> str | None:
        """`the total is 6,291,456 too high`: a part's mistake in the model's total."""
        base = _base(t)
        root = self._root(base)
        if diff is None or root is None or base.keys == (root.key,) or not base.keys:
            return None
        scale = BYTES_PER[t.dtype] if t.dtype else 1
        occurrences = _under(root, base.keys[0])
        per = diff / scale / (base.times if base.scope == "all" else 1)
        effect = per * occurrences
        if effect == 0 or effect.denominator != 1:
            return None
        return f"the total is {show(abs(effect), base.family)} too {'high' if effect > 0 else 'low'}"

