"""Formulas as papers and repositories write them, typeset: the conventions sheet's "as written" forms
(`72 B s L h^2 (1 + s/(6h) + V/(12 h L))`, `3 (embeddings + num_layers (attention + dense_block) + logits)`) and the
formulas inside the conventions' own prose (`6N + 12LHQT`, `C_forward`, `MLP h -> 4h -> h`).

The sources' notation is not the hand derivations' that derive.render.mathtext reads, so it has its own reader:
- a number glued to letters is a product of one-letter symbols (6N, 12LHQT, 72Bslh^2), never a word, unless it
  is a count with a magnitude suffix (7B, 175B, 1T: text);
- one letter with a subscript of any length is a variable (n_layer, d_attn, C_forward, H_kv);
- derive's symbol names (seq_len, d_model) print through derive's macros (LaTeX) and MathML names, as everywhere;
- a whole "as written" field is one formula, and its words are named quantities (embeddings, KQV projections);
- in prose, backtick spans, dotted names (nn.Embedding, GPT.estimate_mfu, model.py) and snake_case names are
  code; in a citation, so are repository paths (pytorch/torchtitan); an expression of code names and words
  (`mfu = 100 * num_flops_per_token * tps / gpu_peak_flops`) is code as a whole.
This module reads; derive.render.typeset prints what it read as LaTeX and MathML, escaping all text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .mathtext import SYMBOL_NAMES

# operator: (LaTeX, MathML, in prose it is one only between spaces: a hyphen or a slash inside a word is not)
OPERATORS = {"+": ("+", "+", False), "-": ("-", "\u2212", True), "*": (r"\cdot", "\u22c5", False),
             "/": ("/", "/", True), "//": (r"\mathbin{/\!/}", "//", False), "=": ("=", "=", False),
             "x": (r"\times", "\u00d7", True), "->": (r"\to", "\u2192", False), "<-": (r"\leftarrow", "\u2190", False),
             "~=": (r"\approx", "\u2248", False), "@": (r"\mathbin{@}", "@", False)}
ARTICLES = frozenset(("a", "A", "I"))  # words beside a formula; operands only next to an operator
MAX_GLUED = 6  # letters glued to a number read as a product (12LHQT); longer is a word or an identifier
MAGNITUDES = frozenset("KMBT")  # 7B, 175B, 1T: a count of parameters or tokens, not a product

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?"
_PATH = r"[A-Za-z_][\w.-]*(?:/[\w.-]+)+"
_REST = (r"|(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)|(?P<ident>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*(?:'s\b)?)"
         r"|(?P<op>->|<-|~=|//|[*@+=/^-])|(?P<open>\()|(?P<close>\))|(?P<other>.)")
_TOKEN = re.compile(r"(?P<space>\s+)|(?P<tick>`[^`\n]+`)|(?P<code>" + _DOTTED + ")" + _REST, re.DOTALL)
_TOKEN_CITATION = re.compile(r"(?P<space>\s+)|(?P<tick>`[^`\n]+`)|(?P<code>" + _PATH + "|" + _DOTTED + ")" + _REST,
                             re.DOTALL)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    space: bool  # whitespace before it
    start: int
    end: int


@dataclass(frozen=True)
class Node:
    """num | var (text, sub) | sym | name | code | op | group | sup | transpose | product | seq."""

    kind: str
    text: str = ""
    sub: str = ""
    children: tuple[Node, ...] = ()
    space: bool = False


def tokens(text: str, citation: bool = False) -> list[Tok]:
    out, space = [], False
    for m in (_TOKEN_CITATION if citation else _TOKEN).finditer(text):
        kind = m.lastgroup or "other"
        if kind == "space":
            space = True
            continue
        if kind == "code" and "/" not in m.group() and max(len(p) for p in m.group().split(".")) < 2:
            kind = "other"  # e.g. (two one-letter parts): an abbreviation, not a name
        out.append(Tok(kind, m.group(), space, m.start(), m.end()))
        space = False
    return out


class _Reader:
    """A recursive-descent reader of formulas. formula=True: every identifier is an operand (a word is a named
    quantity); words=True: in prose, a word is an operand next to an operator (code expressions)."""

    def __init__(self, toks: list[Tok], formula: bool = False, words: bool = False) -> None:
        self.toks, self.formula, self.words = toks, formula, words

    def tok(self, i: int) -> Tok | None:
        return self.toks[i] if 0 <= i < len(self.toks) else None

    def ident(self, i: int) -> tuple[Node, int] | None:
        t = self.toks[i]
        name = t.text
        nxt, after = self.tok(i + 1), self.tok(i + 2)
        if nxt and after and nxt.kind == "open" and not nxt.space and after.kind == "close" and not after.space:
            return Node("code", name + "()"), i + 3  # get_num_params()
        if name.endswith("'s"):
            return None
        if name in SYMBOL_NAMES:
            return Node("sym", name), i + 1
        base, _, sub = name.partition("_")
        if len(base) == 1 and base.isalpha():
            return Node("var", base, sub), i + 1
        if sub and not self.formula:  # in a whole formula, dense_block is a named quantity like embeddings
            return Node("code", name), i + 1
        if self.formula or self.words:
            return Node("name", name), i + 1
        return None

    def operand(self, i: int) -> tuple[Node, int] | None:
        t = self.tok(i)
        if t is None:
            return None
        if t.kind == "num":
            node, j = Node("num", t.text), i + 1
            glued = self.tok(j)
            if glued is not None and glued.kind == "ident" and not glued.space:
                if not (glued.text.isalpha() and len(glued.text) <= MAX_GLUED) or glued.text in MAGNITUDES:
                    return None  # 3341b4c, 2nd, 175B: not a formula
                node = Node("product", children=(node, *(Node("var", ch) for ch in glued.text)))
                j += 1
        elif t.kind == "ident":
            found = self.ident(i)
            if found is None:
                return None
            node, j = found
        elif t.kind in ("code", "tick"):
            node, j = Node("code", t.text.strip("`")), i + 1
        elif t.kind == "open":
            found = self.group(i)
            if found is None:
                return None
            node, j = found
        else:
            return None
        node = Node(node.kind, node.text, node.sub, node.children, t.space)
        return self.superscript(node, j)

    def superscript(self, node: Node, j: int) -> tuple[Node, int]:
        caret, sup = self.tok(j), self.tok(j + 1)
        if caret is None or caret.text != "^" or caret.space or sup is None or sup.space:
            return node, j
        if sup.kind == "open":
            found = self.group(j + 1)
            if found is None:
                return node, j
            exp, end = found
        elif sup.kind == "num" or (sup.kind == "ident" and len(sup.text) == 1):
            exp, end = (Node("transpose") if sup.text == "T" else Node("num" if sup.kind == "num" else "var",
                                                                         sup.text)), j + 2
        else:
            return node, j
        if node.kind == "product":  # 72Bslh^2: the exponent belongs to the last letter
            *head, last = node.children
            return Node("product", children=(*head, Node("sup", children=(last, exp))), space=node.space), end
        return Node("sup", children=(node, exp), space=node.space), end

    def group(self, i: int) -> tuple[Node, int] | None:
        found = self.run(i + 1)
        if found is None:
            return None
        inner, j = found
        close = self.tok(j)
        if close is None or close.kind != "close":
            return None
        return Node("group", children=(inner,)), j + 1

    def operator(self, j: int) -> str | None:
        t = self.tok(j)
        if t is None or t.text not in OPERATORS or t.kind not in ("op", "ident"):
            return None
        nxt = self.tok(j + 1)
        spaced = t.space and nxt is not None and nxt.space
        if t.kind == "ident" and not spaced:  # x between spaces is times; anywhere else a letter
            return None
        if OPERATORS[t.text][2] and not spaced and not self.formula:
            return None
        return t.text

    def run(self, i: int) -> tuple[Node, int] | None:
        """operand ((operator | juxtaposition) operand)*: the longest formula that starts at token i."""
        first = self.operand(i)
        if first is None or (self.words and first[0].kind == "name" and self.operator(first[1]) is None):
            return None
        parts, j = [first[0]], first[1]
        while self.tok(j) is not None:
            op = self.operator(j)
            if op is not None:
                right = self.operand(j + 1)
                if right is None:
                    break
                parts += [Node("op", op, space=self.toks[j].space), right[0]]
                j = right[1]
                continue
            t = self.toks[j]
            right = self.operand(j) if t.space else None
            if right is None or self._no_juxtaposition(parts[-1], right[0]):
                break
            if parts[-1].kind == "name" and right[0].kind == "name":  # KQV projections: one named quantity
                parts[-1] = Node("name", f"{parts[-1].text} {right[0].text}", space=parts[-1].space)
            else:
                parts.append(right[0])
            j = right[1]
        return (parts[0] if len(parts) == 1 else Node("seq", children=tuple(parts))), j

    def _no_juxtaposition(self, left: Node, right: Node) -> bool:
        if self.formula:
            return False
        if "code" in (left.kind, right.kind) or (self.words and "name" in (left.kind, right.kind)):
            return True  # `karpathy/nanoGPT model.py`: two names side by side are text, not a product
        return any(n.kind == "var" and not n.sub and n.text in ARTICLES for n in (left, right))


def _has(node: Node, test) -> bool:
    return test(node) or any(_has(c, test) for c in node.children)


def _strong(node: Node) -> bool:
    """Whether a run holds something prose never does (so a lone `8` or `N` stays text)."""
    return _has(node, lambda n: n.kind in ("sym", "sup", "op", "transpose", "product", "code")
                or (n.kind == "var" and bool(n.sub)))


@lru_cache(maxsize=1024)
def formula_node(text: str) -> Node | None:
    """A whole field as one formula in the sources' notation; None if it does not read as one."""
    toks = tokens(text)
    found = _Reader(toks, formula=True).run(0) if toks else None
    return found[0] if found is not None and found[1] == len(toks) else None


Piece = tuple[str, str, "Node | None"]  # (source text, kind: text | math | code, formula)


@lru_cache(maxsize=1024)
def split(text: str, citation: bool = False) -> tuple[Piece, ...]:
    """Prose as pieces in order: text, a formula (math) or code."""
    toks = tokens(text, citation)
    plain, code = _Reader(toks), _Reader(toks, words=True)
    spans: list[tuple[int, int, str, Node | None]] = []
    i = 0
    while i < len(toks):
        prev = toks[i - 1] if i else None
        if prev is None or toks[i].space or prev.kind in ("open", "other"):
            expr, words = plain.run(i), code.run(i)
            if words is not None and (expr is None or words[1] > expr[1]) and _code_expression(words[0]):
                spans.append((i, words[1], "code", None))
                i = words[1]
                continue
            if expr is not None and _strong(expr[0]) and _ends_here(toks, expr[1]):
                node = expr[0]
                spans.append((i, expr[1], "code" if node.kind == "code" else "math", node))
                i = expr[1]
                continue
        if toks[i].kind in ("code", "tick"):
            spans.append((i, i + 1, "code", None))
        i += 1
    pieces: list[Piece] = []
    pos = 0
    for a, b, kind, node in spans:
        start, end = toks[a].start, toks[b - 1].end
        if start > pos:
            pieces.append((text[pos:start], "text", None))
        pieces.append((text[start:end], kind, node))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], "text", None))
    return tuple(pieces)


def _ends_here(toks: list[Tok], j: int) -> bool:
    nxt = toks[j] if j < len(toks) else None
    return nxt is None or nxt.space or nxt.kind in ("close", "other", "op")


def _code_expression(node: Node) -> bool:
    """A run of code names and words joined by operators (`head_dims = 2 * (dim // n_heads)`): code, not math."""
    return (_has(node, lambda n: n.kind == "name") and _has(node, lambda n: n.kind == "op")
            and _has(node, lambda n: n.kind == "code" or (n.kind == "op" and n.text == "//")))
