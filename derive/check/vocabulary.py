"""The words people write for the parts of a Transformer and for training quantities, as data.

`read_words(label)` turns the words of a claim ("Q, K, V projections per block", "Input and output embeddings
(untied)", "AdamW state (m and v)") into the roles they name (`q_proj`, `k_proj`, `v_proj`), the scope
("one" block or "all" blocks) and the trees they point at (parameters, FLOPs, memory ...). A role is the last
part of a derivation node's key (`params.block.attention.q_proj` -> `q_proj`) or the name of a training
quantity. Phrases are matched longest-first and consumed, so "scores @ V" is the weighted sum, never "scores".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

# (pattern, roles). Order matters: earlier patterns consume their words first.
_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # training quantities
    (r"adam\w* (?:optimi[sz]er )?(?:state|moments?)|optimi[sz]er states?|\bm and v\b|\bm ?, ?v\b|"
     r"\bm ?\+ ?v\b|first and second moments?|two moments|both moments", ("adamw_m", "adamw_v")),
    (r"first moment|\badamw m\b|\bmomentum\b", ("adamw_m",)),
    (r"second moment|\badamw v\b|\bvariance\b", ("adamw_v",)),
    (r"bias correction", ("bias_correction",)),
    (r"weight decay", ("weight_decay",)),
    (r"bytes? ?(?:/ ?|per )(?:parameter|param|element|number|value)\b|bytes each", ("bytes_per_parameter",)),
    (r"(?:flops? ?)?(?:/ ?|per )(?:parameter|param|element)\b", ("per_parameter",)),
    (r"gradients?|\bgrads?\b", ("gradients",)),
    (r"peak (?:training )?memory|total (?:training )?memory|training memory|memory (?:for|of) (?:a |one )?"
     r"training step", ("peak_memory",)),
    (r"memory at (?:the )?(?:b ?max|largest batch|max(?:imum)? batch)", ("peak_memory",)),
    (r"largest batch|max(?:imum)? batch|batch[ _]?size[ _]?max|\bb[ _]?max\b|biggest batch|batch that fits",
     ("max_batch",)),
    (r"adamw (?:step|flops|update)|optimi[sz]er (?:step|flops|update)|one adamw|adamw|optimi[sz]er",
     ("optimizer",)),
    (r"\bupdate\b", ("update",)),
    (r"training time|time to train|train(?:ing)? (?:takes|duration)|wall[- ]?clock|how long|\btime\b",
     ("time",)),
    (r"train(?:ing)?[ _]step[ _]flops|train step|step with (?:the )?optimi[sz]er", ("train_step",)),
    (r"step[ _]flops|training step|forward ?\+ ?backward|fwd ?\+ ?bwd|one step|per step|a step", ("step",)),
    (r"throughput|achieved flop|effective flop", ("throughput",)),
    (r"total training flops|training flops|total compute|compute budget|flops in total for training|steps ?x ?step",
     ("total_flops",)),
    (r"backward|\bbwd\b", ("backward",)),
    (r"activations?", ("activations",)),
    (r"crossover|overtakes?|break[- ]?even", ("crossover",)),
    # the model's totals, named as such
    (r"(?<!feed )(?<!feed)\bforward(?: pass)?(?: matmul)? flops|total (?:forward )?(?:matmul )?flops|flops (?:of|for) (?:a |the |one )?"
     r"forward(?: pass)?|total parameters|parameter count|number of parameters|trainable parameters|\bn ?params\b|"
     r"total params|#params", ("root",)),
    # issue 12's parts, as transformers names them and as people write them (before the generic words they
    # contain: `kv_a_layernorm` is no block norm, `qk norm` no score, `shared expert` not the routed ones)
    (r"\bq a proj\w*|\bq (?:down|compression)[ -]?proj\w*|query (?:down[ -]?proj\w*|compression)|\bw ?dq\b",
     ("q_a_proj",)),
    (r"\bq b proj\w*|\bq up[ -]?proj\w*|query (?:up[ -]?proj\w*|decompression)|\bw ?uq\b", ("q_b_proj",)),
    (r"\bkv a proj\w*(?: with mqa)?|\bkv (?:down|compression)[ -]?proj\w*|(?:joint )?kv compression|\bw ?dkv\b",
     ("kv_a_proj_with_mqa",)),
    (r"\bkv b proj\w*|\bkv up[ -]?proj\w*|kv decompression|\bw ?ukv\b", ("kv_b_proj",)),
    (r"\bkv a (?:layer ?|rms ?)?norm\w*|(?:latent|compressed) kv (?:rms ?)?norm\w*|kv latent (?:rms ?)?norm\w*",
     ("kv_a_layernorm",)),
    (r"\bq a (?:layer ?|rms ?)?norm\w*|(?:latent|compressed) (?:q|query) (?:rms ?)?norm\w*|"
     r"(?:q|query) latent (?:rms ?)?norm\w*", ("q_a_layernorm",)),
    (r"shared experts? gate|shared expert gating", ("shared_expert_gate",)),
    (r"shared experts?|shared (?:ffn|mlp)", ("shared_expert",)),
    (r"\brouter\b|gating network|(?:expert|moe) (?:gate|router)|routing (?:weights|matrix|layer)",
     ("router",)),
    (r"(?:attention |learned )?sinks?(?: logits?)?\b", ("sinks",)),
    (r"post (?:attention|attn) (?:rms ?|layer ?)?norm\w*", ("post_attn_norm",)),
    (r"post (?:feed ?forward|ffn|mlp) (?:rms ?|layer ?)?norm\w*", ("post_ffn_norm",)),
    (r"pre (?:feed ?forward|ffn|mlp) (?:rms ?|layer ?)?norm\w*", ("ffn_norm",)),
    (r"\bqk (?:rms ?|layer ?)?norms?\b|\bq (?:and|&|,) ?k (?:rms ?|layer ?)?norms?\b|"
     r"query and key (?:rms ?|layer ?)?norms?\b|\bq norm (?:and|&|,) ?k norm\b", ("q_norm", "k_norm")),
    (r"\bq (?:rms ?|layer ?)?norm\b|query (?:rms ?|layer ?)?norm\b", ("q_norm",)),
    (r"\bk (?:rms ?|layer ?)?norm\b|key (?:rms ?|layer ?)?norm\b", ("k_norm",)),
    (r"(?:one|each|a|per|single) sliding(?: window)?(?: attention)? (?:layer|block)\b", ("sliding_block",)),
    (r"sliding(?: window)?(?: attention)? (?:layers|blocks)|\bswa (?:layers|blocks)", ("sliding_blocks",)),
    (r"(?:one|each|a|per|single) dense (?:ffn |mlp )?(?:layer|block)\b", ("dense_block",)),
    (r"dense (?:ffn |mlp )?(?:layers|blocks)", ("dense_blocks",)),
    # attention matmuls
    (r"scores? ?(?:\+|and|&) ?(?:attention )?(?:values?\b|v\b|weighted[ _]?sum|outputs?\b)|q ?k\^?t ?(?:\+|and|&) ?"
     r"(?:a ?v|p ?v|attention (?:times|x|\*|@) ?v)\b", ("scores", "weighted_sum")),
    (r"scores? ?(?:@|x|\*|times) ?v\b|softmax ?\(.{0,40}?\) ?(?:@|x|\*)? ?v\b|\bp ?@ ?v\b|\ba ?@ ?v\b|"
     r"attn ?v\b|weighted[ _]?sum|attention[ _]?output|attention values|attention weighted values|\bav\b|"
     r"\bsv\b|output of attention|(?:attention|attn|probs?|probabilities|weights|softmax)(?: weights)? ?(?:@|x|\*|×|"
     r"times) ?v\b", ("weighted_sum",)),
    (r"\bq ?(?:@|x|\*)? ?k ?\^ ?\(?t\)?|\bq ?k\^?t\b|\bqkt\b|\bqk\b|\bq_kt\b|attention[ _]scores?|\bscores?\b|"
     r"attention logits|attention matrix", ("scores",)),
    # projections (lists like "Q, K, V projections" are expanded before matching)
    (r"\bq[ _]?proj\w*|\bw[ _]?q\b|\bquery (?:projection|proj|matrix|weights?)|\bq (?:projection|matrix|weights?)\b",
     ("q_proj",)),
    (r"\bk[ _]?proj\w*|\bw[ _]?k\b|\bkey (?:projection|proj|matrix|weights?)\b|\bk (?:projection|matrix|weights?)\b",
     ("k_proj",)),
    (r"\bv[ _]?proj\w*|\bw[ _]?v\b|\bvalue (?:projection|proj|matrix|weights?)\b|\bv (?:projection|matrix|weights?)\b",
     ("v_proj",)),
    (r"\bo[ _]?proj\w*|\bw[ _]?o\b|output projection|\bout[ _]?proj\w*|\bo (?:projection|matrix|weights?)\b",
     ("o_proj",)),
    (r"\bqkv\b|\bq ?, ?k ?(?:,|and) ?v\b", ("q_proj", "k_proj", "v_proj")),
    (r"(?:attention|attn) ?proj\w*|\bqkvo\b|attention (?:linear|weight) (?:layers|matrices)",
     ("q_proj", "k_proj", "v_proj", "o_proj")),
    (r"final (?:rms[ _]?|layer[ _]?)?norm\w*|\bln[ _]?f\b|norm[ _]?f\b|final norm", ("final_norm",)),
    (r"(?:attn|attention|pre-attention|first)[ _](?:rms[ _]?|layer[ _]?)?norm|\bnorm[ _]?1\b|\bln[ _]?1\b",
     ("attn_norm",)),
    (r"(?:ffn|mlp|second)[ _](?:rms[ _]?|layer[ _]?)?norm|\bnorm[ _]?2\b|\bln[ _]?2\b", ("ffn_norm",)),
    (r"rms[ _]?norms?|layer[ _]?norms?|\bnorms?\b|\bln\b|rmsnorm weights", ("attn_norm", "ffn_norm")),
    # feed-forward
    (r"\bw[ _]?1\b|gate[ _]?proj\w*|\bgate\b|\bgating\b|\bc[ _]fc\b", ("w1",)),
    (r"\bw[ _]?3\b|\bup[ _]?proj\w*|\bup\b|signal[ _]?proj\w*|linear projection", ("w3",)),
    (r"\bw[ _]?2\b|down[ _]?proj\w*|\bdown\b|\bc[ _]proj\b", ("w2",)),
    (r"\brouter\b|gating network", ("router",)),
    (r"experts?", ("experts",)),
    (r"\bffn\b|feed[ _-]?forward|\bmlp\b|swiglu|\bfc\b", ("ffn",)),
    # embeddings, norms, buffers
    (r"both embeddings|two embeddings|embeddings \(?untied|input and output embeddings?|"
     r"token and output embeddings?|embeddings? and lm[ _]?head|embedding tables", ("token_embedding", "lm_head")),
    (r"lm[ _]?head|output embed\w*|unembed\w*|output layer|logits? layer|de-?embedding|readout",
     ("lm_head",)),
    (r"pos\w* embed\w*|\bwpe\b", ("position_embedding",)),
    (r"token[ _]?embed\w*|input embed\w*|embed\w*(?: lookup)?(?: table)?|\bwte\b|vocab(?:ulary)? table",
     ("token_embedding",)),
    (r"\brope\b|rotary|cos(?:ine)? (?:and|&|/) sin\w*|cos ?/ ?sin|sin ?/ ?cos|\bcos sin\b|cos sin cache",
     ("rope",)),
    (r"attention|\battn\b|\bmha\b|\bgqa\b|self-attention", ("attention",)),
    # blocks
    (r"all (?:the )?(?:\d+ )?(?:transformer )?(?:blocks|layers)|every (?:transformer )?(?:block|layer)|"
     r"(?:\d+|num[ _]layers|\bl) (?:transformer )?(?:blocks|layers)|all[ _]transformer[ _]blocks|"
     r"across (?:all )?(?:the )?(?:\d+ )?layers|whole stack|all blocks", ("blocks",)),
    (r"per[ _-]?(?:transformer[ _])?(?:block|layer)|one (?:transformer )?(?:block|layer)|"
     r"each (?:transformer )?(?:block|layer)|single (?:block|layer)|a (?:transformer )?(?:block|layer)|"
     r"transformer[ _]block|\bblock\b|\blayer\b", ("block",)),
)
_COMPILED = tuple((re.compile(p), roles) for p, roles in _PHRASES)
_PARENT = {**{r: "attention" for r in ("q_proj", "k_proj", "v_proj", "o_proj", "scores", "weighted_sum")},
           **{r: "ffn" for r in ("w1", "w2", "w3", "router", "experts", "shared_expert", "shared_expert_gate")},
           **{r: "attention" for r in ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "kv_a_layernorm",
                                       "q_a_layernorm", "sinks", "q_norm", "k_norm")}}

# Lists whose head noun belongs to every item: "Q, K, V projections", "gate and up projections".
_HEADS = r"projections?|proj|matrices|matrix|weights|embeddings?|norms?|layers"
_LIST = re.compile(rf"(?<![\w^])((?:[\w^@]{{1,12}}(?: ?, ?| and | & | ?/ ?))+(?:and |& )?[\w^]{{1,12}}) ({_HEADS})\b")

_TREE_WORDS: tuple[tuple[str, str], ...] = (
    (r"backward|\bbwd\b", "backward"),
    (r"flops?\b|flop/s|matmul|mat-?mul|multipl|forward|\bfwd\b|compute", "forward"),
    (r"active", "active_params"),
    (r"buffer|rope|rotary|cos|sin\b", "buffers"),
    (r"memory|bytes?\b|\bgb\b|\bgib\b|\bmb\b|\btb\b|\bram\b|vram|\bload\b", "memory"),
    (r"param|#params|weights?\b|trainable", "params"),
    (r"activation|\belements\b", "activations"),
)
_TREE_COMPILED = tuple((re.compile(p), t) for p, t in _TREE_WORDS)
_TOTAL = re.compile(r"\btotal\b|\boverall\b|whole model|entire model|\bmodel\b|\bsum\b|\bin all\b|altogether")
_ONE = re.compile(r"\bper (?:token|sequence|example)\b")
_DTYPES = {"fp32": "fp32", "float32": "fp32", "single": "fp32", "bf16": "bf16", "bfloat16": "bf16",
           "fp16": "fp16", "float16": "fp16", "half": "fp16"}


@dataclass(frozen=True)
class Words:
    """What a claim's words name: roles, scope ('one' block, 'all' blocks or None), trees, and extras."""

    roles: frozenset[str] = frozenset()
    scope: str | None = None
    trees: frozenset[str] = frozenset()
    total: bool = False
    per: str | None = None  # 'token' | 'sequence'
    dtype: str | None = None
    text: str = ""
    tokens: frozenset[str] = field(default=frozenset())

    @property
    def names_something(self) -> bool:
        return bool(self.roles)


def normalise(text: str) -> str:
    """Lower case, markup gone, `_` and `-` as spaces, one space between words."""
    s = text.lower().replace("`", " ").replace("*", " * ").replace("$", " ").replace("\\", " ")
    s = re.sub(r"\s*\^\s*(?:\(\s*t\s*\)|t\b)", "^t", s)  # K^T, K^(T)
    s = s.replace("_", " ").replace("–", "-")
    s = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def _expand_lists(s: str) -> str:
    """'q, k, v projections' -> 'q projection, k projection, v projection' (the head noun distributed)."""
    def repl(m: re.Match[str]) -> str:
        items = [i.strip() for i in re.split(r" ?, ?| and | & | ?/ ?", m.group(1)) if i.strip()]
        items = [re.sub(r"^(?:and|&) ", "", i) for i in items]
        if len(items) < 2 or any(len(i.split()) > 1 or i in ("all", "every", "each", "both", "the", "per", "of")
                                 or re.fullmatch(_HEADS, i) for i in items):  # `q norm and k norm`: already whole
            return m.group(0)
        head = m.group(2).rstrip("s") if m.group(2) not in ("matrices", "norms") else m.group(2)[:-1]
        head = "matrix" if m.group(2) == "matrices" else head
        return ", ".join(f"{i} {head}" for i in items)
    return _LIST.sub(repl, s)


def read_words(*texts: str) -> Words:
    """The roles, scope and trees named by the words of a claim (its label and qualifiers)."""
    return _read_words(" ".join(t for t in texts if t)[:4000])


@lru_cache(maxsize=20_000)
def _read_words(raw: str) -> Words:
    s = normalise(raw)
    if len(s) > 2000:
        s = s[:2000]
    expanded = _expand_lists(s)
    roles: set[str] = set()
    work = expanded
    for pattern, names in _COMPILED:
        found = False
        def mask(m: re.Match[str]) -> str:
            nonlocal found
            found = True
            return " " * len(m.group(0))
        work = pattern.sub(mask, work)
        if found:
            roles.update(names)
    for child, parent in _PARENT.items():  # `attn scores`: the part named, not the sub-layer around it
        if child in roles:
            roles.discard(parent)
    if roles & {"per_parameter", "adamw_m", "adamw_v", "update", "weight_decay", "bias_correction"}:
        roles.discard("optimizer")  # `AdamW first moment FLOPs per parameter`: the stage names it
    scope = None
    if "blocks" in roles:
        scope = "all"
    elif "block" in roles:
        scope = "one"
    if len(roles - {"block", "blocks"}) > 0 and roles & {"block", "blocks"}:
        roles -= {"block", "blocks"}  # "attention per block": a scope, not the block itself
    trees = {t for p, t in _TREE_COMPILED if p.search(s)}
    per = None
    m = _ONE.search(s)
    if m:
        per = m.group(0).split()[-1]
    dtype = next((_DTYPES[w] for w in re.findall(r"[a-z0-9]+", s) if w in _DTYPES), None)
    return Words(frozenset(roles), scope, frozenset(trees), bool(_TOTAL.search(s)), per, dtype, s,
                 frozenset(re.findall(r"[a-z0-9]+", s)))


def fallback_roles(words: Words) -> frozenset[str] | None:
    """What the words name in a model that has no part of the roles they read as: transformers'
    `post_attention_layernorm` is the sandwich norm after attention in Gemma 2/3 (post_attn_norm), but the
    norm before the MLP in Llama, Mistral, Qwen (ffn_norm). None when the words have one meaning."""
    if words.roles == {"post_attn_norm"} and "post attention layernorm" in words.text:
        return frozenset({"ffn_norm"})
    return None


# How a role is shown in an explanation ("Q K^T and scores @ V together").
DISPLAY = {"scores": "Q K^T", "weighted_sum": "scores @ V", "adamw_m": "the AdamW first moment m",
           "adamw_v": "the AdamW second moment v", "attn_norm": "the attention RMSNorm",
           "ffn_norm": "the FFN RMSNorm"}


def display(roles: frozenset[str] | set[str]) -> str:
    names = [DISPLAY.get(r, r) for r in sorted(roles)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# Architecture options as people (and derive's LaTeX and HTML sheets) write them: `ffn: mixture of experts`,
# `bias: no`. Each phrase is compared whole, after normalise(); a value's own name always counts.
OPTION_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "norm": {"rmsnorm": ("rms norm", "rms"), "layernorm": ("layer norm", "ln")},
    "ffn": {"swiglu": ("swi glu",), "gelu": ("gelu mlp", "mlp", "gelu feed forward"), "geglu": ("ge glu",),
            "moe": ("mixture of experts", "mixture of experts ffn", "sparse moe")},
    "positions": {"rope": ("rotary", "rotary embeddings", "rotary position embeddings"),
                  "learned": ("learned absolute", "learned positions", "absolute", "learned position embeddings"),
                  "alibi": ()},
    "attention": {"mha": ("multi head attention", "gqa", "mqa", "grouped query attention", "multi query attention"),
                  "mla": ("multi head latent attention", "latent attention")},
    "block_norms": {"pre": ("pre norm", "pre ln"), "post": ("post norm", "post ln"),
                    "sandwich": ("sandwich norms", "sandwich norm"), "shared": ("one norm for both", "one norm")},
    "residual": {"sequential": (), "parallel": ("parallel residual", "parallel attention and mlp")},
    "qk_norm": {"none": ("no",), "head": ("per head", "per head rmsnorm"), "full": ("over all heads", "across heads")},
    "buffers": {"rope_tables": ("per block rope tables", "rope cos sin tables"),
                "model": ("as the reference registers them", "as the model registers them")},
    "rope_buffers": {"one": ("one set",), "per_layer_type": ("one set per attention type", "per attention type"),
                     "none": ()},
}
_BOOLEAN_WORDS = {"yes": True, "true": True, "y": True, "no": False, "false": False, "n": False, "none": False}


def option_value(key: str, text: str, allowed: tuple[str, ...] | None = None) -> object | None:
    """The value of architecture option `key` written as `text` (`mixture of experts` -> `moe`, `no` -> False);
    None when the words are no value of it. `allowed` lists a choice key's values (None: a yes/no option)."""
    words = re.sub(r"[.;:,]+$", "", normalise(text)).strip()
    if allowed is None:
        return _BOOLEAN_WORDS.get(words)
    for value in allowed:
        if words == normalise(value) or words in OPTION_PHRASES.get(key, {}).get(value, ()):
            return value
    return None
