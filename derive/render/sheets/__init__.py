"""Answer sheets: each turns configs into a template context (templates/NAME.FORMAT.j2 lays it out).

The registry is data: a sheet's name, its title and the function that builds its context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ...errors import UsageError
from ...model.config import ModelConfig
from .common import CONVENTIONS, DEFAULT_SHEET, GENERIC_SHEET
from .model import model_accounting
from .transformer import transformer_accounting

__all__ = ["CONVENTIONS", "DEFAULT_SHEET", "GENERIC_SHEET", "SHEETS", "Sheet", "get_sheet"]


@dataclass(frozen=True)
class Sheet:
    name: str
    title: str
    build: Callable[..., dict[str, Any]]  # (configs, overrides[, edition=..., detail=...]) -> template context
    editions: bool = False  # answers a handout edition's questions: build takes edition= and detail=


SHEETS: dict[str, Sheet] = {
    "transformer-accounting": Sheet("transformer-accounting", "Transformer LM resource accounting",
                                    transformer_accounting, editions=True),
    GENERIC_SHEET: Sheet(GENERIC_SHEET, "Model resource accounting", model_accounting),
}


def get_sheet(name: str) -> Sheet:
    try:
        return SHEETS[name]
    except KeyError:
        raise UsageError(f"--sheet: unknown sheet {name!r} (known sheets: {', '.join(SHEETS)})") from None


def _adamw_accounting(configs: list[ModelConfig], overrides: Mapping[str, Any], edition: str | None = None,
                      detail: str = "full") -> dict[str, Any]:
    from .adamw import adamw_accounting  # imported late: only this sheet needs the training modules

    return adamw_accounting(configs, overrides, edition, detail)


SHEETS["adamw-accounting"] = Sheet("adamw-accounting", "AdamW training accounting", _adamw_accounting,
                                   editions=True)


def _conventions(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    from .conventions import conventions_sheet  # imported late: only this sheet needs the conventions registry

    return conventions_sheet(configs, overrides)


SHEETS["conventions"] = Sheet("conventions", "FLOP conventions reconciled", _conventions)


def _inference(configs: list[ModelConfig], overrides: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    from .inference import inference_accounting  # imported late: only this sheet needs the inference modules

    return inference_accounting(configs, overrides, **options)


SHEETS["inference-accounting"] = Sheet("inference-accounting", "Inference accounting", _inference)


def _training_at_scale(configs: list[ModelConfig], overrides: Mapping[str, Any]) -> dict[str, Any]:
    from .training_scale import training_at_scale  # imported late: only this sheet needs the training modules

    return training_at_scale(configs, overrides)


SHEETS["training-at-scale"] = Sheet("training-at-scale", "Training at scale", _training_at_scale)
