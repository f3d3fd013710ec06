"""LaTeX as plain text: a .tex document, or the `$...$` math of a Markdown line, read into the same plain
notation the rest of derive check reads (`2 * d_model * vocab_size = 160,822,400`).

Standard library only, one pass per line with precomputed brace pairs (linear time, nesting bounded).
Macros the document defines (`\\providecommand{\\dmodel}{d}`) are expanded; a macro whose body is one of
derive's symbols as its sheets typeset it (`d`, `d_{\\mathrm{ff}}`) becomes that symbol's name (`d_model`).
A .tex document keeps its line numbers: every input line gives exactly one output line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model.symbols import SYMBOL_DEFS

MAX_NESTING = 64  # braces deeper than this are not LaTeX anyone writes by hand: the line is read as it is
MAX_EXPANSIONS = 10_000  # macro expansions per document (a macro that expands into itself stops here)

_CMD = re.compile(r"\\([A-Za-z]+\*?|.)")
_DIMENSION = re.compile(r"\\[A-Za-z]+\s*=\s*-?[\d.]+\s*(?:em|ex|pt|cm|mm|in|bp|sp|\\[A-Za-z]+)")
_DEFINE = re.compile(r"\\(?:re)?(?:provide|new)command\*?\s*\{?\\([A-Za-z]+)\}?\s*(?:\[(\d)\])?\s*(?:\[[^\]]*\])?\s*\{")
_DEF = re.compile(r"\\def\\([A-Za-z]+)\s*\{")

# Commands whose one argument is kept as text.
_KEEP_ARG = {"text", "textrm", "textnormal", "mathrm", "mathit", "mathbf", "mathsf", "mathtt", "textbf", "textit",
             "texttt", "textsf", "emph", "operatorname", "mbox", "hbox", "boldsymbol", "bm", "mathbb", "mathcal",
             "underline", "overline", "widehat", "hat", "tilde", "bar", "vec", "textup", "textsc", "ensuremath",
             "num", "dnum", "intertext", "footnote", "caption", "title", "paragraph", "subparagraph",
             "textsuperscript", "mathrlap", "mathllap", "smash", "href"}
_DROP_ARG = {"label", "ref", "cite", "url", "phantom", "vspace", "hspace", "vskip", "setlength", "pgfplotsset",
             "usepackage", "documentclass", "includegraphics", "input", "include", "bibliography",
             "bibliographystyle", "color", "textcolor", "addplot", "pagestyle", "thispagestyle"}
_WORDS = {"times": " * ", "cdot": " * ", "ast": " * ", "div": " / ", "approx": " ≈ ", "simeq": " ≈ ",
          "sim": " ~ ", "leq": " <= ", "le": " <= ", "geq": " >= ", "ge": " >= ", "neq": " != ", "ne": " != ",
          "to": " -> ", "rightarrow": " -> ", "Rightarrow": " ; ", "implies": " ; ", "Longrightarrow": " ; ",
          "iff": " ; ", "Leftrightarrow": " ; ", "Longleftrightarrow": " ; ", "quad": " ", "qquad": " ",
          "lfloor": " floor( ", "rfloor": " ) ", "lceil": " ceil( ", "rceil": " ) ", "ldots": "...", "dots": "...",
          "cdots": "...", "percent": "%", "max": "max", "min": "min", "log": "log", "infty": "inf",
          "newline": " ", "linebreak": " ", "par": " ", "centering": "", "raggedright": "", "small": "",
          "footnotesize": "", "scriptsize": "", "large": "", "Large": "", "normalsize": "", "tiny": "",
          "displaystyle": "", "textstyle": "", "left": "", "right": "", "big": "", "Big": "", "bigg": "",
          "Bigg": "", "bigl": "", "bigr": "", "Bigl": "", "Bigr": "", "limits": "", "nolimits": "",
          "maketitle": "", "toprule": "", "midrule": "", "bottomrule": "", "hline": "", "cline": "",
          "noalign": "", "allowdisplaybreaks": "", "item": "- ", "textless": "<", "textgreater": ">",
          "textasciicircum": "^", "textunderscore": "_", "pm": " +- ", "mp": " -+ ", "alpha": "alpha",
          "beta": "beta", "lambda": "lambda", "top": "T", "intercal": "T", "mathsf{T}": "T", "epsilon": "eps", "theta": "theta", "emergencystretch": ""}
_SPACES = {",": " ", ";": " ", ":": " ", "!": "", " ": " ", "/": "", "@": "", "-": ""}
_ESCAPED = {"%": "%", "_": "_", "&": "&", "$": "$", "#": "#", "{": "(", "}": ")", "\\": "\n", "^": "^"}
_SI_PREFIX = {"kilo": "k", "mega": "M", "giga": "G", "tera": "T", "peta": "P", "exa": "E", "kibi": "Ki",
              "mebi": "Mi", "gibi": "Gi", "tebi": "Ti", "pebi": "Pi"}
_SI_UNIT = {"byte": "B", "second": "s", "flops": "FLOPs", "flop": "FLOPs", "percent": "%", "hour": "h",
            "day": "days", "bit": "bit"}
# Table environments and how many arguments (a width, the column specification) follow \begin{...}.
_TABLE_ARGS = {"tabular": 1, "array": 1, "longtable": 1, "longtable*": 1, "supertabular": 1, "supertabular*": 2,
               "xtabular": 1, "mpsupertabular": 1, "tabu": 1, "longtabu": 1, "tabular*": 2, "tabularx": 2,
               "tabulary": 2, "xltabular": 2}
_SECTIONS = {"part": "#", "chapter": "#", "section": "##", "subsection": "###", "subsubsection": "####"}


@dataclass(frozen=True)
class Macro:
    """A macro the document defines: its number of arguments and its body (`#1` for an argument)."""

    args: int
    body: str


def _symbol_bodies() -> dict[str, str]:
    """`d` -> d_model, `d_{\\mathrm{ff}}` -> d_ff: derive's symbols as its sheets typeset them."""
    return {_squash(d.latex): d.name for d in SYMBOL_DEFS} | {"d_k": "d_k", "d_{k}": "d_k"}


def _squash(tex: str) -> str:
    return re.sub(r"\s+", "", tex).replace(r"\mathrm", "").replace(r"\text", "").replace("{", "").replace("}", "")


def brace_pairs(s: str) -> dict[int, int] | None:
    """Index of every `{` -> its `}` (escaped braces skipped); None if nesting passes MAX_NESTING."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            stack.append(i)
            if len(stack) > MAX_NESTING:
                return None
        elif c == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def read_macros(text: str) -> dict[str, Macro]:
    """Every \\providecommand / \\newcommand / \\renewcommand / \\def with a brace-delimited body."""
    macros: dict[str, Macro] = {}
    for pattern in (_DEFINE, _DEF):
        for m in pattern.finditer(text):
            start = m.end() - 1
            depth, j = 0, start
            while j < len(text) and j - start < 2000:
                if text[j] == "\\":
                    j += 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            if depth == 0:
                args = int(m.group(2)) if pattern is _DEFINE and m.group(2) else 0
                macros.setdefault(m.group(1), Macro(args, text[start + 1:j]))
    return macros


class Converter:
    """Turns LaTeX into derive check's plain notation, one string at a time."""

    def __init__(self, macros: dict[str, Macro] | None = None) -> None:
        self.macros = macros or {}
        self.symbols = _symbol_bodies()
        self.expansions = 0

    def convert(self, s: str) -> str:
        """Plain text of one line of LaTeX (math or text mode)."""
        s = _DIMENSION.sub(" ", s)
        pairs = brace_pairs(s)
        if pairs is None:
            return s
        out: list[str] = []
        self._run(s, 0, len(s), pairs, out, 0)
        text = "".join(out)
        text = re.sub(r"[ \t]{2,}", " ", text)
        # `\texttt{lm\_head}.` reads ` lm_head .`: punctuation goes back against its word, so sentences split
        return re.sub(r"(?<=[A-Za-z_)])[ \t]+([.,;:])(?=\s|$)", r"\1", text)

    # ---------------------------------------------------------------------------------------------
    def _arg(self, s: str, i: int, end: int, pairs: dict[int, int]) -> tuple[int, int, int]:
        """(content start, content end, next index) of the argument at i: a {group}, a \\command, a char."""
        while i < end and s[i] == " ":
            i += 1
        if i >= end:
            return i, i, i
        if s[i] == "{" and i in pairs and pairs[i] < end:
            return i + 1, pairs[i], pairs[i] + 1
        if s[i] == "\\":
            m = _CMD.match(s, i)
            assert m is not None
            return i, m.end(), m.end()
        return i, i + 1, i + 1

    def _optional(self, s: str, i: int, end: int) -> int:
        """Skip an optional [argument]."""
        j = i
        while j < end and s[j] == " ":
            j += 1
        if j < end and s[j] == "[":
            close = s.find("]", j, end)
            if close != -1:
                return close + 1
        return i

    def _sub(self, s: str, a: int, b: int, pairs, depth: int) -> str:
        out: list[str] = []
        self._run(s, a, b, pairs, out, depth + 1)
        return "".join(out)

    def _run(self, s: str, i: int, end: int, pairs: dict[int, int], out: list[str], depth: int) -> None:
        if depth > MAX_NESTING:
            out.append(s[i:end])
            return
        while i < end:
            c = s[i]
            if c == "\\":
                i = self._command(s, i, end, pairs, out, depth)
            elif c == "{":
                close = pairs.get(i)
                if close is None or close >= end:
                    i += 1
                    continue
                inner = self._sub(s, i + 1, close, pairs, depth)
                out.append("," if inner.strip() == "," else inner)
                i = close + 1
            elif c in "^_":
                a, b, nxt = self._arg(s, i + 1, end, pairs)
                inner = self._sub(s, a, b, pairs, depth).strip()
                if c == "^":
                    out.append(f"^({inner})" if inner else "^")
                else:
                    out.append("_" + re.sub(r"\s+", "_", inner))
                i = nxt
            elif c == "}":
                i += 1
            elif c == "~":
                out.append(" ")
                i += 1
            elif c == "$":  # math shift: the math is read as plain notation either way
                out.append(" ")
                i += 1
            else:
                out.append(c)
                i += 1

    def _command(self, s: str, i: int, end: int, pairs, out: list[str], depth: int) -> int:
        m = _CMD.match(s, i)
        assert m is not None
        name, i = m.group(1), m.end()
        if len(name) == 1 and not name.isalpha():
            if name == ",":  # a thin space: between digits it groups them (2\,127\,057), elsewhere a space
                before = out[-1][-1:] if out and out[-1] else ""
                out.append("" if before.isdigit() and s[i:i + 1].isdigit() else " ")
            else:
                out.append(_ESCAPED.get(name, _SPACES.get(name, "")))
            return i
        base = name.rstrip("*")
        if base in self.macros and self.expansions < MAX_EXPANSIONS:
            return self._macro(base, s, i, end, pairs, out, depth)
        if base == "char":  # `\char34`, `\char"22`, `\char'42`: the character itself (escaping writes quotes so)
            m = re.match(r"""\s*(?:(\d+)|"([0-9A-Fa-f]+)|'([0-7]+))""", s[i:end])
            if m:
                code = int(m.group(1)) if m.group(1) else int(m.group(2), 16) if m.group(2) else int(m.group(3), 8)
                out.append(chr(code) if 32 <= code < 127 else " ")
                return i + m.end()
            return i
        if base in ("frac", "dfrac", "tfrac", "binom"):
            a1, b1, i = self._arg(s, i, end, pairs)
            a2, b2, i = self._arg(s, i, end, pairs)
            num, den = self._sub(s, a1, b1, pairs, depth), self._sub(s, a2, b2, pairs, depth)
            out.append(f"(({num})/({den}))")
            return i
        if base == "sqrt":
            i = self._optional(s, i, end)
            a, b, i = self._arg(s, i, end, pairs)
            out.append(f"sqrt({self._sub(s, a, b, pairs, depth)})")
            return i
        if base in ("SI", "qty"):
            i = self._optional(s, i, end)
            a1, b1, i = self._arg(s, i, end, pairs)
            a2, b2, i = self._arg(s, i, end, pairs)
            out.append(f"{self._sub(s, a1, b1, pairs, depth)} {self._si_unit(s[a2:b2])}")
            return i
        if base in ("si", "unit"):
            i = self._optional(s, i, end)
            a, b, i = self._arg(s, i, end, pairs)
            out.append(" " + self._si_unit(s[a:b]))
            return i
        if base in _SECTIONS:
            i = self._optional(s, i, end)
            a, b, i = self._arg(s, i, end, pairs)
            out.append(f"{_SECTIONS[base]} {self._sub(s, a, b, pairs, depth)}")
            return i
        if base == "multicolumn":
            for _ in range(2):
                _, _, i = self._arg(s, i, end, pairs)
            a, b, i = self._arg(s, i, end, pairs)
            out.append(self._sub(s, a, b, pairs, depth))
            return i
        if base in ("hspace", "hskip"):
            a, b, i = self._arg(s, i, end, pairs)
            em = re.match(r"\s*([\d.]+)\s*em", s[a:b])
            out.append("    " * int(float(em.group(1))) if em and em.group(1) != "." else " ")
            return i
        if base in ("begin", "end"):
            a, b, i = self._arg(s, i, end, pairs)
            env = s[a:b]
            if base == "begin" and env in _TABLE_ARGS:  # the width and the column specification
                i = self._optional(s, i, end)
                for _ in range(_TABLE_ARGS[env]):
                    _, _, i = self._arg(s, i, end, pairs)
            return i
        if base in _DROP_ARG:
            i = self._optional(s, i, end)
            if base in ("setlength", "textcolor"):
                _, _, i = self._arg(s, i, end, pairs)
            _, _, i = self._arg(s, i, end, pairs)
            return i
        if base in _KEEP_ARG:
            i = self._optional(s, i, end)
            a, b, i = self._arg(s, i, end, pairs)
            out.append(f" {self._sub(s, a, b, pairs, depth)} ")
            return i
        if base in _WORDS:
            out.append(_WORDS[base])
            return i
        return i  # an unknown command: dropped, its arguments read as text

    def _macro(self, name: str, s: str, i: int, end: int, pairs, out: list[str], depth: int) -> int:
        self.expansions += 1
        macro = self.macros[name]
        if macro.args == 0:
            symbol = self.symbols.get(_squash(macro.body))
            if symbol is not None:
                # `\batch_{\max}`: a subscript after a symbol belongs to its name (batch_size_max)
                j = i
                while j < end and s[j] == " ":
                    j += 1
                if j < end and s[j] == "_":
                    out.append(f" {symbol}")
                    return j
                out.append(f" {symbol} ")
                return i
        body = macro.body
        for k in range(1, macro.args + 1):
            a, b, i = self._arg(s, i, end, pairs)
            body = body.replace(f"#{k}", s[a:b])
        inner_pairs = brace_pairs(body)
        if inner_pairs is None or depth > MAX_NESTING:
            out.append(body)
            return i
        self._run(body, 0, len(body), inner_pairs, out, depth + 1)
        return i

    @staticmethod
    def _si_unit(spec: str) -> str:
        words = re.findall(r"\\([A-Za-z]+)", spec)
        if not words:
            return spec.strip()
        return "".join(_SI_PREFIX.get(w, "") for w in words) + "".join(_SI_UNIT.get(w, "") for w in words)


_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")


def markdown_math(line: str, converter: Converter) -> str:
    """A Markdown line with its `$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]` math read as plain notation.

    Lines with LaTeX commands outside math (students write `\\times` without dollars) are read whole."""
    if "$" not in line and "\\" not in line:
        return line
    if _MATH.search(line):
        line = _MATH.sub(lambda m: " " + converter.convert(next(g for g in m.groups() if g is not None)) + " ",
                         line)
    if "\\" in line:
        line = converter.convert(line)
    return line.replace("$$", " ").replace("$", " ")


def is_latex(text: str, file: str) -> bool:
    """A .tex file, or text that is plainly a LaTeX document (read from standard input, say)."""
    if file.lower().endswith((".tex", ".latex", ".ltx")):
        return True
    head = text[:5000]
    return "\\documentclass" in head or "\\begin{document}" in head
