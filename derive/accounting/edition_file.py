"""Reading an edition file (configs/editions/YEAR.yaml or your own): typed, validated, every error one line
naming the file and the dotted key (a ConfigError, exit 2). The data it builds is derive.accounting.editions'."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, UsageError
from ..model.config import ALL_KEYS, ARCH_KEYS, ArchOptions, ModelConfig, _read_yaml, config_from_mapping
from .editions import (ADAMW_SECTIONS, TIME_UNITS, TRANSFORMER_SECTIONS, AdamwProblem, DffRule, Edition, Part,
                       TransformerProblem, fmt_fraction, fmt_multiplier)
from .hardware import _hardware, get_hardware, parse_budget


PROBE = {"vocab_size": 8, "context_length": 8, "num_layers": 1, "d_model": 8, "num_heads": 2, "d_ff": 8}


@lru_cache(maxsize=None)
def read_edition(path: str) -> Edition:
    """The edition in the file at `path` (an absolute path: the cache is per file)."""
    data = _read_yaml(Path(path))
    if not isinstance(data, dict):
        raise ConfigError(path, None, "expected a mapping (edition, handout, models, transformer-accounting, ...)")
    r = _Reader(path, data)
    name = str(r.get("edition", (int, str)))
    arch_data = r.mapping("architecture")
    for key in arch_data:
        if key not in ARCH_KEYS:
            raise ConfigError(path, f"architecture.{key}", f"unknown key (known keys: {', '.join(ARCH_KEYS)})")
    # The options are validated as a config validates them, on a tiny model of that architecture.
    arch = config_from_mapping({**PROBE, **arch_data}, f"{path}: architecture", "architecture").arch
    rules = {k: _rule(r, f"d_ff_rules.{k}", v, k) for k, v in r.mapping("d_ff_rules").items()}
    models = {str(k): _model(r, str(k), v, rules, arch_data) for k, v in r.mapping("models").items()}
    edition = Edition(name, str(r.get("handout", str)), str(r.get("source", str, "")), arch, models,
                      _transformer(r, models), _adamw(r, name, arch), path)
    for model in (edition.transformer.subject, *edition.transformer.family, edition.adamw.model):
        where = "adamw-accounting.model" if model == edition.adamw.model else "transformer-accounting"
        if models and model not in models:
            # An edition that defines its models (its own d_ff rule, shapes) means those: a name it forgot would
            # silently become derive's preset of that name, with another d_ff labelled as given by the problem.
            raise ConfigError(path, where, f"{model!r} is not one of the edition's models ({', '.join(models)}); "
                              "an edition with models of its own must define every model its problems name")
        try:
            config = edition.config(model)
        except ConfigError:
            raise ConfigError(path, where, f"{model!r} is neither one of its models nor a preset") from None
        if config.arch != arch:
            raise ConfigError(path, where, f"{model!r} does not have the edition's architecture")
    return edition


class _Reader:
    """Typed access to an edition's keys; every failure names the file and the dotted key."""

    def __init__(self, path: str, data: Mapping[str, Any]):
        self.path, self.data = path, data

    def get(self, key: str, kind: Any, default: Any = ..., data: Mapping[str, Any] | None = None,
            where: str = "") -> Any:
        src = self.data if data is None else data
        dotted = f"{where}.{key}" if where else key
        if key not in src:
            if default is ...:
                raise ConfigError(self.path, dotted, "missing required key")
            return default
        value = src[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise ConfigError(self.path, dotted, f"has the wrong type ({type(value).__name__})")
        return value

    def mapping(self, key: str, data: Mapping[str, Any] | None = None, where: str = "") -> dict[str, Any]:
        value = self.get(key, dict, {}, data, where)
        return value if value is not None else {}

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, key, message)


def _fraction(r: _Reader, key: str, value: Any) -> Fraction:
    try:
        frac = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise r.error(key, f"expected a number such as 4 or 8/3, got {value!r}") from None
    if frac <= 0:
        raise r.error(key, f"must be positive, got {value!r}")
    return frac


def _rule(r: _Reader, where: str, data: Any, key: str) -> DffRule:
    if not isinstance(data, dict):
        raise r.error(where, "expected a mapping with multiplier (and multiple_of, text, given)")
    for k in data:
        if k not in ("multiplier", "multiple_of", "text", "given"):
            raise r.error(f"{where}.{k}", "unknown key (known keys: multiplier, multiple_of, text, given)")
    mult = _fraction(r, f"{where}.multiplier", r.get("multiplier", (int, str), data=data, where=where))
    m = r.get("multiple_of", int, None, data, where)
    if m is not None and m <= 0:
        raise r.error(f"{where}.multiple_of", f"must be a positive integer, got {m!r}")
    text = r.get("text", str, f"{fmt_multiplier(mult)} x d_model", data, where)
    return DffRule(key, mult, m, text, r.get("given", bool, False, data, where))


def _model(r: _Reader, name: str, data: Any, rules: Mapping[str, DffRule], arch: Mapping[str, Any]) -> ModelConfig:
    where = f"models.{name}"
    if not isinstance(data, dict):
        raise r.error(where, "expected a mapping of config keys")
    values = {k: v for k, v in data.items() if k != "d_ff_rule"}
    for key in values:
        if key not in ALL_KEYS or key in ARCH_KEYS:
            raise r.error(f"{where}.{key}", "unknown key (a model takes the config sizes, d_ff or d_ff_rule)")
    rule_key = data.get("d_ff_rule")
    rule = None
    if rule_key is not None:
        if rule_key not in rules:
            raise r.error(f"{where}.d_ff_rule", f"unknown rule {rule_key!r} (rules: {', '.join(rules) or 'none'})")
        rule = rules[rule_key]
    d_model = values.get("d_model")
    if rule is not None and isinstance(d_model, int) and not isinstance(d_model, bool) and d_model > 0:
        derived = rule.value(d_model)
        if not isinstance(derived, int):
            raise r.error(f"{where}.d_ff_rule", f"gives d_ff = {fmt_fraction(derived)}, not a whole number")
        if "d_ff" in values and values["d_ff"] != derived:
            raise r.error(f"{where}.d_ff", f"{values['d_ff']!r} is not {rule.text} ({rule.working(d_model)})")
        given = "d_ff" in values or rule.given
        values.setdefault("d_ff", derived)
        values.setdefault("d_ff_source", (f"given by the problem: {rule.text}: {rule.working(d_model)}" if given
                                          else f"assumed: {rule.text}: {rule.working(d_model)}; "
                                               f"the problem gives no d_ff for this size"))
    values.setdefault("name", name)
    return config_from_mapping({**values, **arch}, f"{r.path}: {where}", name)


def _parts(r: _Reader, section: str, data: Mapping[str, Any], known: tuple[str, ...]) -> tuple[Part, ...]:
    parts = r.mapping("parts", data, section)
    if not parts:
        raise r.error(f"{section}.parts", "missing required key")
    out = []
    for label, spec in parts.items():
        where = f"{section}.parts.{label}"
        if not isinstance(spec, dict):
            raise r.error(where, "expected a mapping with answers (and heading, asks)")
        answers = r.get("answers", list, data=spec, where=where)
        for a in answers:
            if a not in known:
                raise r.error(f"{where}.answers", f"unknown section {a!r} (known: {', '.join(known)})")
        if not answers:
            raise r.error(f"{where}.answers", "must name at least one section")
        heading = r.get("heading", str, "", spec, where)
        if len(answers) > 1 and not heading:
            raise r.error(f"{where}.heading", "missing (required when a part has several sections)")
        out.append(Part(str(label), tuple(answers), heading, r.get("asks", str, "", spec, where)))
    answered = [a for p in out for a in p.answers]
    if sorted(answered) != sorted(known):
        raise r.error(f"{section}.parts", f"must answer each of {', '.join(known)} exactly once")
    return tuple(out)


def _transformer(r: _Reader, models: Mapping[str, ModelConfig]) -> TransformerProblem:
    key = "transformer-accounting"
    data = r.mapping(key)
    family = r.get("family", list, data=data, where=key)
    if not family or not all(isinstance(f, str) for f in family):
        raise r.error(f"{key}.family", "expected a list of model names")
    long_context = r.get("long_context", int, data=data, where=key)
    if long_context <= 0:
        raise r.error(f"{key}.long_context", f"must be a positive integer, got {long_context!r}")
    return TransformerProblem(r.get("problem", str, data=data, where=key), r.get("subject", str, data=data, where=key),
                              tuple(family), r.get("family_heading", str, "", data, key), long_context,
                              _parts(r, key, data, TRANSFORMER_SECTIONS))


def _adamw(r: _Reader, name: str, arch: ArchOptions) -> AdamwProblem:
    from .training.activations import activation_set_for  # the training package: only editions need it here

    key = "adamw-accounting"
    data = r.mapping(key)
    d_ff = r.mapping("d_ff", data, key)
    rule = _rule(r, f"{key}.d_ff", d_ff, "assumption")
    acts = r.mapping("activations", data, key)
    block = r.get("per_block", list, data=acts, where=f"{key}.activations")
    final = r.get("once", list, data=acts, where=f"{key}.activations")
    description = f"the {name} handout's list: " + ", ".join(str(k) for k in (*block, *final))
    try:
        act_set = activation_set_for(f"cs336-{name}", description, tuple(block), tuple(final), arch)
    except KeyError as exc:
        raise r.error(f"{key}.activations", f"unknown tensor {exc.args[0]!r}") from None
    except ValueError as exc:
        raise r.error(f"{key}.activations", str(exc)) from None
    budgets = r.get("budgets", list, data=data, where=key)
    for b in budgets:
        try:
            parse_budget(b)
        except UsageError:
            raise r.error(f"{key}.budgets", f"not a memory budget: {b!r} (e.g. 80GB or 80GiB)") from None
    hw = r.get("hardware", (str, dict), data=data, where=key)
    if isinstance(hw, str):
        try:
            hardware = get_hardware(hw)
        except UsageError as exc:
            raise r.error(f"{key}.hardware", str(exc).partition(": ")[2]) from None
    elif len(hw) == 1:
        (hw_key, entry), = hw.items()
        hardware = replace(_hardware(r.path, f"{key}.hardware.{hw_key}", entry), key=str(hw_key))
    else:
        raise r.error(f"{key}.hardware", "expected a name in hardware.yaml or one {key: {name, dtype, ...}} entry")
    mfu = str(r.get("mfu", (str, int, float), data=data, where=key))
    if not 0 < _fraction(r, f"{key}.mfu", mfu) <= 1:
        raise r.error(f"{key}.mfu", f"must be in (0, 1], got {mfu!r}")
    unit = r.get("time_unit", str, data=data, where=key)
    if unit not in TIME_UNITS:
        raise r.error(f"{key}.time_unit", f"must be one of {', '.join(TIME_UNITS)}, got {unit!r}")
    ints = {}
    for k in ("steps", "batch_size"):
        ints[k] = r.get(k, int, data=data, where=key)
        if ints[k] <= 0:
            raise r.error(f"{key}.{k}", f"must be a positive integer, got {ints[k]!r}")
    return AdamwProblem(r.get("problem", str, data=data, where=key), r.get("model", str, data=data, where=key),
                        rule, act_set, tuple(budgets), ints["steps"], ints["batch_size"], hardware, mfu, unit,
                        _parts(r, key, data, ADAMW_SECTIONS))
