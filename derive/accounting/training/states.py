"""Model states per device: each parameter sharded by the rule its framework uses, then the precision ledger
with ZeRO sharding over the data-parallel ranks.

Tensor parallelism (Megatron-LM, Shoeybi et al. 2019, Section 3): column-parallel linears (q, k, v, gate, up,
MLP up, MLA's up-projections) split their output features and biases by tp; row-parallel linears (o_proj, down)
split their input features, their bias is replicated; the token embedding and lm_head are split over the
vocabulary (ceil(V / tp) rows on the most loaded rank); norms, routers, MLA's down-projections and position
embeddings are replicated; attention sinks split with the heads. Experts (Megatron-Core MoE): E / ep experts per
rank, each expert's linears split by etp. Pipeline parallelism: num_layers / pp blocks per stage, the embeddings on
the first stage, the final norm and lm_head on the last; a tied lm_head keeps its own copy of the embedding on
the last stage when pp > 1 (Megatron's shared word embeddings, their gradients all-reduced between the two).
ZeRO (Rajbhandari et al. 2020): a sharded kind holds ceil(P / N_d) elements per rank (DeepSpeed pads the flat
buffer to a multiple of the ranks); dense parameters shard over dp, expert parameters over the ranks holding the
same experts, dp tp / (ep etp).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import sympy

from ...model import symbols as sy
from ...model.architectures import Derivation
from ...model.components import repeat, total
from ...model.config import ModelConfig
from ...model.steps import Dim, Step
from .parallel import DP, EP, ETP, PP, TP, Parallel
from .precision import STATE_KINDS, ZERO_SHARDS, Optimizer, Precision

COLUMN = frozenset({"q_proj", "k_proj", "v_proj", "w1", "w3", "c_fc", "q_b_proj", "kv_b_proj"})
ROW = frozenset({"o_proj", "w2", "c_proj"})
VOCAB = frozenset({"token_embedding", "lm_head"})
HEADS = frozenset({"sinks"})
RULES: dict[str, str] = {
    "column": "column-parallel: output features (and bias) / tp",
    "row": "row-parallel: input features / tp, bias replicated",
    "vocab": "vocabulary-parallel: ceil(vocab_size / tp) rows",
    "heads": "one entry per head: / tp",
    "replicated": "replicated on every tensor-parallel rank",
}


def rule_of(key: str) -> tuple[str, bool]:
    """(TP rule, is a bias) of a parameter-tree leaf key such as params.block.attention.q_proj.bias."""
    parts = key.split(".")
    bias = parts[-1] == "bias"
    name = parts[-2] if parts[-1] in ("weight", "bias") else parts[-1]
    if name in VOCAB:
        return "vocab", bias
    if name in COLUMN:
        return "column", bias
    if name in ROW:
        return ("replicated" if bias else "row"), bias
    if name in HEADS:
        return "heads", bias
    return "replicated", bias


def _div(dim: Dim, by: sympy.Symbol, name: str, ceiling: bool = False) -> Dim:
    if ceiling:
        return Dim(f"ceil({dim.name} / {name})", sympy.ceiling(dim.expr / by), rf"\lceil {dim.latex}/{name} \rceil")
    return Dim(f"{dim.name} / {name}", dim.expr / by, rf"{dim.latex}/{name}")


def shard_leaf(leaf: Step, expert: bool, p: Parallel) -> Step:
    """The part of one parameter leaf a single device holds under tensor (expert tensor) parallelism."""
    rule, bias = rule_of(leaf.key)
    degree, sym, name = (p.expert_tp, ETP, "etp") if expert and rule in ("column", "row") else (p.tp, TP, "tp")
    if degree == 1 or rule == "replicated" or not leaf.factors:
        return leaf
    f = list(leaf.factors)
    if rule == "vocab":
        f[0 if leaf.key.endswith("token_embedding") else -1] = _div(f[0 if leaf.key.endswith("token_embedding")
                                                                       else -1], sym, name, ceiling=True)
    elif rule == "row" and not bias:
        f[0] = _div(f[0], sym, name)
    else:  # column weight or bias, per-head vector: the output (last) dim
        f[-1] = _div(f[-1], sym, name)
    return dataclasses.replace(leaf, factors=tuple(f), note=RULES[rule])


def shard_tree(step: Step, p: Parallel, expert: bool = False) -> Step:
    """`step` with every leaf sharded; a repeat over n_experts becomes n_experts / ep."""
    if not step.children:
        return shard_leaf(step, expert, p)
    is_experts = step.key.endswith(".experts")
    times = step.repeat
    if is_experts and p.ep > 1:
        times = _div(times, EP, "ep")
    children = tuple(shard_tree(c, p, expert or is_experts) for c in step.children)
    return dataclasses.replace(step, children=children, repeat=times)


def expert_elements(step: Step) -> sympy.Expr:
    """Elements of the routed experts inside `step` (the repeat over n_experts and what it holds)."""
    total_expr = sympy.Integer(0)
    for leaf, mult in step.leaves_with_multiplier():
        if ".expert." in leaf.key:
            total_expr += mult * leaf.expr
    return total_expr


@dataclass(frozen=True)
class Stage:
    """What one pipeline stage holds: dense and MoE blocks (counts as Dims), the embeddings, the output layer."""

    index: int
    blocks: tuple[tuple[str, Dim], ...]  # ("block" | "dense_block", how many)
    embeddings: bool
    head: bool
    embedding_copy: bool  # a tied lm_head's copy of the token embedding on the last stage

    @property
    def name(self) -> str:
        return f"stage {self.index}"


def stages(config: ModelConfig, p: Parallel) -> list[Stage]:
    """Pipeline stages in order. Uniform stacks keep the symbol num_layers / pp; DeepSeek-style dense first layers
    are counted per stage (stage i holds layers i L/p .. (i + 1) L/p - 1)."""
    per = config.num_layers // p.pp
    out = []
    for i in range(p.pp):
        if config.ffn == "moe" and config.dense_layers:
            dense = min(max(config.dense_layers - i * per, 0), per)
            blocks = tuple((kind, Dim.const(n)) for kind, n in (("dense_block", dense), ("block", per - dense)) if n)
        else:
            count = Dim("num_layers / pp", sy.L / PP, "L/p") if p.pp > 1 else Dim("num_layers", sy.L, "L")
            blocks = (("block", count),)
        last = i == p.pp - 1
        out.append(Stage(i, blocks, i == 0, last, last and p.pp > 1 and config.tie_embeddings))
    return out


@lru_cache(maxsize=None)
def stage_params(d: Derivation, stage: Stage, p: Parallel) -> Step:
    """Parameters one device of `stage` holds (elements), sharded by tensor and expert parallelism."""
    tree = d.params
    children: list[Step] = []
    if stage.embeddings:
        children += [c for c in tree.children if c.key in ("params.token_embedding", "params.position_embedding")]
    for kind, count in stage.blocks:
        block = tree.find(f"params.{kind}")
        children.append(repeat(f"params.{kind}s", f"{kind}s_on_this_stage", count, block))
    if stage.head:
        children += [c for c in tree.children if c.key in ("params.final_norm", "params.lm_head")]
    if stage.embedding_copy:
        emb = tree.find("params.token_embedding")
        children.append(dataclasses.replace(emb, key="params.token_embedding_copy", title="tied_embedding_copy",
                                            description="the last stage's copy of the tied token embedding"))
    return shard_tree(total("params", "parameters_per_device", "total_parameters_per_device", children), p)


def _ceil_div(expr: sympy.Expr, by: sympy.Expr) -> sympy.Expr:
    return expr if by == 1 else sympy.ceiling(expr / by)


def states_tree(params: Step, prec: Precision, opt: Optimizer, p: Parallel, adafactor: sympy.Expr | None) -> Step:
    """Bytes of model states on one device: for each kind (weights, gradients, master, optimizer) and each class
    (dense, experts), bytes per element x ceil(elements / ZeRO degree) when the stage shards that kind.

    `adafactor`: the factored optimizer's elements on this device (rows + columns per matrix), when it is used."""
    expert = expert_elements(params)
    dense = sympy.expand(params.expr - expert)
    sharded = ZERO_SHARDS[p.zero]
    classes = [("dense", dense, DP, "dp")]
    if expert != 0:
        expert_dp = DP * TP / (EP * ETP)
        classes.append(("experts", expert, expert_dp, "dp tp / (ep etp)"))
    per_kind = {"weights": prec.weights, "gradients": prec.gradients + prec.extra_gradients, "master": prec.master,
                "optimizer": 0 if opt.factored else opt.states * prec.state}
    leaves = []
    for kind in STATE_KINDS:
        size = per_kind[kind]
        for cls, elements, degree, degree_name in classes:
            if kind == "optimizer" and opt.factored:
                if cls == "experts":
                    continue
                elements, size = adafactor, prec.state
            if size == 0:
                continue
            shard = kind in sharded and p.dp > 1
            count = _ceil_div(elements, degree) if shard else elements
            what = f"{cls} parameters" if kind != "optimizer" or not opt.factored else "factored second moments"
            name = f"ceil({what} / {degree_name})" if shard else what
            leaves.append(Step(f"states.{kind}.{cls}", f"{kind}_{cls}", factors=(Dim.const(size), Dim(name, count,
                               name)), kind="memory", description=f"{size} bytes per element"
                               + (f", ZeRO-{p.zero} shards it over {degree_name}" if shard else "")))
    return total("states", "model_states_per_device", "total_model_states_per_device", leaves)


def adafactor_elements(params: Step) -> sympy.Expr:
    """Adafactor's factored state for the (sharded) parameter tree: rows + columns of every matrix, one per entry
    of every vector (Shazeer & Stern 2018, Algorithm 4)."""
    out = sympy.Integer(0)
    for leaf, mult in params.leaves_with_multiplier():
        if leaf.kind == "weight" and len(leaf.factors) == 2:
            out += mult * (leaf.factors[0].expr + leaf.factors[1].expr)
        elif leaf.factors:
            out += mult * leaf.expr
    return out


__all__ = ["RULES", "Stage", "adafactor_elements", "expert_elements", "rule_of", "shard_tree", "stage_params",
           "stages", "states_tree"]
