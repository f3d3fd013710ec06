"""`derive check`: find every numeric claim of a hand derivation, explain each by its value, and report.

source.py reads the document safely; latex.py and tex.py read LaTeX (and Markdown math) as plain notation;
lexer, arith and values evaluate one `=`-segment exactly; document.py reads lines, headings and chains;
context.py what the document says about itself (models, shapes, training givens); claims.py and finder.py
find the claims; candidates.py, training.py and search.py index every quantity a number could be;
vocabulary.py the words people use; explain.py, pitfalls.py, formula.py and symbolic.py decide a claim's
verdict; carry.py follows a mistake into the totals; checker.py runs it all and report.py shows it.
"""
