"""Check a hand derivation: find its claims, explain each by its value and its words, carry mistakes into
totals, and build the report.

    >>> from derive.check.checker import check_text
    >>> report = check_text(open("answer.md").read(), "answer.md", "gpt2-xl")   # doctest: +SKIP
    >>> report.exit_code                                                         # doctest: +SKIP

A wrong value is first explained by earlier wrong lines inside its quantity (the same error carried into a
total, times num_layers) or by their wrong values written into its arithmetic, then by a known pitfall
(derive.check.pitfalls), then by the quantity it really is; its effect on the model's total is stated.
"""

from __future__ import annotations

import math
from dataclasses import replace as dc_replace
from fractions import Fraction

from ..model.config import ModelConfig, load_config
from .candidates import BYTES_PER, Candidate, Setting
from .carry import COUNTED_TREES, Carry, Wrong, _base
from .claims import Claim
from .context import Context, read_context
from .document import Document, parse_document
from .explain import (
    ClaimCheck,
    Pitfalls,
    arithmetic,
    choose_target,
    fits,
    gb_vs_gib,
    relation_text,
    same_quantity,
    titled,
    wanted_roles,
    words_of,
)
from .explain_text import show
from .finder import iter_claims
from .formula import symbol_values
from .latex import Converter, is_latex, markdown_math, read_macros
from .pitfalls import GB_VS_GIB, explain
from .report import Report, line_checks
from .search import Search
from .symbolic import formula_match, formula_note, rule_match
from .tex import tex_to_lines
from .values import NotUnderstood, Quantity
from .vocabulary import read_words

DERIVED_SYMBOLS = ("d_k", "d_head", "head_dim", "dk", "d_kv")
MAX_CLAIMS = 20_000  # claims explained in one document; more are counted and listed as not checked


class Checker(Carry):
    """Checks one document (its lines already plain text) against its models."""

    def __init__(self, doc: Document, ctx: Context, file: str) -> None:
        self.doc, self.ctx, self.file = doc, ctx, file
        self.search = Search(ctx, doc)
        self.latest: dict[tuple, Wrong] = {}
        self.by_claimed: dict[int, Wrong] = {}
        self._scopes: dict = {}
        self._done: dict[tuple, ClaimCheck] = {}
        self.generation = 0
        self.xl_d_ff = load_config("gpt2-xl").d_ff

    # ------------------------------------------------------------------------------ scopes
    def scope_for(self, line: int) -> dict:
        model = self.ctx.model_at.get(line, 0)
        batch, seq = self.ctx.shape_at.get(line, (None, None))
        cfg = self.ctx.models[model].config
        key = (model, batch or 1, seq or cfg.context_length)
        if key not in self._scopes:
            # the author's own sizes (a listing or assumption that differs from --config) for their arithmetic
            stated = {k: v for k, v in self.ctx.models[model].stated.items()
                      if isinstance(v, int) and not isinstance(v, bool)}
            values = {**cfg.symbol_values(), **stated, "batch_size": key[1], "seq_len": key[2]}
            params = None
            si = self.search.setting_index(Setting(cfg, key[1], key[2]))
            if si is not None:
                params = si.acc.total_params
            self._scopes[key] = symbol_values(values, params, None)
        return self._scopes[key]

    # ------------------------------------------------------------------------------ the run
    def run(self) -> Report:
        lines: list = []
        group: list[ClaimCheck] = []
        explained, unchecked, first = 0, 0, None
        for claim in iter_claims(self.doc, self.ctx, self.scope_for):
            if explained >= MAX_CLAIMS:  # counted, not explained (nor kept: memory stays bounded)
                unchecked += 1
                first = first or claim.line
                continue
            if group and claim.line != group[0].claim.line:
                lines.extend(line_checks(group))
                group = []
            group.append(self.check(claim))
            explained += 1
        lines.extend(line_checks(group))
        report = Report(self.file, self.ctx.main.config, lines, notes=list(self.ctx.notes))
        report.unchecked = unchecked
        if unchecked:
            report.notes.insert(0, f"{unchecked:,} more claim(s) from line {first} on were found but not checked: "
                                   f"derive check explains at most {MAX_CLAIMS:,} claims per document.")
        report.sources = [m.source for m in self.ctx.models[:1]]
        return report

    def check(self, claim: Claim) -> ClaimCheck:
        """The verdict on one claim (remembered for a claim repeated word for word, unless it is wrong:
        a wrong claim's cause depends on the lines before it)."""
        key = (claim.text, claim.label, claim.qualifier, claim.kind, claim.segments, claim.context, claim.parent,
               claim.model, claim.shape, claim.names, self.ctx.model_at.get(claim.line, 0),
               self.ctx.shape_at.get(claim.line))
        key += (self.generation,)  # a wrong claim's cause depends on the wrong lines before it
        done = self._done.get(key)
        if done is not None and done.cause is None:
            chk = dc_replace(done, claim=claim, notes=list(done.notes))
            if chk.verdict != "ok" and chk.diff is not None and chk.candidate is not None:
                self._remember(chk, chk.candidate, chk.diff, None)  # this line is now the latest restatement
            return chk
        chk = self._check(claim)
        if len(self._done) < 20_000:
            self._done[key] = chk
        return chk

    def _check(self, claim: Claim) -> ClaimCheck:
        chk = ClaimCheck(claim)
        hard = next((v for v in claim.quantities if isinstance(v, NotUnderstood) and v.hard), None)
        if hard is not None:  # a step derive will not evaluate: the claim is not checked
            chk.verdict = "not understood"
            chk.notes.append(f"Not checked: {hard.reason}.")
            return chk
        arithmetic(chk)
        if chk.verdict == "arithmetic error" and (ruled := rule_match(claim, self.ctx, self.search.matches)):
            return self._ok(ClaimCheck(claim), ruled[0], note=ruled[1])  # formula at the document's rule
        q = claim.value
        if q is None:
            chk.verdict = "not understood" if chk.verdict == "ok" else chk.verdict
            chk.notes.append(f"Not checked: {claim.note}." if claim.note else "Not a value derive can compute.")
            return chk
        words, strong = words_of(claim)
        section = read_words(*claim.context[-1:])
        matches = self.search.matches(claim)
        last = next((v for v in reversed(claim.quantities) if isinstance(v, Quantity)), None)
        if not matches and last is not None and last is not q and claim.kind == "chain" and not claim.formula:
            # `= 568,819,274 / 86,400 = 6,583.56`: the written (rounded) result, when the exact
            # arithmetic before it carries an earlier rounding
            claim.value = last
            matches = self.search.matches(claim)
            if matches:
                q = last
            else:
                claim.value = q
        if q.unit is None and not ("memory" in words.trees | section.trees or words.dtype):
            # a bare number is bytes only when its words say memory (or a dtype)
            matches = [c for c in matches if not (c.tree == "memory" and c.dtype)]
        wanted = wanted_roles(words)
        symbol = (claim.symbol or "").lower()
        if symbol in DERIVED_SYMBOLS:
            wanted, strong = frozenset({"d_k" if symbol != "d_kv" else "d_kv"}), True
        named = [c for c in matches if (wanted and self._named(c, words, wanted, symbol) or titled(c, claim))
                 and self._here(c, claim)]
        if not named and "(" in claim.label:  # `feed-forward (active SwiGLU experts)`: the remark may name it
            full = read_words(claim.label)
            full_wanted = wanted_roles(full)
            named = [c for c in matches if full_wanted and full.roles and same_quantity(c, full, full_wanted)
                     and self._here(c, claim)]
        if named:
            return self._ok(chk, self._best(named, words, section), named)
        same = formula_match(claim, matches, self.scope_for) if chk.verdict == "ok" else None
        if same is not None:  # a formula that is a quantity's closed form says what it is more than its label
            return self._ok(chk, same, matches)
        if strong and not words.roles and not words.total and any(_compatible(c, words) for c in matches):
            strong = False  # `FLOPs = 400000 * ...`: a tree's word alone ranks; the value says what it is
        if strong or not matches:
            targets = [t for t in self._targets(claim, words, wanted, symbol) if self._here(t, claim)]
            target = choose_target(targets, claim, words, section, self._dtype(words))
            if target is not None and fits(q, target.value, target.family):
                return self._ok(chk, target)
            if target is not None and (strong or not matches):
                return self._wrong(chk, target, matches)
        if matches:
            return self._ok(chk, self._best(matches, words, section), matches)
        if chk.verdict == "ok":
            chk.verdict = "not understood"
        chk.notes.append(self._nearest(claim))
        return chk

    # ------------------------------------------------------------------------------ pieces
    def _here(self, c: Candidate, claim: Claim) -> bool:
        """A named model quantity must be at the shape the line or its section states, if it states one."""
        if c.tree not in COUNTED_TREES or c.setting is None:
            return True
        batch, seq = self.ctx.shape_at.get(claim.line, (None, None))
        if claim.shape is None and batch is None and seq is None:
            return True
        primary = self.search.settings(claim)[0]
        return c.setting.config is not primary.config or (c.setting.batch, c.setting.seq) == (
            primary.batch, primary.seq) or c.tree in ("params", "buffers", "active_params")

    def _named(self, c: Candidate, words, wanted, symbol: str) -> bool:
        if symbol in DERIVED_SYMBOLS:
            return c.tree == "config" and c.roles == wanted
        return same_quantity(c, words, wanted)

    def _targets(self, claim: Claim, words, wanted, symbol: str) -> list[Candidate]:
        if symbol in DERIVED_SYMBOLS:
            setting = self.search.settings(claim)[0]
            si = self.search.setting_index(setting)
            return [c for c in si.index.all() if c.tree == "config" and c.roles == wanted] if si else []
        if not wanted:
            return []
        return [t for t in self.search.targets(claim, words)
                if not (words.scope == "one" and t.scope == "all" or words.scope == "all" and t.scope == "one")
                and (words.per or None) == t.per
                and not (t.tree in ("backward", "activations") and t.tree not in words.trees
                         and t.tree not in wanted)]

    def _dtype(self, words) -> str:
        return words.dtype if words.dtype in BYTES_PER else ("bf16" if self.ctx.half and not words.dtype else "fp32")

    @staticmethod
    def _best(cands: list[Candidate], words, section) -> Candidate:
        trees = words.trees or section.trees

        def key(item):
            i, c = item
            fam_ok = 0 if not trees or any(c.family in _families(t) for t in trees) else 1
            named = 2  # the words rank the candidates: what they name, then what overlaps it
            if words.roles and c.roles <= words.roles:
                named = 0
            elif words.roles & c.roles:
                named = 1
            return (named, fam_ok, c.rank, i)
        return min(enumerate(cands), key=key)[1]

    def _ok(self, chk: ClaimCheck, c: Candidate, others: list[Candidate] = (), note: str = "") -> ClaimCheck:
        if chk.claim.formula and chk.verdict == "ok":
            # of the quantities with this value, the one whose closed form the formula is (named as c first)
            scope, same = self.scope_for(chk.claim.line), [o for o in others if o is not c and o.value == c.value]
            for other in [c] + sorted(same, key=lambda o: o.roles != c.roles)[:8]:  # A/(B+C) may equal B/(A+C)
                if formula_note(chk.claim, other, scope)[1]:
                    c = other
                    break
        chk.candidate, chk.target, chk.expected, chk.family = c, c.describe(), c.value, c.family
        if c.tree == "buffers" and chk.verdict == "ok":
            chk.notes.append("A non-trainable buffer: right, and not part of the parameter count.")
        if note:  # the figure is the config's, the formula the closed form under the document's d_ff rule
            chk.notes.append(note)
        elif chk.claim.formula and chk.verdict == "ok":
            note, equal = formula_note(chk.claim, c, self.scope_for(chk.claim.line))
            chk.notes += [note] if note else []
            if not equal:
                chk.verdict, chk.own = "wrong", True
        return chk

    def _wrong(self, chk: ClaimCheck, t: Candidate, matches: list[Candidate]) -> ClaimCheck:
        q = chk.claim.value
        assert q is not None
        chk.candidate, chk.target, chk.expected, chk.family = t, t.describe(), t.value, t.family
        if chk.verdict == "ok":
            chk.verdict = "wrong"
        diff = q.value - t.value if q.exact and q.value.denominator == 1 and t.value.denominator == 1 else None
        chk.diff = diff
        lead = f"Expected {show(t.value, t.family, q)}"
        cause = self._propagated(t, q) or self._substituted(chk.claim, t)
        if cause is not None:
            chk.cause = cause
            chk.notes.append(f"{lead}: wrong only because of line {cause}.")
        else:
            chk.own = True
            lead += f" (off by {'+' if diff > 0 else '-'}{show(abs(diff), t.family)})" if diff else ""
            probe = Pitfalls(t, self._values(t), self._count_in, self._leaf, self._alt)
            pit = probe.first(q) if t.tree not in ("config",) else None
            gb = gb_vs_gib(q, t)
            # an unrelated quantity with the same value is a hint only when the number is exact
            correct = [c for c in matches if c is not t and (q.exact or c.roles & t.roles)]
            if pit is not None and pit.key == chk.pitfall:
                chk.notes.append(f"{lead}.")
            elif pit is not None:
                chk.pitfall = chk.pitfall or pit.key
                chk.notes.append(f"{lead}: {explain(pit, probe.values)}")
            elif gb:
                chk.pitfall = chk.pitfall or GB_VS_GIB.key
                chk.notes.append(f"{lead}: {gb}")
            elif diff and (part := self._part(t, diff)):
                chk.notes.append(f"{lead}: {part}.")
            elif correct and (rel := relation_text(t, correct[0])):
                chk.notes.append(f"{lead}: {rel}.")
            else:
                chk.notes.append(f"{lead}.")
            effect = self._effect(t, diff)
            if effect:
                chk.notes[-1] = chk.notes[-1].rstrip(".") + f"; {effect}."
        if diff is not None:
            self._remember(chk, t, diff, cause)
        return chk

    def _part(self, t: Candidate, diff: Fraction) -> str | None:
        """`this leaves out final_rms_norm (1,600)` / `this counts lm_head (80,411,200) once more`: the error is
        exactly one part of the quantity (or a group of its parts)."""
        base = _base(t)
        si = self.search.setting_index(base.setting) if base.setting is not None else None
        if si is None or base.tree not in COUNTED_TREES:
            return None
        scale = BYTES_PER[t.dtype] if t.dtype else 1
        size = abs(diff) / scale
        nodes = self._nodes(base)
        for c in sorted(si.index.between(base.family, size, size, limit=50), key=lambda c: c.rank):
            if c.tree != base.tree or c.per is not None or c.keys == base.keys or c.scope == "all":
                continue
            if len(c.keys) > 1 and any(k in nodes and nodes[k].value == 0 for k in c.keys):
                continue  # `token_embedding + lm_head` FLOPs is lm_head: the lookup costs nothing
            # the part must count exactly once in the quantity (a total leaves out the final norm, not one of
            # the 48 blocks' norms)
            if any(self._count_in(base, k) != (1 if base.scope != "all" else base.times) for k in c.keys):
                continue
            what = f"{c.describe()} ({show(c.value * scale, t.family)})"
            return f"this leaves out {what}" if diff < 0 else f"this counts {what} once more"
        return None

    def _values(self, t: Candidate) -> dict:
        base = _base(t)
        setting = base.setting or Setting(self.ctx.main.config, 1, self.ctx.main.config.context_length)
        cfg = setting.config
        values = {**cfg.values(), "batch_size": setting.batch, "seq_len": setting.seq, "xl_d_ff": self.xl_d_ff}
        si = self.search.setting_index(setting)
        rope = 0
        if si is not None:
            try:
                rope = si.roots["buffers"].find("buffers.block.rope").value
            except KeyError:
                rope = 0
        values["rope_per_block"] = rope
        stated = {k: v for k, v in self.ctx.main.stated.items() if getattr(cfg, k, None) not in (None, v)}
        values["stated"] = stated
        values["stated_text"] = ", ".join(f"{k} = {v:,}" for k, v in stated.items())
        values["config_text"] = ", ".join(
            f"{getattr(cfg, k):,}" + (f" ({cfg.d_ff_source})" if k == "d_ff" and cfg.d_ff_source != "given" else "")
            for k in stated)
        return values

    def _nearest(self, claim: Claim) -> str:
        q = claim.value
        if q is None or q.value <= 0:
            return "No derived quantity has this value."
        found = []
        for setting in self.search.settings(claim)[:2]:
            si = self.search.setting_index(setting)
            if si is None:
                continue
            for fam in ((q.unit,) if q.unit else ("count", "FLOPs", "bytes")):
                found.extend(si.index.nearest(fam, q.value))
        found = [c for c in found if c.value > 0]
        found.sort(key=lambda c: abs(math.log(float(c.value)) - math.log(float(q.value))))
        shown = list(dict.fromkeys(f"{c.describe()} = {show(c.value, c.family)}" for c in found))
        near = "; ".join(shown[:2])
        return f"No derived quantity has this value{' (nearest: ' + near + ')' if near else ''}."


def _compatible(c: Candidate, words) -> bool:
    if c.tree in ("backward", "activations") and c.tree not in words.trees:
        return False
    return not words.trees or any(c.family in _families(t) for t in words.trees)


def _families(tree: str) -> tuple[str, ...]:
    from .explain import TREE_FAMILIES

    return TREE_FAMILIES.get(tree, ())


_FULL_WIDTH = str.maketrans("：，；（）＝＋－＊／％．", ":,;()=+-*/%.")  # punctuation of CJK text


def plain_lines(text: str, file: str) -> str:
    """The document as plain lines: LaTeX read, Markdown math read, one output line per input line."""
    text = text.translate(_FULL_WIDTH)
    if is_latex(text, file):
        return "\n".join(tex_to_lines(text))
    conv = Converter(read_macros(text) if "\\newcommand" in text or "\\providecommand" in text else None)
    return "\n".join(markdown_math(line, conv) for line in text.splitlines())


def check_text(text: str, file: str = "<text>", config: str | ModelConfig | None = None,
               overrides: dict | None = None) -> Report:
    """Check a document; `config` is a preset/YAML spec, a ModelConfig, or None (the document's own)."""
    doc = parse_document(plain_lines(text, file))
    if isinstance(config, str):
        config = load_config(config, overrides)
    if config is None and overrides:
        from ..errors import ConfigError
        from ..model.config import ALL_KEYS

        for key in overrides:
            if key not in ALL_KEYS:
                raise ConfigError("--set", key, f"unknown key (known keys: {', '.join(ALL_KEYS)})")
    ctx = read_context(doc, file, config, overrides if config is None else None)
    return Checker(doc, ctx, file).run()
