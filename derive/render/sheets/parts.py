"""What a sheet's templates get about the handout edition: its parts (label, the sections that answer each, a
heading for a part of several sections, what it asks) and the detail level (full: every listing; brief: each
part's derivation and answer, for handing in)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...accounting.editions import Edition, Part
from ...errors import UsageError
from ..formatting import TreeLine

DETAILS = ("full", "brief")


def check_detail(detail: str) -> str:
    if detail not in DETAILS:
        raise UsageError(f"--detail: unknown level {detail!r} (known: {', '.join(DETAILS)})")
    return detail


def edition_view(edition: Edition, parts: tuple[Part, ...], problem: str, detail: str) -> dict[str, Any]:
    """`edition` (name, handout, source, problem), `parts` and `detail` / `full` for the templates."""
    return {
        "edition": {"name": edition.name, "handout": edition.handout, "source": edition.source,
                    "problem": problem, "is_default": edition.is_default},
        "parts": [{"label": p.label, "answers": list(p.answers), "heading": p.heading, "asks": p.asks,
                   "single": len(p.answers) == 1} for p in parts],
        "detail": detail,
        "full": detail == "full",
    }


def brief_lines(lines: list[TreeLine]) -> list[TreeLine]:
    """The Markdown tree lines of a hand-in: a matmul keeps its operand shapes in numbers only and a total its
    sum (the symbolic forms are the closed form's, printed once), as the hand derivation writes them."""
    out = []
    for line in lines:
        if line.kind == "matmul" and len(line.segments) == 4:
            line = dataclasses.replace(line, segments=line.segments[1:])
        elif line.kind == "total" and len(line.segments) == 3:
            line = dataclasses.replace(line, segments=line.segments[1:])
        out.append(line)
    return out
