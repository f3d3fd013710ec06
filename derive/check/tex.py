"""A LaTeX document read line for line: sections as Markdown headings, table rows as `| a | b |` (a rule
after the header row as `|---|`), align rows and display equations as plain equations, pictures (tikz,
pgfplots) and verbatim blocks skipped, the preamble blank (its macro definitions read and expanded).
Line numbers are kept: every input line gives exactly one output line.

Tables are read whatever package sets them (tabular, tabular*, tabularx, tabulary, longtable, xltabular,
supertabular, tabu, array): the repeated header and the footer of a table that breaks across pages
(`\\endfirsthead` ... `\\endhead`, `\\endfoot`, `\\endlastfoot`) are read once; a row written over several
source lines is read as one. A row that is a derivation step, `name & chain & value` (the chain holding `=`,
the value a number), is read as the line `name: chain = value` with its indentation (`\\hspace{2em}`), and a
row that is one cell of words spanning the table (`\\multicolumn{3}{l}{transformer_block (x L)}`) as the
heading `transformer_block (x L):` of the rows below it, as the Markdown sheets write their trees.
"""

from __future__ import annotations

import re

from .latex import Converter, read_macros

_ROW_END = re.compile(r"\\\\\*?\s*(?:\[[^\]]*\])?\s*$")
_SKIP = ("tikzpicture", "axis", "semilogxaxis", "semilogyaxis", "loglogaxis", "groupplot", "filecontents",
         "filecontents*", "verbatim", "lstlisting", "comment", "minted")
_MATH_ENVS = ("equation", "equation*", "displaymath", "multline", "multline*")
_ALIGN = ("align", "align*", "aligned", "eqnarray", "eqnarray*", "gather", "gather*", "split", "multline",
          "multline*", "alignat", "alignat*", "flalign", "flalign*")
# Environments whose rows are table rows (`a & b & c \\`).
_TABLES = ("tabular", "tabular*", "tabularx", "tabulary", "longtable", "longtable*", "xltabular", "supertabular",
           "supertabular*", "tabu", "longtabu", "array", "xtabular", "mpsupertabular")
# Markers of a table that breaks across pages: what comes before each is a header or footer read once.
_PAGE_MARKERS = re.compile(r"\\(endfirsthead|endhead|endfoot|endlastfoot)\b")
_RULE = re.compile(r"\s*(?:\\(?:midrule|hline|toprule|bottomrule|cmidrule(?:\([^)]*\))?\{[^}]*\}|cline\{[^}]*\}|"
                   r"addlinespace(?:\[[^\]]*\])?|noalign\{[^}]*\}|morecmidrules|specialrule\{[^}]*\}\{[^}]*\}\{[^}]*\}"
                   r")\s*)+")
_INDENT = re.compile(r"^\s*\\hspace\*?\{\s*([\d.]+)\s*em\s*\}")
# A cell that is one number, possibly signed, with a unit or a percent sign after it.
_VALUE_CELL = re.compile(r"\s*[-+−]?\s*\d[\d,]*(?:\.\d+)?\s*(?:%|[A-Za-z/]{1,8})?\s*")


def _unescaped(line: str, ch: str) -> list[int]:
    return [i for i, c in enumerate(line) if c == ch and (i == 0 or line[i - 1] != "\\")]


def _strip_comment(line: str) -> str:
    for i in _unescaped(line, "%"):
        return line[:i]
    return line


def _is_table(env: str) -> bool:
    return env in _TABLES


def _page_repeats(raw: list[str]) -> set[int]:
    """Indices of the lines a page-breaking table repeats (its continuation header and its footers): the first
    header stays, each of the others is read nowhere."""
    skip: set[int] = set()
    depth, start, marks = 0, 0, []
    for i, line in enumerate(raw):
        line = _strip_comment(line)
        for m in re.finditer(r"\\(begin|end)\{([^}]*)\}", line):
            if not _is_table(m.group(2)):
                continue
            if m.group(1) == "begin":
                depth += 1
                if depth == 1:
                    start, marks = i, []
            elif depth:
                depth -= 1
                if depth == 0:
                    skip |= _repeated(start, marks)
        if depth == 1:
            marks.extend((i, m.group(1)) for m in _PAGE_MARKERS.finditer(line))
    return skip


def _repeated(start: int, marks: list[tuple[int, str]]) -> set[int]:
    out: set[int] = set()
    previous = start
    first_seen = False
    for i, name in marks:
        if name == "endfirsthead":
            first_seen = True
        elif name == "endhead" and not first_seen:
            previous = i  # the only header: shown on the first page too, read as the header
            continue
        else:  # a continuation header or a footer: read once already, or never a row of results
            out.update(range(previous + 1, i + 1))
        previous = i
    return out


def _cells(body: str, conv: Converter) -> tuple[list[str], int, bool]:
    """(plain cells, indentation in spaces of the first cell, the row is one cell spanning columns)."""
    cells, last = [], 0
    indent = 0
    spans = "\\multicolumn" in body
    for k, pos in enumerate(_unescaped(body, "&") + [len(body)]):
        raw = body[last:pos]
        if k == 0:
            inner = re.sub(r"^\s*\\multicolumn\s*\{[^}]*\}\s*\{[^}]*\}\s*\{", "", raw)
            m = _INDENT.match(inner)
            if m:
                indent = int(float(m.group(1)) * 4) if m.group(1) != "." else 0
        cells.append(conv.convert(raw).replace("\n", " ").strip())
        last = pos + 1
    return cells, indent, spans and len(cells) == 1


def _row(body: str, conv: Converter) -> tuple[str, bool]:
    """A table row as plain text: (line, is a table row)."""
    cells, indent, spanning = _cells(body, conv)
    filled = [c for c in cells if c]
    pad = " " * indent
    if spanning and filled and not _VALUE_CELL.fullmatch(filled[0]) and "=" not in filled[0]:
        text = filled[0].rstrip()
        return pad + text + ("" if text.endswith(":") else ":"), False
    if len(cells) >= 2 and _VALUE_CELL.fullmatch(cells[-1]) and "=" in " ".join(cells[1:-1]) \
            and not any(_VALUE_CELL.fullmatch(c) for c in cells[1:-1]) and "=" not in cells[0]:
        chain = " ".join(c for c in cells[1:-1] if c)
        name = cells[0].rstrip(" :")
        return pad + (f"{name}: " if name else "") + f"{chain} = {cells[-1].strip()}", False
    return "| " + " | ".join(cells) + " |", True


_CONTINUES = re.compile(r"\s*(?:[-+=*/≈]|\\cdot|\\times)")


def _previous(out: list[str], index: int) -> int | None:
    """The last non-blank output line before `index`."""
    return next((k for k in range(index - 1, max(index - 40, -1), -1) if out[k].strip()), None)


def _continued(out: list[str]) -> int | None:
    k = _previous(out, len(out))
    return k if k is not None and not out[k].lstrip().startswith(("|", "#")) else None


def _displayed(out: list[str], index: int, equation: str) -> str:
    """A displayed equation after a line ending in a colon (`forward + backward:`) belongs to that line: it is
    indented under it, as the Markdown sheets indent a tree under its name."""
    k = _previous(out, index)
    if k is not None and out[k].rstrip().endswith(":") and not out[k].lstrip().startswith("|"):
        indent = len(out[k]) - len(out[k].lstrip())
        return " " * (indent + 4) + equation.strip()
    return equation


def tex_to_lines(text: str) -> list[str]:
    """One plain line per line of a LaTeX document: sections as Markdown headings, table rows as
    `| a | b |` (a rule after the header row as `|---|`) or, for a derivation step, `name: chain = value`,
    align rows as equations, math as plain notation, the preamble blank (its macro definitions are read and
    expanded)."""
    macros = read_macros(text)
    conv = Converter(macros)
    raw = text.splitlines()
    repeated = _page_repeats(raw)
    out: list[str] = []
    in_body = "\\begin{document}" not in text
    envs: list[str] = []
    header_done = False
    pending: list[str] = []  # a display equation written over several lines, read as one
    row: list[int] = []  # output indices of a table row written over several lines (read on its first line)
    rows: list[str] = []
    last_row = -1  # index in `out` of the last table row written as `| a | b |`
    align_start = -1  # where the current align environment began (its rows may continue one equation)

    def flush() -> None:
        nonlocal row, rows, last_row
        if row:
            text_row, tabular = _row(_ROW_END.sub("", " ".join(rows)), conv)
            out[row[0]] = text_row
            last_row = row[0] if tabular else -1
            row, rows = [], []

    for index, line in enumerate(raw):
        line = _strip_comment(line)
        if not in_body:
            out.append("")
            in_body = "\\begin{document}" in line
            continue
        for m in re.finditer(r"\\(begin|end)\{([^}]*)\}", line):
            if m.group(1) == "begin":
                envs.append(m.group(2))
                align_start = len(out) if m.group(2) in _ALIGN else align_start
                header_done = False if _is_table(m.group(2)) else header_done
            elif envs:
                envs.pop()
        env = envs[-1] if envs else ""
        stripped = line.strip()
        in_table = _is_table(env)
        if row and not in_table:
            flush()  # the table ended without a last `\\`
        if index in repeated:
            out.append("")
            continue
        if any(e in _SKIP for e in envs) or re.match(r"\\end\{(?:" + "|".join(re.escape(e) for e in _SKIP) + r")\}",
                                                      stripped):
            out.append("")
            continue
        if env in _MATH_ENVS or (pending and not env):
            pending.append(line)
            out.append("")
            if env not in _MATH_ENVS:  # the environment just ended: the equation, on its first line
                first = len(out) - len(pending)
                out[first] = _displayed(out, first, conv.convert(" ".join(pending)).replace("\n", " "))
                pending = []
            continue
        if in_table and not row and _RULE.fullmatch(stripped):
            if re.search(r"\\(?:midrule|hline)", stripped) and not header_done and last_row >= 0 \
                    and not any(x.strip() for x in out[last_row + 1:]):
                header_done = True
                out.append("|" + "---|" * max(out[last_row].count("|") - 1, 1))
            else:
                out.append("")
            continue
        if in_table and (row or _unescaped(line, "&") or _ROW_END.search(line) or "\\multicolumn" in line):
            row.append(len(out))
            rows.append(_RULE.sub(" ", _PAGE_MARKERS.sub(" ", line)))
            out.append("")
            if _ROW_END.search(line) or "\\end{" in line:
                flush()
            continue
        if env in _ALIGN:
            text_line = conv.convert(_ROW_END.sub("", line.replace("&", " "))).replace("\n", " ")
            k = _continued(out) if _CONTINUES.match(text_line) else None
            k = k if k is not None and k > align_start else None
            if k is not None:  # `&\quad + 32 d V` or `&= 7.92` on the next row: the same equation goes on
                out[k] = out[k].rstrip() + " " + text_line.strip()
                out.append("")
            else:
                out.append(_displayed(out, len(out), text_line))
            continue
        converted = conv.convert(_ROW_END.sub("", _PAGE_MARKERS.sub(" ", line)))
        out.append(converted.replace("\n", " "))
    flush()
    return out
