"""The quantities of derive's other sheets as candidates, for a document that speaks of them: FLOP conventions
(derive.check.conventions_candidates), training at scale (derive.check.scale_candidates), and the statements-of-convention sections read as such.

`sheet_quantities(search, doc)` is called once per document by derive.check.search.Search: it decides from the
document's text which families of quantities it may claim and registers their builders (each called per model
and input shape, its candidates joining the model's training index).
"""

from __future__ import annotations

import re

from .conventions_candidates import conventions_candidates, names_conventions, statement_lines
from .inference_candidates import account_for, inference_candidates, infer_setup, request_values
from .candidates import Setting
from .scale_candidates import scale_candidates, scale_setup

MAX_TEXT = 200_000  # characters of the document looked at to decide what it speaks of


def sheet_quantities(search, doc) -> None:
    """Register the builders of the quantities this document speaks of on `search` (its `extra` list), and
    keep as conventions sections only those that state conventions."""
    text = "\n".join(line.text for line in doc.lines)[:MAX_TEXT]
    ctx = search.ctx
    adopt_named_architecture(ctx)
    if ctx.conventions:
        ctx.conventions = statement_lines(doc, ctx.conventions)
    if names_conventions(text):
        search.extra.append(lambda setting, ctx: conventions_candidates(setting))
    run = scale_setup(text)
    if run is not None:
        search.extra.append(lambda setting, ctx: scale_candidates(setting, run))
    request = infer_setup(text)
    if request is not None:
        drop_formula_factors(doc, ctx)
        for model in ctx.models:  # the request's sizes (prompt_len, kv_bytes, ...) for the document's arithmetic
            acc = account_for(Setting(model.config, 1, model.config.context_length), request)
            if acc is not None:
                model.stated.update({k: v for k, v in request_values(acc).items() if k not in model.stated})
        search.extra.append(lambda setting, ctx: inference_candidates(setting, request))


def adopt_named_architecture(ctx) -> None:
    """A document whose listing gives exactly the sizes of a preset it names (`## mixtral-8x7b (...)` over a
    listing of vocab_size ... d_ff) is about that preset when the preset has sizes such a listing cannot state
    (num_kv_heads < num_heads, experts): they are the preset's, not the defaults'. (Belongs with the listing reading in
    derive.check.context; done here, after it, to leave that module to its owner.)"""
    from dataclasses import replace

    from ..errors import DeriveError
    from ..model.config import load_config

    main = ctx.models[0]
    if not main.source.startswith("the document's own listing"):
        return
    for name in ctx.named:
        try:
            base = load_config(name)
        except DeriveError:  # a name that is no loadable preset names nothing here
            continue
        # only sizes a listing of vocab_size ... d_ff cannot state (query groups, experts): a handout's model with
        # GPT-2 XL's sizes is not GPT-2 XL's architecture
        if base.values() == main.config.values() and (base.kv_heads != base.num_heads or base.ffn == "moe"):
            ctx.models[0] = replace(main, config=base, source=f"preset {name} named in the document, with the "
                                    "sizes of the document's own listing")
            return


def drop_formula_factors(doc, ctx) -> None:
    """`all_sliding_window_layers: 2 * head_dim * ... * num_sliding_layers = 21 * 8,192 = 172,032` states no
    num_sliding_layers: a size read from a line where it is a factor of another quantity's formula (the line's
    label names something else) is not the document's size. (Belongs with the statement reading in
    derive.check.context; done here, after it, to leave that module to its owner.)"""
    text = {line.number: line.text for line in doc.lines}
    for model in ctx.models:
        for key, number in list(model.stated_lines.items()):
            m = re.match(r"\s*`?([\w.]+)`?\s*:\s*([^=]*)=", text.get(number, ""))
            if m and m.group(1) != key and re.search(rf"(?<![\w.]){re.escape(key)}(?![\w.])", m.group(2)):
                model.stated.pop(key, None)
                model.stated_lines.pop(key, None)
