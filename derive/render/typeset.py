"""The sources' notation (derive.render.notation) typeset: LaTeX with derive's macros, MathML, and the values the
conventions sheet's templates print (`Text`, `Citation`, `Formula`: `.tex`, `.html`; plain text otherwise).

All text goes through derive.render.escape, symbols through derive's macros and MathML names, so the output is
safe on any input.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup

from .environment import TeX
from .escape import escape_html, escape_tex
from .latex import macro
from .mathml import symbol_mathml
from .notation import OPERATORS, Node, formula_node, split


# --- LaTeX ----------------------------------------------------------------------------------------------------
def code_tex(text: str) -> str:
    """Code in typewriter, breakable after `_` and `/` (a long identifier or path would overrun a line)."""
    body = escape_tex(text).replace(r"\_", r"\_\allowbreak{}").replace("/", r"/\allowbreak{}")
    return rf"\texttt{{{body}}}"


def node_tex(node: Node) -> str:
    k = node.kind
    if k == "num":
        return node.text.replace(",", "{,}")
    if k == "var":
        sub = node.sub if len(node.sub) <= 1 or node.sub.isdigit() else rf"\mathrm{{{escape_tex(node.sub)}}}"
        return escape_tex(node.text) + (f"_{{{sub}}}" if node.sub else "")
    if k == "sym":
        return macro(node.text)
    if k == "name":
        return rf"\text{{{escape_tex(node.text)}}}"
    if k == "code":
        return code_tex(node.text)
    if k == "op":
        return OPERATORS[node.text][0]
    if k == "transpose":
        return r"\top"
    if k == "group":
        return "(" + node_tex(node.children[0]) + ")"
    if k == "sup":
        base, exp = node.children
        return f"{node_tex(base)}^{{{node_tex(exp.children[0]) if exp.kind == 'group' else node_tex(exp)}}}"
    if k == "product":
        return "".join(node_tex(c) for c in node.children)
    out = ""
    for i, c in enumerate(node.children):  # seq: a thin space where the source has a space between operands
        if c.kind == "op":
            out += f" {node_tex(c)} "
        else:
            out += (r"\," if i and c.space and node.children[i - 1].kind != "op" else "") + node_tex(c)
    return out.strip()


@lru_cache(maxsize=1024)
def formula_tex(text: str) -> str:
    """A whole field as math-mode LaTeX (without the dollars); typewriter text if it does not read as a formula."""
    node = formula_node(text)
    return node_tex(node) if node is not None else code_tex(text)


_OPENING_QUOTE = re.compile(r"(^|(?<=[\s(]))'")
_ABBREVIATION = re.compile(r"\b(al|eq|approx)\. ")  # an abbreviation's period ends no sentence: no wide space


@lru_cache(maxsize=1024)
def prose_tex(text: str, citation: bool = False) -> str:
    out = []
    for source, kind, node in split(text, citation):
        if kind == "text":  # a quotation's opening quote is TeX's left quote (` prints as one)
            out.append(_ABBREVIATION.sub(r"\1.\\ ", _OPENING_QUOTE.sub("`", escape_tex(source))))
        elif kind == "code":
            out.append(code_tex(source.strip("`")))
        else:
            out.append(f"${node_tex(node)}$")
    return "".join(out)


# --- MathML ---------------------------------------------------------------------------------------------------
_OPEN, _CLOSE = '<mo stretchy="false">(</mo>', '<mo stretchy="false">)</mo>'


def node_mathml(node: Node) -> str:
    k = node.kind
    if k == "num":
        return f"<mn>{escape_html(node.text)}</mn>"
    if k == "var":
        base = f"<mi>{escape_html(node.text)}</mi>"
        if not node.sub:
            return base
        sub = f"<mn>{node.sub}</mn>" if node.sub.isdigit() else f"<mi>{escape_html(node.sub)}</mi>"
        return f"<msub>{base}{sub}</msub>"
    if k == "sym":
        return symbol_mathml(node.text)
    if k == "name":  # <mi>, not <mtext>: an mrow of mtext and one <mo> would be an embellished operator
        return f"<mi>{escape_html(node.text)}</mi>"
    if k == "code":
        return f'<mi mathvariant="monospace">{escape_html(node.text)}</mi>'
    if k == "op":  # a slash as the source writes it, s/(6h): no operator space around it
        space = ' lspace="0" rspace="0"' if node.text == "/" else ""
        return f"<mo{space}>{escape_html(OPERATORS[node.text][1])}</mo>"
    if k == "transpose":
        return "<mo>\u22a4</mo>"
    if k == "group":
        return f"<mrow>{_OPEN}{node_mathml(node.children[0])}{_CLOSE}</mrow>"
    if k == "sup":
        base, exp = node.children
        inner = node_mathml(exp.children[0]) if exp.kind == "group" else node_mathml(exp)
        return f"<msup><mrow>{node_mathml(base)}</mrow><mrow>{inner}</mrow></msup>"
    return "<mrow>" + "".join(node_mathml(c) for c in node.children) + "</mrow>"  # product, seq


@lru_cache(maxsize=1024)
def formula_mathml(text: str) -> str:
    """A whole field as an inline <math> element; monospace text in it if it does not read as a formula."""
    node = formula_node(text)
    inner = node_mathml(node) if node is not None else f'<mi mathvariant="monospace">{escape_html(text)}</mi>'
    return f"<math>{inner}</math>"


@lru_cache(maxsize=1024)
def prose_html(text: str, citation: bool = False) -> str:
    out = []
    for source, kind, node in split(text, citation):
        if kind == "text":
            out.append(escape_html(source))
        elif kind == "code":
            out.append(f"<code>{escape_html(source.strip('`'))}</code>")
        else:
            out.append(f"<math>{node_mathml(node)}</math>")
    return "".join(out)


# --- values for the templates ---------------------------------------------------------------------------------
class Text(str):
    """Prose of the conventions registry: printed as it is (escaped) by default; `.tex` and `.html` typeset its
    formulas and code. A Citation also reads repository paths as code."""

    citation = False

    @property
    def tex(self) -> TeX:  # derive's own text may run over several lines (sheets.yaml): each is read alone
        return TeX("\n".join(prose_tex(line, self.citation) for line in self.split("\n")))

    @property
    def html(self) -> Markup:
        return Markup("\n".join(prose_html(line, self.citation) for line in self.split("\n")))


class Citation(Text):
    citation = True


class Formula(str):
    """A formula as its source writes it: `.tex` is math-mode LaTeX (no dollars), `.html` a <math> element."""

    @property
    def tex(self) -> TeX:
        return TeX(formula_tex(str(self)))

    @property
    def html(self) -> Markup:
        return Markup(formula_mathml(str(self)))
