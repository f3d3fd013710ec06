"""Formulas in symbols (`6 d_model d_ff`, `L(8nd^2 + 4n^2 d)`, `15,517,753,344 * B + 34,032,921,600`) read
into sympy and compared with derive's closed forms.

Letters people use are mapped onto derive's symbols (`d` and `D` -> d_model, `n`, `S` -> seq_len, `T` ->
context_length, `L`, `V`, `h`/`H`, `B`, `d_k`, `P`/`N` -> the parameter count ...). Equality is exact
(sympy.expand of the difference); when it fails only because the document fixes a size the closed form
keeps (seq_len = context_length, batch_size = 1, d_ff = 4 d_model), the relation is named.
"""

from __future__ import annotations

import re
from typing import Mapping

import sympy

from ..model import symbols as sy
from .arith import _split_letters, _strip_prose
from .lexer import _preprocess, _tokenize
from .values import NotUnderstood

# Written name -> derive symbol name (the config keys map to themselves).
ALIASES: dict[str, str] = {
    "V": "vocab_size", "vocab": "vocab_size", "n_vocab": "vocab_size", "T": "context_length", "n_ctx": "context_length",
    "L": "num_layers", "n_layers": "num_layers", "n_layer": "num_layers", "d": "d_model", "D": "d_model",
    "dmodel": "d_model", "d_m": "d_model", "n_embd": "d_model", "h": "num_heads", "H": "num_heads",
    "n_heads": "num_heads", "n_head": "num_heads", "dff": "d_ff", "d_ffn": "d_ff", "F": "d_ff",
    "B": "batch_size", "S": "seq_len", "n": "seq_len", "seq": "seq_len", "sequence_length": "seq_len",
    "seq_length": "seq_len", "n_kv_heads": "num_kv_heads", "h_kv": "num_kv_heads", "E": "n_experts",
    "num_experts": "n_experts", "top_k": "experts_per_token",
    # the sizes of issue 12's architectures as derive's sheets typeset them (d_{nope}, r_{kv}, ...)
    "d_nope": "qk_nope_head_dim", "d_rope": "qk_rope_head_dim", "d_v": "v_head_dim", "r_kv": "kv_lora_rank",
    "r_q": "q_lora_rank", "L_dense": "num_dense_layers", "L_swa": "num_sliding_layers", "d_rot": "rotary_dim",
    "W": "sliding_window", "b_w": "weight_bytes", "b_kv": "kv_bytes", "d_head": "head_dim",
}
HEAD_NAMES = ("d_k", "dk", "d_head", "head_dim")  # one head's width, however it is written
DERIVED = {"d_k": sy.d / sy.h, "dk": sy.d / sy.h, "d_head": sy.d / sy.h, "d_kv": sy.h_kv * sy.d / sy.h}


def head_width(values: Mapping[str, int]) -> int | None:
    """One attention head's query/key width: head_dim when the config gives it, qk_nope_head_dim +
    qk_rope_head_dim for multi-head latent attention, else d_model / num_heads."""
    if values.get("qk_nope_head_dim") and values.get("qk_rope_head_dim"):
        return values["qk_nope_head_dim"] + values["qk_rope_head_dim"]
    if values.get("head_dim"):
        return values["head_dim"]
    d, h = values.get("d_model"), values.get("num_heads")
    return d // h if d and h and d % h == 0 else None


def head_symbols(values: Mapping[str, int]) -> dict[str, sympy.Expr]:
    """The closed form of one head's width in derive's symbols, for each way it is written."""
    if values.get("qk_nope_head_dim") and values.get("qk_rope_head_dim"):
        head = sy.SYMBOLS["qk_nope_head_dim"] + sy.SYMBOLS["qk_rope_head_dim"]
    elif values.get("head_dim"):
        head = sy.SYMBOLS["head_dim"]
    else:
        head = sy.d / sy.h
    return {**{name: head for name in HEAD_NAMES}, "d_kv": sy.h_kv * head}


def symbol_values(values: Mapping[str, int], params: int | None, activations: int | None) -> dict[str, int]:
    """Numbers for every name a formula may use, from the config's sizes and the setting."""
    out: dict[str, int] = dict(values)
    for alias, name in ALIASES.items():
        if name in values:
            out[alias] = values[name]
    head = head_width(values)
    if head is not None:
        for name in HEAD_NAMES:
            out[name] = head
        out["d_kv"] = values.get("num_kv_heads", values.get("num_heads", 1)) * head
    if params is not None:
        for name in ("P", "N", "total_parameters", "total_params", "num_params", "n_params"):
            out[name] = params
    if activations is not None:
        out["A"] = activations
    return out


def to_sympy(text: str, extra: Mapping[str, sympy.Expr], heads: Mapping[str, sympy.Expr] | None = None
             ) -> sympy.Expr:
    """The formula as a sympy expression in derive's symbols; NotUnderstood if it is not one. `heads` says what
    d_k, d_head and head_dim stand for (head_symbols of the config; d_model / num_heads by default)."""
    s, _ = _preprocess(text)
    s = re.sub(r"\b(?:bytes?|FLOPs?|flops|parameters|params)\b", " ", s)
    names = {**{k: v for k, v in sy.SYMBOLS.items()}, **{a: sy.SYMBOLS[n] for a, n in ALIASES.items()},
             **(heads if heads is not None else DERIVED), **extra}
    toks = _split_letters(_tokenize(s), names)
    # `... / (3 d_ff + 4 d_model) (num_layers cancels)`: a remark in parentheses is no factor, as in arithmetic
    toks, _ = _strip_prose(toks, s, dict.fromkeys(names, 1), implicit=True)
    return _Reader(toks, names).read()


class _Reader:
    """Recursive descent over the tokens of derive.check.lexer, building sympy (implicit multiplication)."""

    def __init__(self, toks, names) -> None:
        self.toks, self.pos, self.names = toks, 0, names

    def read(self) -> sympy.Expr:
        e = self.expr()
        if self.pos != len(self.toks):
            raise NotUnderstood(f"unexpected '{self.toks[self.pos].text}' in a formula")
        return e

    def peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def op(self, *ops: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "OP" and t.text in ops

    def expr(self) -> sympy.Expr:
        e = self.term()
        while self.op("+", "-"):
            sign = self.toks[self.pos].text
            self.pos += 1
            e = e + self.term() if sign == "+" else e - self.term()
        return e

    def term(self) -> sympy.Expr:
        e = self.unary()
        while True:
            if self.op("*", "/", "//"):
                o = self.toks[self.pos].text
                self.pos += 1
                rhs = self.unary()
                e = e * rhs if o == "*" else (e / rhs if o == "/" else sympy.floor(e / rhs))
            elif self.peek() is not None and self.peek().kind in ("NUM", "IDENT", "LP"):
                e = e * self.power()
            else:
                return e

    def unary(self) -> sympy.Expr:
        if self.op("-"):
            self.pos += 1
            return -self.unary()
        if self.op("+"):
            self.pos += 1
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.atom()
        if self.op("^", "**"):
            self.pos += 1
            exp = self.unary()
            if not exp.is_Integer or abs(int(exp)) > 64:
                raise NotUnderstood("only small whole exponents in a formula")
            return base ** exp
        return base

    def atom(self) -> sympy.Expr:
        t = self.peek()
        if t is None:
            raise NotUnderstood("a formula ends where a term was expected")
        self.pos += 1
        if t.kind == "NUM":
            return sympy.Rational(t.value.numerator, t.value.denominator)
        if t.kind == "IDENT":
            if t.text in ("floor", "ceil") and self.peek() is not None and self.peek().kind == "LP":
                inner = self.atom()
                return sympy.floor(inner) if t.text == "floor" else sympy.ceiling(inner)
            if t.text in self.names:
                return self.names[t.text]
            raise NotUnderstood(f"unknown symbol '{t.text}' in a formula")
        if t.kind == "LP":
            e = self.expr()
            if self.peek() is None or self.peek().kind != "RP":
                raise NotUnderstood("unbalanced parenthesis in a formula")
            self.pos += 1
            return e
        raise NotUnderstood(f"unexpected '{t.text}' in a formula")


def relations(values: Mapping[str, int], batch: int, seq: int) -> list[tuple[str, dict]]:
    """Substitutions that hold for this config and shape, in the order they are tried."""
    out: list[tuple[str, dict]] = []
    ctx = values.get("context_length")
    if seq == ctx:
        out.append(("seq_len = context_length", {sy.S: sy.T}))
    if batch == 1:
        out.append(("batch_size = 1", {sy.B: sympy.Integer(1)}))
    d, f = values.get("d_model"), values.get("d_ff")
    if d and f and (f * 3) % d == 0:
        ratio = sympy.Rational(f, d)
        out.append((f"d_ff = {ratio} d_model", {sy.d_ff: ratio * sy.d}))
    if values.get("num_kv_heads") in (None, values.get("num_heads")):
        out.append(("num_kv_heads = num_heads", {sy.h_kv: sy.h}))
    return out


def compare(claimed: sympy.Expr, derived: sympy.Expr, values: Mapping[str, int], batch: int,
            seq: int) -> tuple[bool, list[str], sympy.Expr]:
    """(equal, relations used, difference): exact, then under the relations this config satisfies."""
    diff = _zero(claimed - derived)
    if diff == 0:
        return True, [], diff
    used: list[str] = []
    subs: dict = {}
    for name, rel in relations(values, batch, seq):
        subs.update(rel)
        used.append(name)
        if _zero((claimed - derived).subs(subs)) == 0:
            return True, used, sympy.Integer(0)
    return False, [], diff


def _zero(diff: sympy.Expr) -> sympy.Expr:
    """The difference expanded; over a common denominator when it has one (a ratio of closed forms)."""
    out = sympy.expand(diff)
    if out != 0 and any(p.exp.is_negative for p in out.atoms(sympy.Pow)):
        out = sympy.cancel(sympy.together(out))
    return out
