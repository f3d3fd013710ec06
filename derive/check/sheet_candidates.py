"""The quantities of derive's other sheets as candidates, for a document that speaks of them: FLOP conventions
(derive.check.conventions_candidates), and the statements-of-convention sections read as such.

`sheet_quantities(search, doc)` is called once per document by derive.check.search.Search: it decides from the
document's text which families of quantities it may claim and registers their builders (each called per model
and input shape, its candidates joining the model's training index).
"""

from __future__ import annotations

from .conventions_candidates import conventions_candidates, names_conventions, statement_lines

MAX_TEXT = 200_000  # characters of the document looked at to decide what it speaks of


def sheet_quantities(search, doc) -> None:
    """Register the builders of the quantities this document speaks of on `search` (its `extra` list), and
    keep as conventions sections only those that state conventions."""
    text = "\n".join(line.text for line in doc.lines)[:MAX_TEXT]
    ctx = search.ctx
    if ctx.conventions:
        ctx.conventions = statement_lines(doc, ctx.conventions)
    if names_conventions(text):
        search.extra.append(lambda setting, ctx: conventions_candidates(setting))
