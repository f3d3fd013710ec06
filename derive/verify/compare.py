"""`derive verify`: build the model on PyTorch's meta device and compare with the derivation.

Parameters: the sum of `numel()` over `model.parameters()` (a tied weight is listed once). Forward FLOPs:
`torch.utils.flop_counter.FlopCounterMode` over one forward pass of random token ids. On the meta device
nothing is allocated, and scaled_dot_product_attention decomposes into the two full-square bmm that the
derivation counts. torch and transformers are imported only inside functions, so `derive --help` and every
other command work without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..accounting.account import Accounting
from ..errors import DeriveError, UsageError
from ..model.config import ModelConfig

# Never a bare `derive[verify]`: on a fresh machine pip would fetch an unrelated PyPI project called derive.
INSTALL_HINT = "pip install 'torch==2.13.0' 'transformers==5.24.0' (or, in derive's checkout, pip install '.[verify]')"


class MissingDependency(DeriveError):
    """An optional dependency (torch, transformers) is not installed: bad environment, exit 2."""


@dataclass(frozen=True)
class Row:
    label: str
    derived: int
    reference: int

    @property
    def ok(self) -> bool:
        return self.derived == self.reference


@dataclass(frozen=True)
class VerifyResult:
    config: str
    reference: str
    batch_size: int
    seq_len: int
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise MissingDependency(f"derive verify needs {module}, which is not installed: {INSTALL_HINT}") from None


def hf_model_spec(config: ModelConfig) -> tuple[str, dict[str, Any]] | None:
    """The transformers model type and config kwargs that implement this architecture, or None."""
    a = config
    if a.norm == "layernorm" and a.ffn == "gelu" and a.positions == "learned" and a.bias \
            and a.kv_heads == a.num_heads:
        return "gpt2", dict(vocab_size=a.vocab_size, n_positions=a.context_length, n_embd=a.d_model,
                            n_layer=a.num_layers, n_head=a.num_heads, n_inner=a.d_ff,
                            tie_word_embeddings=a.tie_embeddings, bos_token_id=None, eos_token_id=None)
    if a.norm != "rmsnorm" or a.positions != "rope" or a.ffn == "gelu":
        return None
    kw = dict(vocab_size=a.vocab_size, hidden_size=a.d_model, intermediate_size=a.d_ff,
              num_hidden_layers=a.num_layers, num_attention_heads=a.num_heads, num_key_value_heads=a.kv_heads,
              max_position_embeddings=a.context_length, tie_word_embeddings=a.tie_embeddings,
              bos_token_id=None, eos_token_id=None, pad_token_id=None)
    if a.ffn == "moe":
        if a.bias or a.qkv_bias:
            return None
        return "mixtral", dict(kw, num_local_experts=a.n_experts, num_experts_per_tok=a.experts_per_token)
    if a.bias:  # every linear biased (q, k, v, o and the MLP): Llama's attention_bias + mlp_bias
        return "llama", dict(kw, attention_bias=True, mlp_bias=True)
    if a.qkv_bias:
        return "qwen2", kw
    return ("mistral" if a.hf_model_type == "mistral" else "llama"), kw


HF_CLASSES = {"gpt2": ("GPT2Config", "GPT2LMHeadModel"), "llama": ("LlamaConfig", "LlamaForCausalLM"),
              "mistral": ("MistralConfig", "MistralForCausalLM"), "mixtral": ("MixtralConfig", "MixtralForCausalLM"),
              "qwen2": ("Qwen2Config", "Qwen2ForCausalLM")}


def build_reference(config: ModelConfig) -> tuple[str, Any, Callable[[Any], dict[str, Any]]]:
    """(description, model on meta, kwargs-for-forward builder)."""
    torch = _require("torch")
    if config.arch.is_assignment and not config.hf_model_type:
        from .reference import build_assignment

        model = build_assignment(**config.values())
        return "derive.verify.reference (PyTorch, assignment architecture)", model, lambda ids: {"ids": ids}
    spec = hf_model_spec(config)
    if spec is None:
        raise UsageError(
            f"{config.name}: no reference implementation for norm={config.norm}, ffn={config.ffn}, "
            f"positions={config.positions}, bias={config.bias} (supported: the assignment architecture, "
            "GPT-2 style, Llama/Mistral/Qwen2 style, Mixtral style)")
    model_type, kwargs = spec
    transformers = _require("transformers")
    config_cls, model_cls = (getattr(transformers, n) for n in HF_CLASSES[model_type])
    hf_config = config_cls(**kwargs)
    hf_config._attn_implementation = "sdpa"  # on meta: math decomposition, two full-square bmm (like eager)
    if model_type == "mixtral":
        # "grouped_mm" needs bf16 and "eager" loops over nonzero() of the routing mask (data dependent, fails
        # on meta); "batched_mm" gathers the k chosen experts per token: shapes depend only on k.
        hf_config._experts_implementation = "batched_mm"
    with torch.device("meta"):
        model = model_cls(hf_config).eval()
    # use_cache=True: without a mask, use_cache=False makes transformers probe position_ids with .item()
    return f"transformers {model_cls.__name__} (meta device)", model, \
        lambda ids: {"input_ids": ids, "use_cache": True}


def verify(acc: Accounting) -> VerifyResult:
    """Build the reference, count its parameters and one forward pass's FLOPs, compare with `acc`."""
    torch = _require("torch")
    from torch.utils.flop_counter import FlopCounterMode

    try:
        label, model, inputs = build_reference(acc.config)
        params = sum(p.numel() for p in model.parameters())
        ids = torch.zeros((acc.batch_size, acc.seq_len), dtype=torch.long, device="meta")
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(**inputs(ids))
        flops = int(counter.get_total_flops())
    except Exception as exc:  # the reference implementation rejected this config: say so on one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{acc.config.source or acc.config.name}: the reference model could not be built or run "
                         f"on the meta device ({type(exc).__name__}: {first})") from None
    notes = ["parameters: sum of numel() over model.parameters() (a tied weight is listed once)",
             "forward FLOPs: torch.utils.flop_counter.FlopCounterMode (matmuls only; bias adds, norms, "
             "softmax, RoPE and lookups count 0)"]
    if acc.config.ffn == "moe":
        notes.append("MoE: only the k routed (token, expert) pairs are multiplied (batched_mm), plus the router")
    return VerifyResult(acc.config.name, label, acc.batch_size, acc.seq_len, (
        Row("parameters", acc.total_params, int(params)),
        Row("forward FLOPs", acc.forward_flops, flops),
    ), tuple(notes))


def result_text(result: VerifyResult) -> str:
    rows = [("", "derive", "reference", "")] + [
        (r.label, f"{r.derived:,}", f"{r.reference:,}", "ok" if r.ok else f"MISMATCH ({r.reference - r.derived:+,})")
        for r in result.rows]
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{result.config}: derive vs {result.reference}, batch_size {result.batch_size}, "
             f"seq_len {result.seq_len:,}", ""]
    lines += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}  {d}".rstrip() for a, b, c, d in rows]
    lines += ["", *(f"- {n}" for n in result.notes)]
    lines.append("all figures match" if result.ok else "MISMATCH: the derivation and the implementation differ")
    return "\n".join(lines)
