"""Handout editions as data: the CS336 assignment 1 accounting problems of one year (configs/editions/YEAR.yaml).

An edition holds what a handout gives and asks: its model's architecture, the configs (with d_ff given or
derived by a named rule), which parts each problem has and what each answers, the activation list, the
hardware, MFU, steps, batch, memory budgets and the unit of the training time. Adding an edition is adding a
file; `--edition PATH.yaml` reads one from anywhere. Every error names the file and the key (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import sympy

from ..errors import ConfigError, UsageError
from ..model import symbols as sy
from ..model.config import (ALL_KEYS, ARCH_KEYS, ArchOptions, ModelConfig, _read_yaml, _validate_arch,
                            apply_overrides, config_from_mapping, load_config)
from ..resources import DEFAULT_EDITION, editions_dir
from .hardware import Hardware, _hardware, get_hardware, parse_budget

TRANSFORMER_SECTIONS = ("parameters", "matmuls", "ranking", "family", "long_context")
ADAMW_SECTIONS = ("memory", "batch", "flops", "time")
TIME_UNITS = {"days": 24 * 60 * 60, "hours": 60 * 60}


def edition_names() -> list[str]:
    """The editions shipped in configs/editions, oldest first."""
    return sorted(p.stem for p in editions_dir().glob("*.yaml"))


@dataclass(frozen=True)
class DffRule:
    """d_ff as a function of d_model: multiplier x d_model, optionally the nearest multiple of `multiple_of`.

    `text` says it in words; `given` says whether the handout states it (True) or derive assumes it."""

    key: str
    multiplier: Fraction
    multiple_of: int | None = None
    text: str = ""
    given: bool = False

    def expr(self, d_model: sympy.Expr = sy.d) -> sympy.Expr:
        """The rule as a sympy expression; nearest multiple: m * floor(x / m + 1/2) (a tie rounds up)."""
        exact = sympy.Rational(self.multiplier.numerator, self.multiplier.denominator) * d_model
        if self.multiple_of is None:
            return exact
        m = sympy.Integer(self.multiple_of)
        return m * sympy.floor(exact / m + sympy.Rational(1, 2))

    def exact(self, d_model: int) -> Fraction:
        return self.multiplier * d_model

    def value(self, d_model: int) -> int | Fraction:
        """d_ff for this d_model: an int when the rule rounds (or the product is whole), else a Fraction."""
        v = sympy.nsimplify(self.expr(sympy.Integer(d_model)))
        return int(v) if v.is_Integer else Fraction(int(v.p), int(v.q))

    def working(self, d_model: int) -> str:
        """The rule with this d_model's numbers: `64 x round(8 / 3 x 1,600 / 64) = 64 x 67 = 4,288` (written in
        the notation the sheets typeset as math in LaTeX and HTML: operators between spaces)."""
        mult = fmt_multiplier(self.multiplier)
        if self.multiple_of is None:
            return f"{mult} x {d_model:,} = {fmt_fraction(self.exact(d_model))}"
        m = self.multiple_of
        return (f"{m} x round({mult} x {d_model:,} / {m}) = {m} x {int(self.value(d_model)) // m:,} "
                f"= {int(self.value(d_model)):,}")


def fmt_multiplier(m: Fraction) -> str:
    """`4`, or `8 / 3` (spaced: a formula in the sheets' prose, where 8/3 would read as a word)."""
    return str(m.numerator) if m.denominator == 1 else f"{m.numerator} / {m.denominator}"


def fmt_fraction(x: Fraction | int) -> str:
    """4,266.67 for 12800/3 (two decimals, as the sheets print non-integers); 3,072 for a whole number."""
    x = Fraction(x)
    if x.denominator == 1:
        return f"{x.numerator:,}"
    return f"{float(x):,.2f}"


@dataclass(frozen=True)
class Part:
    """One lettered part of a problem: which of the sheet's sections answer it, an optional heading for a part
    that several sections answer, and what it asks (in our words)."""

    label: str
    answers: tuple[str, ...]
    heading: str = ""
    asks: str = ""


@dataclass(frozen=True)
class TransformerProblem:
    problem: str
    subject: str
    family: tuple[str, ...]
    family_heading: str
    long_context: int
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class AdamwProblem:
    problem: str
    model: str
    d_ff: DffRule
    activations: str  # a name in derive.accounting.training.activations.ACTIVATION_SETS
    budgets: tuple[str, ...]
    steps: int
    batch_size: int
    hardware: Hardware
    mfu: str
    time_unit: str
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Edition:
    name: str
    handout: str
    source: str
    arch: ArchOptions
    models: Mapping[str, ModelConfig]
    transformer: TransformerProblem
    adamw: AdamwProblem
    path: str = field(default="", compare=False)

    @property
    def is_default(self) -> bool:
        """The shipped default edition (a file of your own that calls itself 2025 is not)."""
        return Path(self.path) == (editions_dir() / f"{DEFAULT_EDITION}.yaml").resolve()

    def config(self, name: str, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
        """One of the edition's models (or, when it has none of that name, a preset), with --set overrides."""
        if name in self.models:
            return apply_overrides(self.models[name], overrides)
        return load_config(name, overrides)


def load_edition(spec: str | None = None) -> Edition:
    """An edition by name (`2026`) or path (`my-course.yaml`); None is the default edition (2025)."""
    spec = DEFAULT_EDITION if spec is None else str(spec)
    if spec.endswith((".yaml", ".yml")) or "/" in spec:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(spec, None, "no such edition file")
        return _load(str(path.resolve()))
    if spec not in edition_names():
        raise UsageError(f"--edition: unknown edition {spec!r} (known editions: {', '.join(edition_names())})")
    return _load(str((editions_dir() / f"{spec}.yaml").resolve()))


@lru_cache(maxsize=None)
def _load(path: str) -> Edition:
    data = _read_yaml(Path(path))
    if not isinstance(data, dict):
        raise ConfigError(path, None, "expected a mapping (edition, handout, models, transformer-accounting, ...)")
    r = _Reader(path, data)
    name = str(r.get("edition", (int, str)))
    arch_data = r.mapping("architecture")
    for key in arch_data:
        if key not in ARCH_KEYS:
            raise ConfigError(path, f"architecture.{key}", f"unknown key (known keys: {', '.join(ARCH_KEYS)})")
    arch_values = _validate_arch(arch_data, path)
    arch = ArchOptions(**{k: v for k, v in arch_values.items() if k in ArchOptions.__dataclass_fields__})
    rules = {k: _rule(r, f"d_ff_rules.{k}", v, k) for k, v in r.mapping("d_ff_rules").items()}
    models = {str(k): _model(r, str(k), v, rules, arch_data) for k, v in r.mapping("models").items()}
    edition = Edition(name, str(r.get("handout", str)), str(r.get("source", str, "")), arch, models,
                      _transformer(r, models), _adamw(r, name, arch), path)
    for model in (edition.transformer.subject, *edition.transformer.family, edition.adamw.model):
        where = "adamw-accounting.model" if model == edition.adamw.model else "transformer-accounting"
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
