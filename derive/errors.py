"""One exception hierarchy, so the CLI can turn every expected failure into a one-line message."""

from __future__ import annotations


class DeriveError(Exception):
    """Base class: anything derive reports to a user as bad input (exit status 2)."""

    exit_code = 2


class ConfigError(DeriveError):
    """A config (preset, YAML, JSON, --set) is missing, malformed or inconsistent."""

    def __init__(self, source: str, key: str | None, message: str):
        self.source = source
        self.key = key
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + message)


class UsageError(DeriveError):
    """An option value that click cannot validate by itself (unknown sheet, bad budget...)."""


class RenderError(DeriveError):
    """A template failed to render or an output could not be written."""
