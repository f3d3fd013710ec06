"""Independent oracle for any supported model type: transformers 5.24 models built from a config.json dict on
the meta device. Knows nothing about derive; never touches the Hub.

The config class is the model type's own (``AutoConfig.for_model(model_type, **fields)``), so every default and
``__post_init__`` rule of transformers applies exactly as when the released config.json is loaded. Attention is
"eager" (gemma2 and gpt_oss need it; on meta the sdpa path decomposes into the same two bmm), experts are
"batched_mm" (the default grouped_mm is not counted by FlopCounterMode; batched_mm multiplies only the routed
(token, expert) pairs, with shapes that depend on k alone). ``quantization_config`` is dropped: the counts are
of the model's tensors, whatever their storage.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch.utils.flop_counter import FlopCounterMode

NOT_MODEL_FIELDS = ("quantization_config", "auto_map", "architectures", "transformers_version", "torch_dtype",
                    "dtype", "_name_or_path")


def hf_config(data: Mapping[str, Any]):
    from transformers import AutoConfig

    fields = {k: v for k, v in data.items() if k not in NOT_MODEL_FIELDS and k != "model_type"}
    config = AutoConfig.for_model(data["model_type"], **fields)
    config._attn_implementation = "eager"
    config._experts_implementation = "batched_mm"
    return config


def build(data: Mapping[str, Any]) -> torch.nn.Module:
    """The causal LM of ``data["model_type"]`` on the meta device, in eval mode."""
    from transformers import AutoModelForCausalLM

    config = hf_config(data)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return model.eval()


def params(model: torch.nn.Module) -> int:
    """sum(p.numel()) over model.parameters() (a tied weight is listed once)."""
    return int(sum(p.numel() for p in model.parameters()))


def buffers(model: torch.nn.Module) -> dict[str, int]:
    """Every buffer the model registers, name -> elements (model.buffers() lists a shared buffer once)."""
    return {name: int(b.numel()) for name, b in model.named_buffers()}


def forward_flops(model: torch.nn.Module, batch_size: int, seq_len: int) -> int:
    """FlopCounterMode over one forward pass of (batch_size, seq_len) token ids (use_cache=True: without a
    mask, use_cache=False makes transformers probe position_ids with .item(), which meta tensors refuse)."""
    ids = torch.zeros((batch_size, seq_len), dtype=torch.long, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(input_ids=ids, use_cache=True)
    return int(counter.get_total_flops())


def expert_params(model: torch.nn.Module) -> tuple[int, int]:
    """(elements of one routed expert, routed experts per layer) from the named parameters of the first
    ``mlp.experts`` module: its 3-D tensors are (E, ...) and its 2-D biases (E, ...); one expert is 1/E of it."""
    for name, module in model.named_modules():
        if name.endswith("mlp.experts"):
            tensors = list(module.parameters(recurse=False))
            n_experts = tensors[0].shape[0]
            return sum(t.numel() for t in tensors) // n_experts, int(n_experts)
    raise ValueError("no mlp.experts module")


def moe_layers(model: torch.nn.Module) -> int:
    return sum(1 for name, _ in model.named_modules() if name.endswith("mlp.experts"))
