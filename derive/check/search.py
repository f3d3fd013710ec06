"""Search the derivation for what a claimed number could be: by value (every candidate whose value the written
number rounds from, in every setting the document uses), and by words (the candidates its label names).

Settings are searched in order of preference: the shapes the line writes, its section's shape, the model's
default (batch_size 1, seq_len = context_length), the other shapes the document uses, the training run,
then the other models the document names. A byte count is also tried as parameters x 4 (fp32) and x 2 (bf16).
"""

from __future__ import annotations

from dataclasses import replace as dc_replace
from fractions import Fraction

from ..errors import DeriveError
from .candidates import (
    BYTES_PER,
    Candidate,
    Index,
    Setting,
    SettingIndex,
    accounting_for,
)
from .claims import Claim
from .context import Context
from .training import training_candidates
from .values import Quantity
from .vocabulary import Words, fallback_roles

MAX_SETTINGS = 8  # distinct input shapes per model a document can ask about (the rest use the nearest)
UNIT_FAMILIES = {"bytes": ("bytes",), "FLOPs": ("FLOPs",), "FLOP/s": ("FLOP/s",), "s": ("s",),
                 "ratio": ("ratio",), None: ("count", "bytes", "FLOPs", "FLOP/s", "s", "ratio")}


class Search:
    """Indexes built on demand, one per Setting, plus each model's training quantities."""

    def __init__(self, ctx: Context, doc=None) -> None:
        self.ctx = ctx
        self._acc_cache: dict = {}
        self._indexes: dict[Setting, SettingIndex | None] = {}
        self._training: dict[int, Index] = {}
        self._ratios: dict[int, Index] = {}
        self._targets: dict[tuple, list[Candidate]] = {}
        self._matches: dict[tuple, list[Candidate]] = {}
        self._last_settings: tuple | None = None
        # more quantities per model and shape (the conventions, training at scale, inference sheets' figures),
        # set by the checker for a document that speaks of them
        self.extra: list = []
        if doc is not None:
            from .sheet_candidates import sheet_quantities

            sheet_quantities(self, doc)
        self.shapes: dict[int, list[tuple[int, int]]] = {}
        for line, (batch, seq) in ctx.shape_at.items():
            k = ctx.model_at.get(line, 0)
            cfg = ctx.models[k].config
            shapes = self.shapes.setdefault(k, [(1, cfg.context_length)])
            shape = (batch or 1, seq or cfg.context_length)
            if shape not in shapes and len(shapes) < MAX_SETTINGS:
                shapes.append(shape)

    # ------------------------------------------------------------------------------ settings
    def setting_index(self, setting: Setting) -> SettingIndex | None:
        if setting not in self._indexes:
            try:
                acc = accounting_for(setting.config, setting.batch, setting.seq, self._acc_cache)
                self._indexes[setting] = SettingIndex(setting, acc)
            except (DeriveError, ValueError, ZeroDivisionError):
                self._indexes[setting] = None
        return self._indexes[setting]

    def training_index(self, model: int) -> Index:
        if model not in self._training:
            index = Index()
            cfg = self.ctx.models[model].config
            try:
                index.extend(training_candidates(Setting(cfg, self.ctx.givens.batch, cfg.context_length),
                                                 self.ctx.givens))
            except (DeriveError, ValueError, ZeroDivisionError):
                pass
            for b, s in self.shapes.get(model, [(1, cfg.context_length)])[:3]:
                for more in self.extra:
                    index.extend(more(Setting(cfg, b, s), self.ctx))
            self._training[model] = index
        return self._training[model]

    def ratio_index(self, model: int) -> Index:
        """The same quantity at two input shapes of one model (`33.13 times the total at 1,024`)."""
        if model not in self._ratios:
            index = Index()
            cfg = self.ctx.models[model].config
            shapes = self.shapes.get(model, [(1, cfg.context_length)])
            tables = []
            for b, s in shapes:
                si = self.setting_index(Setting(cfg, b, s))
                if si is not None:
                    tables.append((si, {(c.tree, c.keys, c.scope, c.per): c for c in si.index.all()
                                        if c.family in ("FLOPs", "count") and c.rank <= 2 and c.tree != "config"}))
            for si1, t1 in tables:
                for si2, t2 in tables:
                    if si1 is si2:
                        continue
                    s1, s2 = si1.setting, si2.setting
                    for key, c1 in t1.items():
                        c2 = t2.get(key)
                        if c2 is not None and c2.value and c1.value != c2.value:
                            index.add(Candidate(c1.value / c2.value, "ratio", "ratio", c1.roles,
                                                f"{c1.label} at seq_len {s1.seq:,} / at {s2.seq:,}", s1, c1.scope,
                                                c1.keys, rank=c1.rank))
                    for name, a, b in (("seq_len", s1.seq, s2.seq), ("batch_size", s1.batch, s2.batch),
                                       ("tokens", s1.seq * s1.batch, s2.seq * s2.batch)):
                        if a != b:
                            index.add(Candidate(Fraction(a, b), "ratio", "ratio", frozenset({name}),
                                                f"{name} {a:,} / {b:,}", s1, rank=1))
            self._ratios[model] = index
        return self._ratios[model]

    def model_of(self, claim: Claim) -> int:
        if claim.model:
            for k, m in enumerate(self.ctx.models):
                if m.config.name == claim.model:
                    return k
        return self.ctx.model_at.get(claim.line, 0)

    def settings(self, claim: Claim) -> list[Setting]:
        """The settings a claim may be about, most likely first."""
        key = (claim.line, claim.shape, claim.model)
        if self._last_settings is not None and self._last_settings[0] == key:
            return self._last_settings[1]
        result = self._settings(claim)
        self._last_settings = (key, result)
        return result

    def _settings(self, claim: Claim) -> list[Setting]:
        k = self.model_of(claim)
        cfg = self.ctx.models[k].config
        batch, seq = self.ctx.shape_at.get(claim.line, (None, None))
        out: list[tuple[int, int]] = []
        if claim.shape:
            out.append(claim.shape)
        out.append((batch or 1, seq or cfg.context_length))
        out.append((1, cfg.context_length))
        seen = self.shapes.setdefault(k, [])
        for shape in out[:2]:
            if shape not in seen and len(seen) < MAX_SETTINGS:
                seen.append(shape)
        out.extend(seen)
        shapes = list(dict.fromkeys(s for s in out if s[0] > 0 and s[1] > 0))
        settings = [Setting(cfg, b, s) for b, s in shapes]
        for j, m in enumerate(self.ctx.models):
            if j != k:
                settings.append(Setting(m.config, 1, m.config.context_length))
        return settings

    # ------------------------------------------------------------------------------ by value
    def matches(self, claim: Claim, limit: int = 60) -> list[Candidate]:
        """Candidates whose value the claim's written number covers, best settings first."""
        q = claim.value
        if q is None:
            return []
        lo, hi = _bounds(q)
        model = self.model_of(claim)
        settings = self.settings(claim)
        key = (lo, hi, q.unit, model, tuple((s.config.name, s.batch, s.seq) for s in settings))
        if key not in self._matches:
            if len(self._matches) > 20_000:
                self._matches.clear()
            self._matches[key] = self._find(q, lo, hi, model, settings, limit)
        return list(self._matches[key])

    def _find(self, q: Quantity, lo: Fraction, hi: Fraction, model: int, settings: list[Setting],
              limit: int) -> list[Candidate]:
        families = UNIT_FAMILIES.get(q.unit, UNIT_FAMILIES[None])
        out: list[Candidate] = []
        indexes: list[Index] = []
        for setting in settings:
            si = self.setting_index(setting)
            if si is not None:
                indexes.append(si.index)
        indexes.insert(min(2, len(indexes)), self.training_index(model))
        if q.unit in ("ratio", None):
            indexes.append(self.ratio_index(model))
        indexes.extend(self.training_index(j) for j in range(len(self.ctx.models)) if j != model)
        for index in indexes:
            for fam in families:
                out.extend(index.between(fam, lo, hi))
            if q.unit in ("bytes", None):
                for dtype, per in BYTES_PER.items():
                    for c in index.between("count", lo / per, hi / per):
                        if c.tree in ("params", "active_params", "buffers"):
                            out.append(dc_replace(c, value=c.value * per, family="bytes", tree="memory",
                                                  dtype=dtype, label=_memory_label(c, dtype), base=c,
                                                  rank=c.rank + (0 if c.roles == frozenset({"root"}) else 1)))
            if len(out) > limit:
                break
        return out

    # ------------------------------------------------------------------------------ by words
    def targets(self, claim: Claim, words: Words) -> list[Candidate]:
        """Candidates the words name (any value), in the claim's own settings and the training run."""
        roles = words.roles or (frozenset({"root"}) if words.total or words.trees else frozenset())
        if not roles:
            return []
        settings = self.settings(claim)
        model = self.model_of(claim)
        alternative = fallback_roles(words) if words.roles == roles else None
        key = (roles, alternative, model, tuple((s.batch, s.seq) for s in settings[:3]))
        if key not in self._targets:
            found = self._find_targets(roles, model, settings)
            if not found and alternative:  # `post_attention_layernorm` in a model without sandwich norms
                found = self._find_targets(alternative, model, settings)
            self._targets[key] = found
        return self._targets[key]

    def _find_targets(self, roles: frozenset[str], model: int, settings: list[Setting]) -> list[Candidate]:
        out: list[Candidate] = []
        for setting in settings[:3]:
            if setting.config is not self.ctx.models[model].config:
                continue
            si = self.setting_index(setting)
            if si is None:
                continue
            out.extend(c for c in si.index.all() if c.named_by(roles) and c.family != "ratio"
                       and c.tree not in ("config",))
        out.extend(c for c in self.training_index(model).all() if c.named_by(roles) and c.family != "ratio")
        return out


def _bounds(q: Quantity) -> tuple[Fraction, Fraction]:
    lo, hi = q.bounds()
    return (min(lo, hi), max(lo, hi))


def _memory_label(c: Candidate, dtype: str) -> str:
    """`memory_fp32` for the weights (what derive's sheets call it), `lm_head in bf16` for a part."""
    return f"memory_{dtype}" if c.roles == {"root"} and c.tree == "params" else f"{c.label} in {dtype}"


def memory_of(c: Candidate, dtype: str) -> Candidate:
    per = BYTES_PER[dtype]
    return dc_replace(c, value=c.value * per, family="bytes", tree="memory", dtype=dtype,
                      label=_memory_label(c, dtype), base=c)
