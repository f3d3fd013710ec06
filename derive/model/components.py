"""Building blocks of a Transformer, each producing Steps for its parameters and its forward matmuls.

The one FLOP rule lives in `matmul`: (..., m, k) @ (k, n) costs 2 * batch * m * k * n (1 MAC = 2 FLOPs).
A parent is always the sum of its children.
"""

from __future__ import annotations

from dataclasses import dataclass

from .steps import Dim, Step

TWO = Dim.const(2)


def weight(key: str, title: str, d_in: Dim, d_out: Dim, description: str = "", aliases=()) -> Step:
    """A weight matrix mapping d_in -> d_out, printed as `d_in * d_out` like the hand derivation."""
    return Step(key, title, factors=(d_in, d_out), shapes=((d_in, d_out),), kind="weight",
                description=description, aliases=tuple(aliases))


def vector(key: str, title: str, n: Dim, description: str = "", aliases=()) -> Step:
    return Step(key, title, factors=(n,), shapes=((n,),), kind="vector", description=description,
                aliases=tuple(aliases))


def matmul(key: str, title: str, left: tuple[Dim, ...], right: tuple[Dim, ...], *, group: str,
           description: str, aliases=()) -> Step:
    """The only place FLOPs of a matrix multiply are defined."""
    if left[-1] != right[-2]:
        raise ValueError(f"{key}: inner dimensions differ: {left[-1].name} vs {right[-2].name}")
    batch = left[:-2]
    if right[:-2] and right[:-2] != batch:
        raise ValueError(f"{key}: batch dimensions differ")
    return Step(key, title, factors=(TWO, *batch, left[-2], left[-1], right[-1]), shapes=(left, right),
                kind="matmul", group=group, description=description, aliases=tuple(aliases))


def band_matmul(key: str, title: str, batch: tuple[Dim, ...], pairs: Dim, inner: Dim, *, group: str,
                description: str, aliases=()) -> Step:
    """A matmul computed only for `pairs` (row, column) pairs of each batch entry, each an inner product of
    length `inner`: 2 * batch * pairs * inner FLOPs (the one FLOP rule, restricted to the pairs a windowed
    kernel computes: the band of a sliding window)."""
    return Step(key, title, factors=(TWO, *batch, pairs, inner), shapes=((*batch, pairs, inner),), kind="matmul",
                group=group, description=description, aliases=tuple(aliases))


def lookup(key: str, title: str, description: str, aliases=()) -> Step:
    """An embedding lookup: indexing, not a matmul, so 0 FLOPs by convention."""
    return Step(key, title, kind="lookup", description=description, note="a lookup, not a matmul",
                aliases=tuple(aliases))


def total(key: str, title: str, total_title: str, children: list[Step] | tuple[Step, ...],
          description: str = "", aliases=()) -> Step:
    return Step(key, title, children=tuple(children), kind="total", total_title=total_title,
                description=description, aliases=tuple(aliases))


def repeat(key: str, total_title: str, times: Dim, child: Step, aliases=()) -> Step:
    return Step(key, child.title, children=(child,), repeat=times, kind="repeat", total_title=total_title,
                aliases=tuple(aliases))


@dataclass(frozen=True)
class Linear:
    """y = x W (no bias): `d_in * d_out` parameters; a (batch..., d_in) @ (d_in, d_out) matmul."""

    name: str
    d_in: Dim
    d_out: Dim
    description: str
    group: str
    aliases: tuple[str, ...] = ()

    def params(self, prefix: str) -> Step:
        return weight(f"{prefix}.{self.name}", self.name, self.d_in, self.d_out, self.description,
                      self.aliases)

    def flops(self, prefix: str, tokens: tuple[Dim, ...]) -> Step:
        return matmul(f"{prefix}.{self.name}", self.name, (*tokens, self.d_in), (self.d_in, self.d_out),
                      group=self.group, description=self.description, aliases=self.aliases)


# ---------------------------------------------------------------- components beyond the assignment
# Each is data plus two methods: params(prefix) -> Step and flops(prefix, tokens) -> Step. An architecture is
# a composition of them (derive/model/architectures.py); none of them knows which model it is part of.


@dataclass(frozen=True)
class BiasedLinear(Linear):
    """y = x W + b: `d_in * d_out + d_out` parameters. The bias add is element-wise, so the FLOPs are the
    matmul's only (FlopCounterMode counts addmm(b, x, W) as 2 * m * k * n, the same as mm)."""

    def params(self, prefix: str) -> Step:
        key = f"{prefix}.{self.name}"
        return total(key, self.name, f"total_{self.name}", [
            weight(f"{key}.weight", f"{self.name}.weight", self.d_in, self.d_out, self.description),
            vector(f"{key}.bias", f"{self.name}.bias", self.d_out, f"bias of the {self.description}"),
        ], self.description, self.aliases)


def linear(name: str, d_in: Dim, d_out: Dim, description: str, group: str, bias: bool = False,
           aliases: tuple[str, ...] = ()) -> Linear:
    return (BiasedLinear if bias else Linear)(name, d_in, d_out, description, group, tuple(aliases))


@dataclass(frozen=True)
class Fused:
    """Projections stored as one matrix (Phi-3's qkv_proj, gate_up_proj): the concatenation of its parts, so
    its parameters and FLOPs are the sum of theirs (one (d_in x sum of widths) matmul = the parts' matmuls)."""

    name: str
    parts: tuple[Linear, ...]
    description: str
    aliases: tuple[str, ...] = ()

    def params(self, prefix: str) -> Step:
        key = f"{prefix}.{self.name}"
        return total(key, self.name, f"total_{self.name}", [p.params(key) for p in self.parts], self.description,
                     self.aliases)

    def flops(self, prefix: str, tokens: tuple[Dim, ...]) -> Step:
        key = f"{prefix}.{self.name}"
        return total(key, self.name, f"total_{self.name}", [p.flops(key, tokens) for p in self.parts],
                     self.description, self.aliases)


@dataclass(frozen=True)
class Vector:
    """A learned vector with no matmul (attention sinks: one logit per head)."""

    key: str
    title: str
    dim: Dim
    description: str
    aliases: tuple[str, ...] = ()

    def params(self, prefix: str) -> Step:
        return vector(f"{prefix}.{self.key}", self.title, self.dim, self.description, self.aliases)


@dataclass(frozen=True)
class Norm:
    """RMSNorm (a weight vector) or LayerNorm (weight and bias vectors); element-wise, so 0 matmul FLOPs."""

    key: str
    title: str
    dim: Dim
    description: str
    layer_norm: bool = False
    aliases: tuple[str, ...] = ()
    bias: bool = True  # a LayerNorm's shift vector (LayerNorm without bias: weight only)

    def params(self, prefix: str) -> Step:
        key = f"{prefix}.{self.key}" if prefix else self.key
        if not self.layer_norm or not self.bias:
            return vector(key, self.title, self.dim, self.description, self.aliases)
        return total(key, self.title, f"total_{self.title}", [
            vector(f"{key}.weight", f"{self.title}.weight", self.dim, f"{self.description} (scale)"),
            vector(f"{key}.bias", f"{self.title}.bias", self.dim, f"{self.description} (shift)"),
        ], self.description, self.aliases)


@dataclass(frozen=True)
class Embedding:
    """A (rows x d) table read by index: rows * d parameters, 0 FLOPs (a lookup, not a matmul)."""

    key: str
    title: str
    rows: Dim
    dim: Dim
    description: str
    lookup_description: str
    aliases: tuple[str, ...] = ()
    lookup_aliases: tuple[str, ...] = ()

    def params(self) -> Step:
        return weight(f"params.{self.key}", self.title, self.rows, self.dim, self.description, self.aliases)

    def flops(self) -> Step:
        return lookup(f"forward.{self.key}", self.title, self.lookup_description, self.lookup_aliases)


@dataclass(frozen=True)
class Sublayer:
    """A named group of Linears (attention projections, an MLP): the total of their params and of their
    matmuls, with `extra` matmuls (attention scores) spliced in before the last Linear."""

    key: str
    title: str
    total_title: str
    linears: tuple[Linear | Fused, ...]
    param_aliases: tuple[str, ...] = ()
    flop_aliases: tuple[str, ...] = ()
    extras: tuple[Norm | Vector, ...] = ()  # parameters without a matmul (q/k norms, sinks), listed last

    def params(self, prefix: str) -> Step:
        key = f"{prefix}.{self.key}"
        return total(key, self.title, self.total_title, [lin.params(key) for lin in self.linears] +
                     [extra.params(key) for extra in self.extras], aliases=self.param_aliases)

    def flops(self, prefix: str, tokens: tuple[Dim, ...], extra: tuple[Step, ...] = ()) -> Step:
        key = f"{prefix}.{self.key}"
        steps = [lin.flops(key, tokens) for lin in self.linears]
        if extra:
            steps[-1:-1] = extra
        return total(key, self.title, self.total_title, steps, aliases=self.flop_aliases)


@dataclass(frozen=True)
class Attention:
    """Causal self-attention: q, k, v, o projections (k, v may be narrower: grouped-query attention) and the
    two per-head matmuls over the full S x S square. With GQA the score matmuls still run per query head
    (k and v are shared by num_heads / num_kv_heads query heads, not computed fewer times)."""

    projections: Sublayer
    heads: tuple[Dim, ...]  # (B, h, S)
    d_k: Dim
    d_v: Dim | None = None  # value width per head when it differs from d_k (multi-head latent attention)
    band: Dim | None = None  # sliding-window band convention: only these (query, key) pairs are multiplied

    def params(self, prefix: str) -> Step:
        return self.projections.params(prefix)

    def flops(self, prefix: str, tokens: tuple[Dim, ...]) -> Step:
        key = f"{prefix}.{self.projections.key}"
        b, h, s = self.heads
        d_v = self.d_v or self.d_k
        if self.band is not None:
            return self.projections.flops(prefix, tokens, (
                band_matmul(f"{key}.scores", "attention_scores", (b, h), self.band, self.d_k, group="attention_scores",
                            description="scores Q K^T for the (query, key) pairs inside the sliding window",
                            aliases=("qk", "qkt", "q_kt", "scores", "attention_score")),
                band_matmul(f"{key}.weighted_sum", "attention_output", (b, h), self.band, d_v,
                            group="attention_scores",
                            description="attention-weighted sum of values over the pairs inside the window",
                            aliases=("weighted_sum", "attention_values", "attn_v", "attention_weighted_values")),
            ))
        scores = (
            matmul(f"{key}.scores", "attention_scores", (*self.heads, self.d_k), (b, h, self.d_k, s),
                   group="attention_scores", description="scores Q K^T per head (full square)",
                   aliases=("qk", "qkt", "q_kt", "scores", "attention_score")),
            matmul(f"{key}.weighted_sum", "attention_output", (*self.heads, s), (b, h, s, d_v),
                   group="attention_scores", description="attention-weighted sum of values (softmax(QK^T) V)",
                   aliases=("weighted_sum", "attention_values", "attn_v", "attention_weighted_values")),
        )
        return self.projections.flops(prefix, tokens, scores)


@dataclass(frozen=True)
class MixtureOfExperts:
    """Router (d x E) then each token through k of E identical expert MLPs (Mixtral: SwiGLU experts).

    Parameters: router + E experts (total) or router + k experts (active per token). Forward FLOPs: the router
    matmul over every token, plus k expert MLPs per token (only routed (token, expert) pairs are computed)."""

    key: str
    title: str
    router: Linear
    expert: Sublayer
    n_experts: Dim
    active: Dim
    shared: Sublayer | None = None  # a shared expert every token passes through (Qwen-MoE, DeepSeek)
    shared_gate: Linear | None = None  # its sigmoid gate, Linear(d_model, 1) (Qwen-MoE)

    def _always(self, key: str, part: str, tokens: tuple[Dim, ...] | None) -> list[Step]:
        out = []
        for item in (self.shared, self.shared_gate):
            if item is not None:
                out.append(item.params(key) if tokens is None else item.flops(key, tokens))
        return out

    def params(self, prefix: str, active: bool = False) -> Step:
        key = f"{prefix}.{self.key}"
        times = self.active if active else self.n_experts
        title = "active_experts" if active else "all_experts"
        return total(key, self.title, f"total_{self.title}", [
            self.router.params(key),
            *self._always(key, "params", None),
            repeat(f"{key}.experts", f"{title}", times, self.expert.params(key)),
        ], aliases=("moe", "ffn", "mlp"))

    def flops(self, prefix: str, tokens: tuple[Dim, ...]) -> Step:
        key = f"{prefix}.{self.key}"
        return total(key, self.title, f"total_{self.title}", [
            self.router.flops(key, tokens),
            *self._always(key, "flops", tokens),
            repeat(f"{key}.experts", "active_experts", self.active, self.expert.flops(key, tokens)),
        ], aliases=("moe", "ffn", "mlp"))
