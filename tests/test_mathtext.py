"""Math inside derive's prose is typeset as math in LaTeX and HTML (issue 14 item 1): the formulas found in the
hand-derivation notation, written out by hand here, and safety on any text (compiled, parsed)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st

from derive.render.latex import macro_definitions
from derive.render.mathtext import prose_html, prose_tex, split
from tex_helpers import compile_tex

CASES = [
    ("an (m x k) @ (k x n) matmul costs 2mkn FLOPs",
     r"an $(m \times k) \mathbin{@} (k \times n)$ matmul costs $2mkn$ FLOPs"),
    ("Attention scores (Q K^T) and", r"Attention scores $(Q\,K^{\top})$ and"),
    ("GB = 10^9 bytes and GiB = 2^30 bytes", r"GB = $10^{9}$ bytes and GiB = $2^{30}$ bytes"),
    ("dX = dY W^T and dW = X^T dY", r"$dX = dY\,W^{\top}$ and $dW = X^{\top}\,dY$"),
    ("d_ff = 4 x d_model", r"$\dff = 4 \times \dmodel$"),
    ("k and v project to num_kv_heads * d_k = d_kv",
     r"k and v project to $\symNumKvHeads \cdot \dhead = d_{\mathrm{kv}}$"),
    ("theta <- theta - alpha_t * m / (sqrt(v) + eps)",
     r"$\theta \leftarrow \theta - \alpha_{t} \cdot m / (\sqrt{v} + \epsilon)$"),
    ("lm_head is untied", r"\texttt{lm\_head} is untied"),
    ("a router (d_model x n_experts) and 8 SwiGLU experts, 2 per token",
     r"a router $(\dmodel \times \symNExperts)$ and 8 SwiGLU experts, 2 per token"),
    ("gpt2-small and Llama-2-7b in fp32, 27.6% of it", r"gpt2-small and Llama-2-7b in fp32, 27.6\% of it"),
    ("is a d_model x d_model matrix", r"is a $\dmodel \times \dmodel$ matrix"),
]


@pytest.mark.parametrize("text, tex", CASES)
def test_formulas_in_prose_are_typeset(text, tex):
    assert prose_tex(text) == tex
    assert "".join(source for source, _ in split(text)) == text  # nothing lost: Markdown prints the source


def test_typeset_prose_compiles_and_shows_no_caret(tmp_path):
    macros = (r"\newcommand{\dff}{d_{\mathrm{ff}}}\newcommand{\dmodel}{d}\newcommand{\dhead}{d_k}"
              r"\newcommand{\symNumKvHeads}{h_{\mathrm{kv}}}\newcommand{\symNExperts}{E}")
    body = "\n\n".join(tex for _, tex in CASES)
    compile_tex(f"\\documentclass{{article}}\\usepackage{{amsmath}}{macros}\\begin{{document}}\n{body}\n"
                "\\end{document}\n", tmp_path, "prose")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.depth += 1

    def handle_endtag(self, tag):
        self.depth -= 1


MATHML = {"math", "mrow", "mi", "mn", "mo", "msub", "msup", "msqrt", "code"}


TOKENS = [*"abxkTdL_^*@=+-/()<>{}$%&#~\\ \n.,'0123456789",
          "d_model", "num_kv_heads", "softmax(", "sqrt(", "^T", " x ", "W1", "alpha_t", "(.)"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=12).map("".join), min_size=25, max_size=25))
def test_any_text_is_safe(tmp_path_factory, texts):
    """Whatever the text, LaTeX compiles (nothing escapes math or text mode) and HTML is only MathML."""
    for text in texts:
        parser = _Tags()
        parser.feed(prose_html(text))
        assert parser.tags <= MATHML and parser.depth == 0, text
    macros = macro_definitions().replace(r"\providecommand{\dnum}", r"\providecommand{\unused}")
    body = "\n\n".join(f"{i}: {prose_tex(t)}" for i, t in enumerate(texts))
    compile_tex(f"\\documentclass{{article}}\\usepackage{{amsmath}}{macros}\\begin{{document}}\n{body}\n"
                "\\end{document}\n", tmp_path_factory.mktemp("any"), "any", fit=False)
