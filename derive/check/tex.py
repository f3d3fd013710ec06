"""A LaTeX document read line for line: sections as Markdown headings, tabular rows as `| a | b |` (a rule
after the header row as `|---|`), align rows and display equations as plain equations, pictures (tikz,
pgfplots) and verbatim blocks skipped, the preamble blank (its macro definitions read and expanded).
Line numbers are kept: every input line gives exactly one output line.
"""

from __future__ import annotations

import re

from .latex import Converter, read_macros

_ROW_END = re.compile(r"\\\\\s*(?:\[[^\]]*\])?\s*$")
_SKIP = ("tikzpicture", "axis", "semilogxaxis", "semilogyaxis", "loglogaxis", "groupplot", "filecontents",
         "filecontents*", "verbatim", "lstlisting", "comment", "minted")
_MATH_ENVS = ("equation", "equation*", "displaymath", "multline", "multline*")
_ALIGN = ("align", "align*", "aligned", "eqnarray", "eqnarray*", "gather", "gather*", "split", "multline",
          "multline*", "alignat", "alignat*", "flalign", "flalign*")


def _unescaped(line: str, ch: str) -> list[int]:
    return [i for i, c in enumerate(line) if c == ch and (i == 0 or line[i - 1] != "\\")]


def _strip_comment(line: str) -> str:
    for i in _unescaped(line, "%"):
        return line[:i]
    return line


def tex_to_lines(text: str) -> list[str]:
    """One plain line per line of a LaTeX document: sections as Markdown headings, tabular rows as
    `| a | b |` (a rule after the header row as `|---|`), align rows as equations, math as plain notation,
    the preamble blank (its macro definitions are read and expanded)."""
    macros = read_macros(text)
    conv = Converter(macros)
    raw = text.splitlines()
    out: list[str] = []
    in_body = "\\begin{document}" not in text
    envs: list[str] = []
    header_done = False
    pending: list[str] = []  # a display equation written over several lines, read as one
    for line in raw:
        line = _strip_comment(line)
        if not in_body:
            out.append("")
            in_body = "\\begin{document}" in line
            continue
        for m in re.finditer(r"\\(begin|end)\{([^}]*)\}", line):
            if m.group(1) == "begin":
                envs.append(m.group(2))
                header_done = False if m.group(2).startswith(("tabular", "array", "longtable")) else header_done
            elif envs:
                envs.pop()
        env = envs[-1] if envs else ""
        stripped = line.strip()
        if any(e in _SKIP for e in envs) or re.match(r"\\end\{(?:" + "|".join(re.escape(e) for e in _SKIP) + r")\}",
                                                      stripped):
            out.append("")
            continue
        if env in _MATH_ENVS or (pending and not env):
            pending.append(line)
            out.append("")
            if env not in _MATH_ENVS:  # the environment just ended: the equation, on its first line
                first = len(out) - len(pending)
                out[first] = conv.convert(" ".join(pending)).replace("\n", " ")
                pending = []
            continue
        if env.startswith(("tabular", "array", "longtable")) and re.fullmatch(
                r"\\(?:midrule|hline)\s*", stripped) and not header_done and out and out[-1].startswith("|"):
            header_done = True
            cells = out[-1].count("|") - 1
            out.append("|" + "---|" * max(cells, 1))
            continue
        amps = _unescaped(line, "&")
        if env in _ALIGN:
            line = line.replace("&", " ")
            out.append(conv.convert(_ROW_END.sub("", line)).replace("\n", " "))
            continue
        if amps and env.startswith(("tabular", "array", "longtable")):
            body = _ROW_END.sub("", line)
            cells, last = [], 0
            for pos in _unescaped(body, "&") + [len(body)]:
                cells.append(conv.convert(body[last:pos]).strip())
                last = pos + 1
            out.append("| " + " | ".join(cells) + " |")
            continue
        converted = conv.convert(_ROW_END.sub("", line))
        out.append(converted.replace("\n", " "))
    return out
