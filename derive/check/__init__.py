"""`derive check`: read a hand derivation, evaluate its arithmetic exactly, explain each claim against the
derivation, and report verdicts.

lexer and arith evaluate one `=`-segment (values.py: values with units and shown rounding); document.py
reads lines, headings and chains; matching.py maps names and sections onto the derivation; pitfalls.py holds
the known mistakes as data; checker.py decides each line's verdict; report.py prints it.
"""
