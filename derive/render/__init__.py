"""Rendering: numbers and closed forms as text and LaTeX, the Jinja environments, tables, formulas, charts and
the answer sheets (`sheets/`). Only lays out what derive.accounting computed; writes outputs atomically."""
