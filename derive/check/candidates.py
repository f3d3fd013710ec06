"""Every quantity a number in a hand derivation could be, indexed by value.

For one model at one input shape (a Setting) the index holds each node of the parameter, buffer, FLOP
and MoE active-parameter trees (one occurrence and all of them), the groupings people write (any subset of
siblings: Q+K+V, W1+W3, QK^T + AV, both embeddings), per-token figures, shares of the total, and the config's
own sizes. Bytes are found by dividing by the bytes per parameter of each dtype, so memory of any node is
found too. Training quantities are added by derive.check.training. Lookups are by interval (a rounded
claim such as `7.95 GB` covers every value that rounds to it), with bisect over sorted values.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Iterable, Iterator

import sympy

from ..accounting.account import Accounting, account
from ..model.config import ModelConfig
from ..model.steps import Evaluated

FAMILIES = ("count", "bytes", "FLOPs", "FLOP/s", "s", "ratio")
BYTES_PER = {"fp32": 4, "bf16": 2}
TREE_FAMILY = {"params": "count", "buffers": "count", "active_params": "count", "forward": "FLOPs",
               "backward": "FLOPs", "activations": "count", "memory": "bytes", "optimizer": "FLOPs"}
MAX_SUBSET_CHILDREN = 7  # all subsets up to this many siblings; beyond it, pairs and all-but-one


@dataclass(frozen=True)
class Setting:
    """One model at one input shape: what a derived value depends on besides conventions."""

    config: ModelConfig
    batch: int
    seq: int

    @property
    def label(self) -> str:
        return f"{self.config.name}, batch_size {self.batch:,}, seq_len {self.seq:,}"


@dataclass(eq=False)
class Candidate:
    """A quantity a claim could be: its exact value in base units and what it is.

    `roles` are the parts it covers (last parts of node keys, or training names); `scope` is 'one' for one
    occurrence inside the repeated blocks, 'all' for every occurrence, '' outside blocks; `keys` are the
    derivation nodes summed (for carrying a mistake into totals); `steps`/`mult` give the closed form."""

    value: Fraction
    family: str
    tree: str
    roles: frozenset[str]
    label: str
    setting: Setting | None = None
    scope: str = ""
    keys: tuple[str, ...] = ()
    steps: tuple = ()
    mult: sympy.Expr | int = 1
    dtype: str | None = None
    per: str | None = None
    note: str = ""
    expr_value: sympy.Expr | None = None
    base: "Candidate | None" = None
    rank: int = 0
    times: int = 1  # occurrences summed, for scope 'all' (num_layers, num_layers x n_experts)
    titles: frozenset[str] = frozenset()  # the node's own names (`rms_norm_1`, `total_per_transformer_block`)
    parts: frozenset[str] = frozenset()  # a node's children's roles: `W_Q, W_K, W_V, W_O` name the attention

    def named_by(self, roles: frozenset[str]) -> bool:
        """The roles name this quantity: its own, or (for a node) all of its parts."""
        return self.roles == roles or bool(self.parts) and self.parts == roles

    @property
    def expr(self) -> sympy.Expr | None:
        """The closed form in derive's symbols, when there is one."""
        if self.expr_value is not None:
            return self.expr_value
        if not self.steps:
            return None
        total = sympy.Add(*(s.expr for s in self.steps)) * self.mult
        if self.dtype:
            total = total * BYTES_PER[self.dtype]
        return total

    def describe(self) -> str:
        where = ""
        if self.setting is not None and self.family in ("FLOPs",) and self.tree in ("forward", "backward"):
            where = f" (batch_size {self.setting.batch:,}, seq_len {self.setting.seq:,})"
        return self.label + where


@dataclass
class Index:
    """Candidates sorted by value, per family."""

    items: dict[str, list[Candidate]] = field(default_factory=dict)
    _values: dict[str, list[Fraction]] = field(default_factory=dict)
    _sorted: bool = False

    def add(self, c: Candidate) -> None:
        self.items.setdefault(c.family, []).append(c)
        self._sorted = False

    def extend(self, cs: Iterable[Candidate]) -> None:
        for c in cs:
            self.add(c)

    def _sort(self) -> None:
        for fam, cs in self.items.items():
            cs.sort(key=lambda c: c.value)
            self._values[fam] = [_key(c.value) for c in cs]  # floats: bisect without Fraction arithmetic
        self._sorted = True

    def between(self, family: str, lo: Fraction, hi: Fraction, limit: int = 400) -> list[Candidate]:
        """Candidates of a family with lo <= value <= hi (at most `limit`): a float bisect with a margin,
        then the exact comparison."""
        if not self._sorted:
            self._sort()
        values = self._values.get(family)
        if not values:
            return []
        flo, fhi = _key(lo), _key(hi)
        i = bisect_left(values, flo - abs(flo) * 1e-9 - 1e-300)
        j = bisect_right(values, fhi + abs(fhi) * 1e-9 + 1e-300)
        return [c for c in self.items[family][i:min(j, i + limit)] if lo <= c.value <= hi]

    def nearest(self, family: str, value: Fraction, k: int = 2) -> list[Candidate]:
        if not self._sorted:
            self._sort()
        values = self._values.get(family)
        if not values:
            return []
        i = bisect_left(values, _key(value))
        near = self.items[family][max(0, i - k):i + k]
        return sorted(near, key=lambda c: abs(c.value - value))[:k]

    def all(self) -> Iterator[Candidate]:
        for cs in self.items.values():
            yield from cs


def _key(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def name_key(text: str) -> str:
    """`Total per transformer block` -> `total_per_transformer_block`: how names are compared."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _role(key: str, root: Evaluated) -> str:
    return "root" if key == root.key else key.rsplit(".", 1)[-1]


def _title(node: Evaluated) -> str:
    return node.step.total_title or node.step.title


def tree_candidates(root: Evaluated, tree: str, setting: Setting | None, family: str | None = None,
                    shares: bool = True) -> list[Candidate]:
    """Every node (one occurrence; and all of them inside repeats), every subset of siblings, and shares."""
    fam = family or TREE_FAMILY.get(tree, "count")
    out: list[Candidate] = []
    total = root.value

    def add(nodes: list[Evaluated], mult: int, mult_expr, inside: bool, label: str, rank: int,
            ancestors: tuple = ()) -> None:
        value = sum(n.value for n in nodes)
        roles = frozenset(_role(n.key, root) for n in nodes)
        keys = tuple(n.key for n in nodes)
        steps = tuple(n.step for n in nodes)
        scope = "one" if inside else ""
        titles = frozenset(name_key(t) for n in nodes[:1] if len(nodes) == 1
                           for t in (n.step.title, n.step.total_title) if t)
        parts = frozenset(_role(k.key, root) for k in nodes[0].children) if len(nodes) == 1 else frozenset()
        out.append(Candidate(Fraction(value), fam, tree, roles, label + (" (one block)" if inside else ""),
                             setting, scope, keys, steps, 1, rank=rank, titles=titles, parts=parts))
        if inside and mult > 1:
            out.append(Candidate(Fraction(value * mult), fam, tree, roles, f"{label} (all {mult:,})", setting,
                                 "all", keys, steps, mult_expr, rank=rank + 1, times=mult, titles=titles,
                                 parts=parts))
        if shares and total and not (len(nodes) == 1 and nodes[0] is root):
            share = Fraction(value * mult, total)
            out.append(Candidate(share, "ratio", tree, roles, f"share of {label} in {_title(root)}", setting,
                                 "all", keys, steps, rank=rank + 3,
                                 expr_value=None))
            for anc, anc_mult in ancestors[1:]:  # `62.9 / 90.6 = 69% of each layer`: a share of a part
                if anc.value and anc is not nodes[0]:
                    out.append(Candidate(Fraction(value * mult, anc.value * anc_mult), "ratio", tree, roles,
                                         f"share of {label} in {_title(anc)}", setting, scope, keys, steps,
                                         rank=rank + 4))

    def go(node: Evaluated, mult: int, mult_expr, inside: bool, ancestors: tuple = ()) -> None:
        add([node], mult, mult_expr, inside, _title(node), 0, ancestors)
        kids = list(node.children)
        child_mult, child_expr, child_inside = mult, mult_expr, inside
        if node.repeat_value is not None:
            child_mult = mult * node.repeat_value
            child_expr = mult_expr * node.step.repeat.expr
            child_inside = True
        below = ancestors + ((node, mult),)
        if 2 < len(kids) + 1 and len(kids) >= 3:
            for subset in _subsets(kids):
                label = " + ".join(_title(k) for k in subset)
                add(list(subset), child_mult, child_expr, child_inside, label, 2, below)
        for kid in kids:
            go(kid, child_mult, child_expr, child_inside, below)

    go(root, 1, sympy.Integer(1), False)
    return out


def _subsets(kids: list[Evaluated]) -> Iterator[tuple[Evaluated, ...]]:
    n = len(kids)
    if n <= MAX_SUBSET_CHILDREN:
        sizes: Iterable[int] = range(2, n)
    else:
        sizes = (2, n - 1)
    for size in sizes:
        yield from combinations(kids, size)


def config_candidates(setting: Setting) -> list[Candidate]:
    """The sizes themselves (a claim `d_k = 64` or `48 blocks` is explained by the config)."""
    cfg = setting.config
    values = {**cfg.symbol_values(), "batch_size": setting.batch, "seq_len": setting.seq}
    out = [Candidate(Fraction(v), "count", "config", frozenset({k}), k, setting, rank=1) for k, v in values.items()]
    # one head's width and the widths the projections map to (the shapes a sheet writes: (7168, 576))
    d_k = Fraction(cfg.d_k)
    if cfg.attention == "mla":
        head = "d_k = qk_nope_head_dim + qk_rope_head_dim"
    else:
        head = "d_k = head_dim" if cfg.head_dim is not None else "d_k = d_model / num_heads"
    widths = [(d_k, "d_k", head), (d_k * cfg.num_heads, "q_width", "query width num_heads * d_k")]
    if cfg.attention == "mla":
        widths += [(Fraction(cfg.num_heads * cfg.v_head_dim), "v_width", "value width num_heads * v_head_dim"),
                   (Fraction(cfg.kv_lora_rank + cfg.qk_rope_head_dim), "kv_a_width",
                    "kv_lora_rank + qk_rope_head_dim"),
                   (Fraction(cfg.num_heads * (cfg.qk_nope_head_dim + cfg.v_head_dim)), "kv_b_width",
                    "num_heads * (qk_nope_head_dim + v_head_dim)")]
    else:
        widths.append((d_k * cfg.kv_heads, "d_kv", "d_kv = num_kv_heads * d_k"))
    out += [Candidate(v, "count", "config", frozenset({role}), label, setting, rank=1) for v, role, label in widths]
    out.append(Candidate(Fraction(setting.batch * setting.seq), "count", "config", frozenset({"tokens"}),
                         "tokens = batch_size * seq_len", setting, rank=1))
    for dtype, n in BYTES_PER.items():  # `4 bytes each`, a bytes/parameter column
        for fam in ("count", "bytes"):
            out.append(Candidate(Fraction(n), fam, "givens", frozenset({"bytes_per_parameter"}),
                                 f"bytes per {dtype} number", setting, rank=2))
    return out


def group_candidates(acc: Accounting, setting: Setting, forward: Evaluated) -> list[Candidate]:
    """The forward-FLOP groups derive's sheets report (attention projections, scores + weighted sum, FFN,
    lm_head, router), summed over every kind of block, and their shares of the forward pass."""
    from .vocabulary import read_words

    out: list[Candidate] = []
    total = forward.value
    for group, value in acc.groups.items():
        label = acc.group_label(group)
        roles = read_words(re.sub(r"\([^()]*\)", " ", label)).roles or frozenset({group})
        titles = frozenset({name_key(label), name_key(re.sub(r"\([^()]*\)", "", label)), group})
        out.append(Candidate(Fraction(value), "FLOPs", "forward", roles, f"{label} (all blocks)", setting, "all",
                             rank=1, titles=titles))
        if total:
            out.append(Candidate(Fraction(value, total), "ratio", "forward", roles,
                                 f"share of {label} in {_title(forward)}", setting, "all", rank=2, titles=titles))
    out += group_ratio_candidates(acc, setting)
    return out


def group_ratio_candidates(acc: Accounting, setting: Setting) -> list[Candidate]:
    """One forward-FLOP group over a sum of others (`attention-score FLOPs / (projection + feed-forward
    FLOPs) = 2 seq_len / (4 d_model + 3 d_ff)`, the sheets' scaling sentence), with the closed form of the
    ratio so a formula written for it is compared symbolically."""
    from .vocabulary import read_words

    groups = {g: v for g, v in acc.groups.items() if v}
    exprs = acc.derivation.forward_groups
    roles = {g: read_words(re.sub(r"\([^()]*\)", " ", acc.group_label(g))).roles or frozenset({g}) for g in groups}
    out: list[Candidate] = []
    if len(groups) > 6:  # a handful of groups in every architecture; bounded all the same
        return out
    for g, value in groups.items():
        others = [o for o in groups if o != g]
        for size in range(1, len(others) + 1):
            for subset in combinations(others, size):
                below = sum(groups[o] for o in subset)
                expr = sympy.factor(sympy.cancel(exprs[g] / sympy.Add(*(exprs[o] for o in subset))))
                label = (f"{acc.group_label(g)} / ({' + '.join(acc.group_label(o) for o in subset)}) "
                         "forward FLOPs")
                out.append(Candidate(Fraction(value, below), "ratio", "forward",
                                     roles[g].union(*(roles[o] for o in subset)), label, setting, "all",
                                     rank=3, expr_value=expr))
    return out


class SettingIndex:
    """The index of one Setting: model trees, per-token figures, config sizes (built once)."""

    def __init__(self, setting: Setting, acc: Accounting) -> None:
        self.setting, self.acc = setting, acc
        self.index = Index()
        trees = [("params", acc.params), ("buffers", acc.buffers), ("forward", acc.forward)]
        if acc.active_params is not None:
            trees.append(("active_params", acc.active_params))
        self.roots: dict[str, Evaluated] = dict(trees)
        self.nodes: dict[str, Evaluated] = {n.key: n for _, root in trees for n in root.walk()}
        for tree, root in trees:
            self.index.extend(tree_candidates(root, tree, setting))
        tokens = setting.batch * setting.seq
        for c in list(self.index.items.get("FLOPs", [])):
            if c.rank == 0 and c.scope != "one" and tokens > 1:
                self.index.add(Candidate(c.value / tokens, "FLOPs", c.tree, c.roles, f"{c.label} per token",
                                         setting, c.scope, c.keys, c.steps, c.mult, per="token", rank=2,
                                         expr_value=None, base=c))
        self.index.extend(config_candidates(setting))
        self.index.extend(group_candidates(acc, setting, self.roots["forward"]))

    def by_roles(self, roles: frozenset[str], trees: Iterable[str]) -> list[Candidate]:
        """Candidates covering exactly these roles, in the given trees (any value)."""
        wanted = set(trees)
        return [c for c in self.index.all() if c.named_by(roles) and c.tree in wanted and c.family != "ratio"
                and c.per is None]


def accounting_for(config: ModelConfig, batch: int, seq: int, cache: dict) -> Accounting:
    """account() with context_length raised to seq_len when a document's shapes go beyond it."""
    if seq > config.context_length:
        config = config.replace(context_length=seq)
    key = (config, batch, seq)
    if key not in cache:
        cache[key] = account(config, batch, seq)
    return cache[key]


def report_integers(obj, path: str = "") -> Iterator[tuple[str, int]]:
    """(dotted path, value) of every integer in a JSON report (`derive train --json`, `derive infer --json`): the
    figures a sheet of that run may print."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from report_integers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from report_integers(v, f"{path}[{i}]")
    elif isinstance(obj, int) and not isinstance(obj, bool):
        yield path, obj
