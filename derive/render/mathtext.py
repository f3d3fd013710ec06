"""Math inside derive's prose, typeset as math: `an (m x k) @ (k x n) matmul costs 2mkn FLOPs` in Markdown is
`an $(m \\times k) \\mathbin{@} (k \\times n)$ matmul costs $2mkn$ FLOPs` in LaTeX and MathML in HTML.

The prose is derive's own (conventions, component descriptions, the sentences of a sheet) and is written in the
ASCII notation of the hand derivations, so Markdown prints it unchanged. This module finds the formulas in it:
a run of operands (numbers, single letters, symbol names such as d_model, subscripted names such as d_k or
W1, `softmax(...)`, parenthesised formulas) joined by operators (x, *, @, =, +, -, /, ->, <-, ^) that holds
something only a formula has (an operator, a superscript, a symbol, a subscript, a function). English words
end a run. Text and formulas are escaped for their format by the caller's escaping functions (derive.render
.escape); nothing here passes input through unescaped, so it is safe on any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..model.symbols import SYMBOL_DEFS
from .escape import escape_html, escape_tex

SYMBOL_NAMES = frozenset(d.name for d in SYMBOL_DEFS) | {"d_k"}
GREEK = {"alpha": "\u03b1", "beta": "\u03b2", "gamma": "\u03b3", "lambda": "\u03bb", "theta": "\u03b8",
         "eps": "\u03b5", "epsilon": "\u03b5", "mu": "\u03bc", "sigma": "\u03c3", "eta": "\u03b7"}
GREEK_TEX = {"eps": "epsilon"}
FUNCTIONS = frozenset(("softmax", "sqrt", "exp", "log", "max", "min", "floor", "ceil", "round"))
# operator: (LaTeX, MathML text, needs spaces around it to be an operator rather than a hyphen or slash)
OPERATORS = {"x": (r"\times", "\u00d7", True), "*": (r"\cdot", "\u22c5", False), "@": (r"\mathbin{@}", "@", False),
             "=": ("=", "=", False), "+": ("+", "+", False), "-": ("-", "\u2212", True), "/": ("/", "/", True),
             "->": (r"\to", "\u2192", False), "<-": (r"\leftarrow", "\u2190", False),
             "~=": (r"\approx", "\u2248", False), "<=": (r"\le", "\u2264", False), ">=": (r"\ge", "\u2265", False)}

_TOKEN = re.compile(r"(?P<space>\s+)|(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)|(?P<ident>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*)"
                    r"|(?P<op>->|<-|~=|<=|>=|[*@+=/^-])|(?P<open>\()|(?P<close>\))|(?P<other>.)", re.S)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    space_before: bool


@dataclass(frozen=True)
class Node:
    """A formula node: kind num | sym | var | code | word | func | group | sup | op | seq."""

    kind: str
    text: str = ""
    sub: str = ""
    children: tuple["Node", ...] = ()
    space_before: bool = False


def _tokens(text: str) -> list[Tok]:
    out, space = [], False
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "space":
            space = True
            continue
        out.append(Tok(m.lastgroup or "other", m.group(), space))
        space = False
    return out


def _ident_node(tok: Tok, prev: Tok | None, nxt: Tok | None) -> Node | None:
    """The operand an identifier is in a formula, or None for an English word."""
    name = tok.text
    glued_to_number = prev is not None and prev.kind == "num" and not tok.space_before
    if name in SYMBOL_NAMES:
        return Node("sym", name)
    if name in FUNCTIONS and nxt is not None and nxt.kind == "open" and not nxt.space_before:
        return Node("func", name)
    if "_" in name:
        base, sub = name.split("_", 1)
        if (len(base) == 1 or base in GREEK) and len(sub) <= 3:
            return Node("var", base, sub)
        return Node("code", name)
    m = re.fullmatch(r"([A-Za-z]|alpha|beta|gamma|lambda|theta|eps)(\d+)", name)
    if m:
        return Node("var", m.group(1), m.group(2))
    if len(name) == 1 or name in GREEK or re.fullmatch(r"d[A-Z]", name):
        return Node("word", name)
    if nxt is not None and nxt.text == "^" and not nxt.space_before and len(name) <= 3:
        return Node("word", name)  # QK^T
    if glued_to_number and name.islower() and len(name) <= 4:
        return Node("word", name)  # 2mkn
    return None


class _Parser:
    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks

    def tok(self, i: int) -> Tok | None:
        return self.toks[i] if 0 <= i < len(self.toks) else None

    def operand(self, i: int) -> tuple[Node, int] | None:
        """An operand starting at token i, with any superscript: (node, next index)."""
        t = self.tok(i)
        if t is None:
            return None
        node: Node | None = None
        j = i + 1
        if t.kind == "num":
            node = Node("num", t.text)
        elif t.kind == "ident":
            node = _ident_node(t, self.tok(i - 1), self.tok(i + 1))
            if node is not None and node.kind == "func":
                inner = self.group(i + 1)
                if inner is None:
                    return None
                arg, j = inner
                node = Node("func", t.text, children=(arg,))
        elif t.kind == "open":
            inner = self.group(i)
            if inner is None:
                return None
            node, j = inner
        if node is None:
            return None
        node = Node(node.kind, node.text, node.sub, node.children, t.space_before)
        nxt = self.tok(j)
        if nxt is not None and nxt.text == "^" and not nxt.space_before:
            sup_tok = self.tok(j + 1)
            if sup_tok is not None and not sup_tok.space_before and sup_tok.kind in ("num", "ident"):
                sup = Node("transpose") if sup_tok.text == "T" else Node(
                    "num" if sup_tok.kind == "num" else "word", sup_tok.text)
                return Node("sup", children=(node, sup), space_before=node.space_before), j + 2
            if sup_tok is not None and sup_tok.kind == "open":
                inner = self.group(j + 1)
                if inner is not None:
                    return Node("sup", children=(node, inner[0]), space_before=node.space_before), inner[1]
        return node, j

    def group(self, i: int) -> tuple[Node, int] | None:
        """`( formula )` or `(.)` starting at the open parenthesis i."""
        t = self.tok(i + 1)
        if t is not None and t.text == "." and (self.tok(i + 2) or Tok("", "", False)).kind == "close":
            return Node("group", children=(Node("op", "*"),)), i + 3
        run = self.run(i + 1)
        if run is None:
            return None
        node, j = run
        close = self.tok(j)
        if close is None or close.kind != "close":
            return None
        return Node("group", children=(node,)), j + 1

    def run(self, i: int) -> tuple[Node, int] | None:
        """operand ((op | juxtaposition) operand)* from token i: the longest formula that starts there."""
        first = self.operand(i)
        if first is None:
            return None
        parts, j = [first[0]], first[1]
        while True:
            t = self.tok(j)
            if t is None:
                break
            if t.kind in ("op", "ident") and t.text in OPERATORS and t.text != "^":
                needs_space = OPERATORS[t.text][2]
                nxt = self.tok(j + 1)
                if needs_space and not (t.space_before and nxt is not None and nxt.space_before):
                    break
                if t.kind == "ident" and not t.space_before:
                    break
                right = self.operand(j + 1)
                if right is None:
                    break
                parts += [Node("op", t.text, space_before=t.space_before), right[0]]
                j = right[1]
                continue
            right = self.operand(j) if t.kind in ("num", "ident", "open") else None
            if right is None or (t.kind == "num" and not t.space_before) or _article(parts[-1]) or _article(right[0]):
                break
            parts.append(right[0])
            j = right[1]
        return (parts[0] if len(parts) == 1 else Node("seq", children=tuple(parts))), j


def _article(node: Node) -> bool:
    """`a` and `I` are words next to a formula (`a d_model x d_model matrix`), operands only beside an operator."""
    return node.kind == "word" and node.text in ("a", "A", "I")


def _strong(node: Node) -> bool:
    """Whether a formula holds something prose never does (so a lone `a` or `8` stays text)."""
    if node.kind in ("sym", "func", "sup", "op", "transpose") or (node.kind == "var" and node.sub):
        return True
    if node.kind == "seq" and any(c.kind == "word" and c.text.islower() and not c.space_before
                                  for c in node.children[1:]):
        return True  # 2mkn
    return any(_strong(c) for c in node.children)


@lru_cache(maxsize=2048)
def split(text: str) -> tuple[tuple[str, "Node | None"], ...]:
    """`text` as (source, formula) pieces in order: formula None for prose, a Node for a formula."""
    toks = _tokens(text)
    spans: list[tuple[int, int, Node]] = []  # token ranges of formulas
    parser = _Parser(toks)
    i = 0
    while i < len(toks):
        run = parser.run(i) if (i == 0 or toks[i].space_before or toks[i - 1].kind in ("open", "other")) else None
        if run is not None and (_strong(run[0]) or run[0].kind == "code"):
            nxt = parser.tok(run[1])
            if nxt is None or nxt.space_before or nxt.kind in ("close", "other", "op"):
                spans.append((i, run[1], run[0]))
                i = run[1]
                continue
        i += 1
    # Map token ranges back to the source text.
    positions, pos = [], 0
    for m in _TOKEN.finditer(text):
        if m.lastgroup != "space":
            positions.append((m.start(), m.end()))
    pieces: list[tuple[str, Node | None]] = []
    for start, end, node in spans:
        a, b = positions[start][0], positions[end - 1][1]
        if a > pos:
            pieces.append((text[pos:a], None))
        pieces.append((text[a:b], node))
        pos = b
    if pos < len(text):
        pieces.append((text[pos:], None))
    return tuple(pieces)


# --- LaTeX ----------------------------------------------------------------------------------------------------
def _tex_sub(sub: str) -> str:
    return sub if len(sub) == 1 or sub.isdigit() else rf"\mathrm{{{escape_tex(sub)}}}"


def _tex_name(name: str) -> str:
    if name in GREEK:
        return "\\" + GREEK_TEX.get(name, name)
    return escape_tex(name)


def node_tex(node: Node) -> str:
    from .latex import macro  # latex imports formatting only; kept late to keep this module's imports small

    k = node.kind
    if k == "num":
        return node.text.replace(",", "{,}")
    if k == "sym":
        return macro(node.text)
    if k == "var":
        return f"{_tex_name(node.text)}_{{{_tex_sub(node.sub)}}}"
    if k == "word":
        return _tex_name(node.text)
    if k == "code":
        return rf"\texttt{{{escape_tex(node.text)}}}"
    if k == "transpose":
        return r"\top"
    if k == "op":
        return OPERATORS[node.text][0]
    if k == "func":
        arg = node_tex(node.children[0].children[0]) if node.children[0].kind == "group" else node_tex(node.children[0])
        return rf"\sqrt{{{arg}}}" if node.text == "sqrt" else rf"\operatorname{{{node.text}}}({arg})"
    if k == "group":
        return "(" + node_tex(node.children[0]) + ")"
    if k == "sup":
        base, sup = node.children
        return f"{node_tex(base)}^{{{node_tex(sup.children[0]) if sup.kind == 'group' else node_tex(sup)}}}"
    out = ""
    for i, c in enumerate(node.children):  # seq
        glue = r"\," if i and c.space_before and c.kind != "op" and node.children[i - 1].kind != "op" else ""
        out += glue + (f" {node_tex(c)} " if c.kind == "op" else node_tex(c))
    return out.strip()


@lru_cache(maxsize=4096)
def prose_tex(text: str) -> str:
    """Prose for LaTeX: text escaped, each formula typeset in math mode (a lone code name in \\texttt)."""
    out = []
    for source, node in split(text):
        if node is None:
            out.append(escape_tex(source))
        elif node.kind == "code":
            out.append(node_tex(node))
        else:
            out.append(f"${node_tex(node)}$")
    return "".join(out)


# --- MathML ---------------------------------------------------------------------------------------------------
def _mi(name: str) -> str:
    if name in GREEK:
        return f"<mi>{GREEK[name]}</mi>"
    return "".join(f"<mi>{escape_html(ch)}</mi>" for ch in name)  # single letters: italic, one per letter


_PAREN_OPEN = '<mo stretchy="false">(</mo>'
_PAREN_CLOSE = '<mo stretchy="false">)</mo>'


def node_mathml(node: Node) -> str:
    from .mathml import symbol_mathml

    k = node.kind
    if k == "num":
        return f"<mn>{escape_html(node.text)}</mn>"
    if k == "sym":
        return symbol_mathml(node.text)
    if k == "var":
        sub = escape_html(node.sub)
        sub_ml = f"<mn>{sub}</mn>" if node.sub.isdigit() else f"<mi>{sub}</mi>"
        return f"<msub>{_mi(node.text)}{sub_ml}</msub>"
    if k == "word":
        return _mi(node.text) if len(node.text) <= 4 or node.text in GREEK else f"<mi>{escape_html(node.text)}</mi>"
    if k == "code":
        return f'<mi mathvariant="monospace">{escape_html(node.text)}</mi>'
    if k == "transpose":
        return "<mo>\u22a4</mo>"
    if k == "op":
        return f"<mo>{escape_html(OPERATORS[node.text][1])}</mo>"
    if k == "func":
        inner = node.children[0].children[0] if node.children[0].kind == "group" else node.children[0]
        if node.text == "sqrt":
            return f"<msqrt>{node_mathml(inner)}</msqrt>"
        return f"<mi>{node.text}</mi><mo>&#x2061;</mo><mrow>{_PAREN_OPEN}{node_mathml(inner)}{_PAREN_CLOSE}</mrow>"
    if k == "group":
        return f"<mrow>{_PAREN_OPEN}{node_mathml(node.children[0])}{_PAREN_CLOSE}</mrow>"
    if k == "sup":
        base, sup = node.children
        sup_ml = node_mathml(sup.children[0]) if sup.kind == "group" else node_mathml(sup)
        return f"<msup><mrow>{node_mathml(base)}</mrow><mrow>{sup_ml}</mrow></msup>"
    return "<mrow>" + "".join(node_mathml(c) for c in node.children) + "</mrow>"


@lru_cache(maxsize=4096)
def prose_html(text: str) -> str:
    """Prose for HTML: text escaped, each formula as inline MathML (a lone code name in <code>)."""
    out = []
    for source, node in split(text):
        if node is None:
            out.append(escape_html(source))
        elif node.kind == "code":
            out.append(f"<code>{escape_html(node.text)}</code>")
        else:
            out.append(f"<math>{node_mathml(node)}</math>")
    return "".join(out)
