"""One escaping function per output format: every string that is data, not markup, goes through one of them.

Data are the strings derive did not write itself (a config's name, description, d_ff_source) and any text
that mixes them in. Each function makes its input inert in its format, whatever it holds: a newline cannot end
a LaTeX `%` comment or a Markdown table row, `<script>` is text in HTML, `=1+1` is no formula in a spreadsheet.

Control characters, line and paragraph separators and invisible format characters (bidi overrides, zero-width
joiners) are first made *visible* (`\\n`, `\\x1b`, `\\u202e`), the same way in every format, so a hostile name
shows what it holds instead of acting on the layout or the terminal.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from functools import lru_cache

_INVISIBLE = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"))
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@lru_cache(maxsize=4096)
def _visible_char(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    if unicodedata.category(ch) not in _INVISIBLE:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """`text` with every control, separator or format character written as a backslash escape."""
    if text.isprintable():  # the common case: nothing to do (isprintable is False for all of _INVISIBLE)
        return text
    return "".join(_visible_char(ch) for ch in text)


# --- LaTeX ----------------------------------------------------------------------------------------------------
_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"{\ttfamily\char34}",
}
# Letters beyond ASCII that pdflatex typesets in its default OT1 encoding as well as in T1 (accent + base, or a
# glyph OT1 has). Anything not here or in _TEX_SYMBOLS (CJK, emoji ...) would stop pdflatex ("Unicode character not
# set up"): it is shown as \\uXXXX.
_TEX_LETTERS = frozenset("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßŒœ")


# Typographic and mathematical characters people put in names ("Llama 3 — 8B “base”", "μP", "2×"), as the
# commands that print them in any encoding; Greek letters by their Unicode names (GREEK SMALL LETTER MU -> \mu).
_TEX_SYMBOLS = {
    "\u00a0": r"\nobreakspace{}", "\u2014": "---", "\u2013": "--", "\u2012": "--", "\u2010": "-", "\u2011": "-",
    "\u201c": "``", "\u201d": "''", "\u2018": "`", "\u2019": "'",
    "\u2026": r"\ldots{}", "\u2022": r"\textbullet{}", "\u00a7": r"\S{}",
    "\u00b6": r"\P{}", "\u00a9": r"\copyright{}", "\u00ae": r"\textregistered{}", "\u2122": r"\texttrademark{}",
    "\u00d7": r"$\times$", "\u00b7": r"$\cdot$", "\u22c5": r"$\cdot$", "\u00f7": r"$\div$", "\u00b1": r"$\pm$",
    "\u2212": r"$-$", "\u2248": r"$\approx$", "\u2260": r"$\neq$", "\u2264": r"$\le$", "\u2265": r"$\ge$",
    "\u2192": r"$\to$", "\u2190": r"$\leftarrow$", "\u221e": r"$\infty$", "\u00b0": r"$^{\circ}$",
    "\u00b2": r"$^{2}$", "\u00b3": r"$^{3}$", "\u00b9": r"$^{1}$", "\u2202": r"$\partial$", "\u221a": r"$\surd$",
    "\u00b5": r"$\mu$",
}
_GREEK_TEX = frozenset("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
                       "upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split())


def _greek(ch: str) -> str | None:
    """`$\\name$` for a Greek letter LaTeX has a command for (OT1 has no glyphs of its own for them)."""
    name = unicodedata.name(ch, "")
    for prefix, case in (("GREEK SMALL LETTER ", str.lower), ("GREEK CAPITAL LETTER ", str.capitalize)):
        if name.startswith(prefix):
            letter = case(name[len(prefix):].replace("LAMDA", "LAMBDA"))
            return f"$\\{letter}$" if letter in _GREEK_TEX else None
    return None


def _tex_char(ch: str) -> str:
    if ch in _TEX_SPECIALS:
        return _TEX_SPECIALS[ch]
    if " " <= ch <= "~" or ch in _TEX_LETTERS:
        return ch
    if ch in _TEX_SYMBOLS:
        return _TEX_SYMBOLS[ch]
    greek = _greek(ch)
    if greek is not None:
        return greek
    code = ord(ch)
    return r"\textbackslash{}" + (f"u{code:04x}" if code < 0x10000 else f"U{code:08x}")


def escape_tex(text: str) -> str:
    """Text for LaTeX, in running text, a table cell, a `\\section` argument or a `%` comment alike.

    Every character TeX treats specially is replaced by the command that prints it, and a newline is `\\n`
    (visible), so nothing in `text` can end a comment, open a group or run a command."""
    # NFC first: an accent typed as a combining mark joins its letter (e + U+0301 is the letter é of _TEX_LETTERS).
    return "".join(_tex_char(ch) for ch in visible(unicodedata.normalize("NFC", text)))


# --- Markdown -------------------------------------------------------------------------------------------------
_MD_ALWAYS = frozenset("\\`[]<|&#$~")
_MD_LIST_START = re.compile(r"^(?:>|[-+=](?=\s|[-+=]|$)|\d{1,9}(?=[.)](?:\s|$)))")


def _md_char(text: str, i: int) -> str:
    ch = text[i]
    if ch in _MD_ALWAYS:
        return "\\" + ch
    prev = text[i - 1] if i else ""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if ch == "_" and not (prev.isalnum() and nxt.isalnum()):  # an underscore inside a word never emphasises
        return "\\_"
    if ch == "*" and not (prev.isspace() and nxt.isspace()):  # ` * ` between spaces never emphasises
        return "\\*"
    return ch


def escape_md(text: str) -> str:
    """Text for Markdown (CommonMark / GitHub) in a paragraph, a heading, a list item or a table cell.

    Newlines become visible `\\n`, so no heading, list, table row, fence or HTML block can start inside; raw
    HTML, links, images, code spans, table pipes, math and emphasis are backslash-escaped; a leading list or
    heading marker is escaped. Prose without such characters (`d_model * d_ff`, `2,127,057,600`) is unchanged.
    Not for the inside of code spans or fenced blocks, where backslashes are literal: derive puts no data there.
    """
    text = visible(text)
    out = "".join(_md_char(text, i) for i in range(len(text)))
    m = _MD_LIST_START.match(out)
    if m and m.group(0)[0] in ">-+=":
        out = "\\" + out
    elif m:
        out = out[:m.end()] + "\\" + out[m.end():]
    return out


# --- HTML -----------------------------------------------------------------------------------------------------
def escape_html(text: str) -> str:
    """Text for HTML (element content or a quoted attribute): & < > " ' as references, controls visible."""
    return (visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


# --- CSV ------------------------------------------------------------------------------------------------------
_CSV_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_csv(value: object) -> str:
    """One CSV cell's text (the csv module adds the quoting). Numbers are written as they are.

    A text cell that a spreadsheet would read as a formula (it starts with =, +, -, @, a tab or a carriage
    return) gets a leading apostrophe, as OWASP recommends. A number is never harmed: ints and Fractions are
    formatted here, and a string that is exactly a decimal number (`-1`, `0.25`) is left alone; `-1+1` is not a
    number and is neutralised."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{float(value):.6f}"
    text = visible(str(value))
    if _CSV_NUMBER.match(text):
        return text
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


# --- terminal -------------------------------------------------------------------------------------------------
def escape_terminal(text: str) -> str:
    """Text for a terminal: escape sequences, carriage returns and bidi overrides are shown, not obeyed."""
    return visible(text)
