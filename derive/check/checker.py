"""Check a hand derivation line by line: arithmetic, meaning (against the derived tree), pitfalls, propagation.

    >>> from derive.check.checker import check_text
    >>> report = check_text(open("answer.md").read(), "answer.md", "gpt2-xl")   # doctest: +SKIP
    >>> report.exit_code                                                         # doctest: +SKIP

A claim line is matched to a node of the derivation by its name (Step.title, total_title, aliases),
disambiguated by its enclosing headings and by the section it sits in (parameters, MoE active parameters,
forward FLOPs); a line in bytes is always weight memory. Lines in a training section (activations, AdamW
state, backward/step FLOPs, time) are "not understood": their arithmetic is checked, their meaning is not.
A wrong value is first explained by an earlier wrong line (the same error carried into a total, times
num_layers), then by a known pitfall (derive.check.pitfalls), else reported as plainly wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..accounting.account import DTYPE_BYTES, Accounting, account
from ..errors import UsageError
from ..model.architectures import Derivation
from ..model.config import ARCH_KEYS, INT_KEYS, ModelConfig, config_from_mapping, load_config
from ..model.steps import Evaluated
from .document import Document, Line, NotUnderstood, check_chain, evaluate, parse_document
from .matching import SETTINGS, TREES, document_config, document_ints, listing_value, match, norm, sections
from .pitfalls import GB_VS_GIB, PITFALLS, Pitfall, explain
from .report import LineCheck, Report
from .values import _BYTE_UNITS, Quantity, agree

UNITS = {"forward": "FLOPs", "memory": "bytes"}
TRAINING_NOTE = ("A training-accounting line (activations, gradients, AdamW state, backward or step FLOPs, "
                 "training time): derive check derives parameters, weight memory and forward FLOPs only, "
                 "so only the arithmetic was checked.")
# Symbols a document may define (`d_k = d_model // num_heads = 64`) and what they must equal.
DERIVED_SYMBOLS = {name: (lambda c: Fraction(c.d_model, c.num_heads)) for name in ("d_k", "d_head", "head_dim")}


@dataclass
class _Wrong:
    number: int
    tree: str
    keys: tuple[str, ...]
    diff: int
    root: int
    setting: tuple[int, int]
    claimed: int = 0
    expected: int = 0


def _under(node: Evaluated, key: str, mult: int = 1) -> int:
    """How many times node `key` counts inside `node` (repeats multiply)."""
    if node.key == key:
        return mult
    inner = mult * (node.repeat_value or 1)
    return sum(_under(c, key, inner) for c in node.children)


class _Probe:
    """A line's target inside one Accounting; implements derive.check.pitfalls.Probe."""

    def __init__(self, checker: "Checker", acc: Accounting, tree: str, keys: tuple[str, ...], scale: int):
        self.checker, self.acc, self.tree, self.keys, self.scale = checker, acc, tree, keys, scale
        self.base = tree if tree in ("forward", "buffers", "active_params") else "params"
        self.prefix = "params" if self.base == "active_params" else self.base  # active keys are params.*
        self.values = {**acc.config.values(), "batch_size": acc.batch_size, "seq_len": acc.seq_len,
                       "rope_per_block": self.leaf_in(acc.buffers, "buffers.block.rope"),
                       "xl_d_ff": checker.xl_d_ff}
        self.expected = self.value_in(acc)

    @staticmethod
    def leaf_in(root: Evaluated, key: str) -> int:
        try:
            return root.find(key).value
        except KeyError:  # an architecture without this part (no RoPE tables, say)
            return 0

    def nodes(self, acc: Accounting) -> list[Evaluated]:
        root = getattr(acc, self.base)
        return [root] if self.tree == "memory" else [root.find(k) for k in self.keys]

    def value_in(self, acc: Accounting) -> int:
        return sum(n.value for n in self.nodes(acc)) * self.scale

    def under(self, leaf: str) -> int:
        key = leaf if "." in leaf and leaf.split(".")[0] in TREES else f"{self.prefix}.{leaf}"
        return sum(_under(n, key) for n in self.nodes(self.acc)) * self.scale

    def leaf(self, leaf: str) -> int:
        try:
            return getattr(self.acc, self.base).find(f"{self.prefix}.{leaf}").value
        except KeyError:
            return 0

    def alt(self, **changes: int) -> int | None:
        batch = changes.pop("batch_size", self.acc.batch_size)
        try:
            acc = self.checker.accounting(self.acc.config.replace(**changes), batch, self.acc.seq_len)
            return self.value_in(acc)
        except (ValueError, UsageError, ZeroDivisionError):
            return None


def _label(deriv: Derivation, tree: str, key: str) -> str:
    step = getattr(deriv, tree).find(key)
    return step.total_title or step.title


def _fmt(value: int, unit: str | None) -> str:
    return f"{value:,}" + (f" {unit}" if unit else "")


def _gb_text(exact: Quantity, written: Quantity, alt: str) -> str:
    """`8,533,396,224 bytes is 7.95 GiB = 8.53 GB, not 7.95 GB: ...`."""
    digits = max(written.approx_digits or 0, 0)
    value = exact.value
    fits = f"{float(value / _BYTE_UNITS[alt]):.{digits}f} {alt}"
    other = f"{float(value / _BYTE_UNITS[written.unit_written]):.{digits}f} {written.unit_written}"
    return explain(GB_VS_GIB, {"value": f"{int(value):,} bytes" if value.denominator == 1 else str(exact),
                               "fits": fits, "other": other, "written": str(written)})


class Checker:
    """Checks one parsed document against one config."""

    def __init__(self, doc: Document, config: ModelConfig):
        self.doc, self.config = doc, config
        self.xl_d_ff = load_config("gpt2-xl").d_ff
        self._accounts: dict = {}
        self.deriv = self.accounting(config, 1, config.context_length).derivation
        prose = " ".join(l.text for l in doc.lines if not l.is_claim).lower()
        half = re.search(r"bf16|bfloat16|fp16|float16|half[- ]precision", prose)
        self.default_dtype = "bf16" if half else "fp32"

    def accounting(self, config: ModelConfig, batch: int, seq: int) -> Accounting:
        if seq > config.context_length:
            config = config.replace(context_length=seq)
        key = (config, batch, seq)
        if key not in self._accounts:
            self._accounts[key] = account(config, batch, seq)
        return self._accounts[key]

    def _claims(self) -> list[Line]:
        """Claim lines, plus `token_embedding: 80,411,200` lines the parser took for a config listing."""
        out = []
        for line in self.doc.lines:
            listing = line.name in SETTINGS if line.is_config else listing_value(line) is not None
            if (line.is_claim or line.is_config) and not listing:
                out.append(line)
        return out

    def run(self, file: str) -> Report:
        report = Report(file, self.config)
        settings = sections(self.doc)
        symbols: dict = {**self.config.symbol_values(), **document_ints(document_config(self.doc))}
        fixed = set(symbols)
        wrong: list[_Wrong] = []
        for line in self._claims():
            mode, batch, seq = settings[line.number]
            setting = (batch or 1, seq or self.config.context_length)
            scope = {**symbols, "batch_size": setting[0], "seq_len": setting[1], "sequence_length": setting[1]}
            defined = line.defines if line.defines not in fixed else None
            if defined:
                scope.pop(defined, None)
            self._scope = scope
            result = check_chain(line, scope)
            exact = [q for q in result.quantities if isinstance(q, Quantity) and q.exact]
            claimed = exact[-1] if exact else result.final
            if defined and claimed is not None and claimed.exact and claimed.unit is None:
                symbols[defined] = claimed.value
            check = LineCheck(line.number, line.text.strip(), line.name, claimed=str(claimed) if claimed else None)
            if claimed is not None and claimed.exact and claimed.value.denominator == 1:
                check.claimed_value = int(claimed.value)
            notes: list[str] = []
            if not result.ok:
                self._arithmetic(result, check, notes)
            if mode == "training" and not defined:
                if check.verdict == "ok" and claimed is not None:
                    check.verdict = "not understood"
                notes.append(TRAINING_NOTE)
            else:
                self._meaning(line, mode, setting, defined, claimed, check, notes, wrong)
            check.explanation = " ".join(notes)
            report.lines.append(check)
        return report

    def _arithmetic(self, result, check: LineCheck, notes: list[str]) -> None:
        i, j, a, b = result.first_mismatch
        pair = next(p for p in result.pairs if not p.ok)
        check.verdict, check.own = "arithmetic error", True
        if pair.alternate_unit:
            exact, written = (a, b) if b.unit_written in _BYTE_UNITS and not b.exact else (b, a)
            check.pitfall = GB_VS_GIB.key
            notes.append(_gb_text(exact, written, pair.alternate_unit))
        else:
            segs = result.line.segments
            notes.append(f"Arithmetic: {segs[i].strip()} is {a}, not {b}.")

    def _target(self, line: Line, mode, claimed: Quantity | None) -> tuple[str, tuple[str, ...], str | None] | None:
        name, context = line.name, line.context
        text = line.text.lower()
        unit = claimed.unit if claimed else None
        if unit == "bytes":  # bytes are memory whatever the line or its heading is called
            words = f"{norm(name)} {text}" if name else text
            dtype = next((d for d in DTYPE_BYTES if d in words), self.default_dtype)
            return "memory", ("params",), dtype
        if name is None and context:
            name, context = context[-1], context[:-1]
        if name is None:
            return None
        name = norm(name)
        if "@" in text or unit == "FLOPs" or "flop" in name:
            trees = ["forward"]
        elif re.search(r"memor|bytes", name):
            dtype = next((d for d in DTYPE_BYTES if d in name), self.default_dtype)
            return "memory", ("params",), dtype
        else:
            active = ["active_params"] if self.deriv.active_params is not None else ["params"]
            trees = {"params": ["params", "buffers"], "flops": ["forward"], "active": active}.get(
                mode, ["params", "buffers", "forward"])
        for fuzzy in (False, True):
            for tree in trees:
                keys = match(self.deriv, tree, name, context, fuzzy)
                if keys:
                    return tree, keys, None
        return None

    def _meaning(self, line, mode, setting, defined, claimed, check, notes, wrong: list[_Wrong]) -> None:
        if claimed is None:
            return
        if defined:
            if defined in DERIVED_SYMBOLS:
                want = DERIVED_SYMBOLS[defined](self.config)
                check.target, check.expected = defined, int(want) if want.denominator == 1 else None
                if claimed.value != want:
                    check.verdict, check.own = "wrong", True
                    notes.append(f"{defined} is d_model / num_heads = {float(want):g}.")
            else:
                notes.append(f"Defines {defined}; only its arithmetic is checked.")
            return
        found = self._target(line, mode, claimed)
        if found is None:
            if check.verdict == "ok":
                check.verdict = "not understood"
            label = line.name or (line.context[-1] if line.context else None)
            what = f"No derived quantity is named '{label}'" if label else "The line has no name to match"
            notes.append(f"{what}; only the arithmetic was checked.")
            return
        tree, keys, dtype = found
        acc = self.accounting(self.config, *setting)
        probe = _Probe(self, acc, tree, keys, DTYPE_BYTES[dtype] if dtype else 1)
        unit = UNITS.get(tree)
        check.target = f"memory_{dtype}" if dtype else " + ".join(_label(acc.derivation, tree, k) for k in keys)
        check.expected, check.unit = probe.expected, unit

        def fits(value: int) -> bool:
            return agree(claimed, Quantity(Fraction(value), unit)) is not None

        if fits(probe.expected):
            if tree == "buffers" and check.verdict == "ok":
                notes.append("A non-trainable buffer: right, and not part of the parameter count.")
            return
        diff = int(claimed.value) - probe.expected if claimed.exact and claimed.value.denominator == 1 else None
        if check.verdict == "ok":
            check.verdict = "wrong"
        cause = self._propagated(probe, tree, setting, wrong, fits)
        if cause is None:
            cause = self._substituted(line, wrong, probe.expected) if check.verdict == "wrong" else None
        if cause is not None:
            check.cause = cause
            notes.append(f"Expected {_fmt(probe.expected, unit)}: wrong only because of line {cause}.")
        else:
            check.own = True
            pit = self._pitfall(probe, fits)
            lead = f"Expected {_fmt(probe.expected, unit)}" + (f" (off by {diff:+,})" if diff is not None else "")
            if pit is not None:
                check.pitfall = check.pitfall or pit.key
                notes.append(f"{lead}: {explain(pit, probe.values)}")
            else:
                notes.append(f"{lead}.")
        if diff is not None:
            root = cause if cause is not None else line.number
            wrong.append(_Wrong(line.number, tree, keys, diff, root, setting, int(claimed.value), probe.expected))

    def _propagated(self, probe: _Probe, tree: str, setting, wrong: list[_Wrong], fits) -> int | None:
        """The first cause when earlier wrong lines inside this quantity explain its whole error."""
        base = probe.base
        inside = [(w, probe.under(w.keys[0])) for w in wrong if w.setting == setting and w.tree == base]
        inside = [(w, n) for w, n in inside if n]
        for w, n in inside:
            if fits(probe.expected + w.diff * n):
                return w.root
        latest = {w.keys: (w, n) for w, n in inside}  # a later restatement replaces an earlier one
        acc = probe.acc
        outer = [(w, n) for w, n in latest.values()
                 if not any(o is not w and _under(getattr(acc, base).find(o.keys[0]), w.keys[0])
                            for o, _ in latest.values())]
        if len(outer) > 1 and fits(probe.expected + sum(w.diff * n for w, n in outer)):
            return min(w.root for w, _ in outer)
        return None

    def _substituted(self, line: Line, wrong: list[_Wrong], expected: int) -> int | None:
        """The first cause when putting earlier lines' right values in place of their wrong ones fixes this line."""
        for seg in line.segments:
            text, used = seg, []
            for w in wrong:
                pattern = re.compile(rf"(?<![\d,.])(?:{w.claimed:,}|{w.claimed})(?![\d,]|\.\d)")
                if pattern.search(text) and not pattern.fullmatch(seg.strip()):
                    text, _ = pattern.subn(str(w.expected), text)
                    used.append(w.root)
            if not used:
                continue
            try:
                q = evaluate(text, self._scope)
            except NotUnderstood:
                continue
            if q.value == expected:
                return min(used)
        return None

    def _pitfall(self, probe: _Probe, fits) -> Pitfall | None:
        for pit in PITFALLS.values():
            if any(fits(v) for v in pit.candidates(probe)):
                return pit
        return None


def config_from_document(doc: Document, file: str) -> ModelConfig:
    """The config the document lists (sizes and architecture options), validated like a YAML config."""
    listed = document_config(doc)
    missing = [k for k in INT_KEYS if k not in listed]
    if missing:
        raise UsageError(f"{file}: no --config given and the document does not list {', '.join(missing)}")
    data = {k: listed[k] for k in (*INT_KEYS, *ARCH_KEYS) if k in listed}
    return config_from_mapping(data, file, "document")


def check_text(text: str, file: str = "<text>", config: str | ModelConfig | None = None) -> Report:
    """Parse and check a document; `config` is a preset/YAML spec, a ModelConfig, or None (read the listing)."""
    doc = parse_document(text)
    if config is None:
        cfg = config_from_document(doc, file)
    elif isinstance(config, ModelConfig):
        cfg = config
    else:
        cfg = load_config(config)
    return Checker(doc, cfg).run(file)
