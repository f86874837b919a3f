"""The divergences found so far, by name: recognising them, and the regression examples that pin them.

Every real divergence the campaigns found is listed in :data:`FINDINGS`
(and explained in ``differential/FINDINGS.md``), with the instructions that
trigger it. Each has a regression module in ``differential/regressions/``:
WebAssembly text whose ``;; assert`` comments give calls and the result the
WebAssembly specification requires, so the test suite checks both that
wasmtime is right and whether the reference still diverges.

While a finding is open, a campaign that hits it again must not fail CI,
and must not hide anything else either: :func:`known_finding` accepts a
divergence as known only when the module uses one of the finding's
instructions (:func:`known_script`: the probe script has one of its
commands) and every difference is of a kind the finding can cause.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sysinspect_wasm.result import Value

from .campaign import Finding

REGRESSIONS = Path(__file__).resolve().parent.parent / "regressions"
"""The folder of regression modules (differential/regressions)."""

VALUE_ASPECTS = frozenset({"result", "trap", "global", "memory", "instantiate"})
"""What a wrong instruction result can change: the value, a trap, and the state it flows into."""


@dataclass(frozen=True)
class KnownFinding:
    """A divergence found by a campaign, its verdict, and what triggers it."""

    id: str
    title: str
    wrong: str
    status: str
    regression: str
    instructions: tuple[str, ...] = ()
    aspects: frozenset[str] = VALUE_ASPECTS
    open: bool = False
    script: str = ""
    """For filesystem findings: a regular expression matching a probe command line that triggers it."""


_ROUNDING = tuple(f"{shape}.{op}" for shape in ("f32", "f64", "f32x4", "f64x2") for op in ("ceil", "floor", "trunc", "nearest"))
_MIN_MAX = tuple(f"{shape}.{op}" for shape in ("f32", "f64", "f32x4", "f64x2") for op in ("min", "max"))

WORKED_AROUND = "upstream bug (pywasm 2.2.3); worked around in the reference backend (reference/numerics.py)"

FIXED_IN_REFERENCE = ("fixed in the reference backend (reference/wasi.py: a name with a trailing slash is resolved "
                      "whole, as a directory, the way wasmtime does)")

FINDINGS: tuple[KnownFinding, ...] = (
    KnownFinding("F1", "the wasmtime backend aborts the process on v128 at the export boundary",
                 "production backend (wasmtime's C API)",
                 "fixed in the production backend (export types read from the module's bytes)",
                 "F1-v128-at-the-export-boundary.wat", aspects=frozenset()),
    KnownFinding("F2", "i64.div_u with a quotient >= 2**63 traps", "pywasm 2.2.3", WORKED_AROUND,
                 "F2-i64-div-u-top-bit.wat", ("i64.div_u",)),
    KnownFinding("F3", "ceil, floor, trunc, nearest lose the sign of a zero result", "pywasm 2.2.3", WORKED_AROUND,
                 "F3-rounding-loses-negative-zero.wat", _ROUNDING),
    KnownFinding("F4", "min and max order +0 and -0 by argument position", "pywasm 2.2.3", WORKED_AROUND,
                 "F4-min-max-signed-zero.wat", _MIN_MAX),
    KnownFinding("F5", "f32.convert_i64_s/u round twice (via f64)", "pywasm 2.2.3", WORKED_AROUND,
                 "F5-f32-convert-i64-double-rounding.wat", ("f32.convert_i64_s", "f32.convert_i64_u")),
    KnownFinding("F6", "f32.copysign, f32x4.abs, f32x4.neg quiet signalling NaNs", "pywasm 2.2.3", WORKED_AROUND,
                 "F6-f32-signalling-nan-quieted.wat", ("f32.copysign", "f32x4.abs", "f32x4.neg")),
    KnownFinding("F7", "multi-memory modules load on wasmtime, the reference refuses them", "neither (feature gap)",
                 "by design; generated modules never have two memories", "F7-multi-memory.wat",
                 aspects=frozenset({"load"})),
    KnownFinding("F8", "rmdir of a directory named with a trailing slash: wasmtime EINVAL, the reference removes it",
                 "unspecified by WASI; the reference differs from production (and upstream Sysinspect)",
                 FIXED_IN_REFERENCE, "F8-rmdir-trailing-slash.wat",
                 aspects=frozenset({"stdout", "files"}), script=r"^rmdir \S*/$"),
    KnownFinding("F9", "symlink or link named f/ over an existing file f: wasmtime ENOTDIR, the reference EEXIST",
                 "the reference backend (wasmtime's WASI test programs require ENOTDIR)",
                 FIXED_IN_REFERENCE, "F9-link-over-a-file-with-trailing-slash.wat",
                 aspects=frozenset({"stdout", "files"}), script=r"^(?:sym)?link \S+ \S*/$"),
    KnownFinding("F14", "a declared maximum of 0 is taken for no maximum (memory.grow, table.grow succeed)",
                 "pywasm 2.2.3",
                 "upstream bug (pywasm 2.2.3); worked around in the reference backend (reference/validation.py: "
                 "ExplicitZero)", "F14-zero-maximum-is-no-maximum.wat", ("memory.grow", "table.grow")),
)
"""Every finding so far; ``differential/FINDINGS.md`` tells each one's story."""

BY_ID = {f.id: f for f in FINDINGS}


def findings_for_instruction(name: str) -> list[KnownFinding]:
    """The open findings an instruction triggers."""
    return [f for f in FINDINGS if name in f.instructions]


_INSTRUCTION = re.compile(r"(?<![\w.$])((?:[if](?:32|64)|[if](?:8x16|16x8|32x4|64x2)|v128)\.[a-z0-9_]+)")


def instructions_in(wat: str) -> set[str]:
    """The instruction names that occur in module text (comments and strings are not excluded: over-approximate)."""
    return set(_INSTRUCTION.findall(wat))


def known_finding(finding: Finding) -> str | None:
    """The recorded finding(s) that explain a divergence, e.g. ``F3``, or None when it is new.

    The module (its ``module.wasm`` artefact) must use an instruction of an
    open finding, and every aspect that differs must be one that finding
    can cause. Anything else is new and fails the campaign.
    """
    wasm = finding.artefacts.get("module.wasm")
    if wasm is None:
        return None
    from .smith import to_wat

    used = instructions_in(to_wat(wasm))
    aspects = {d.aspect for d in finding.comparison.differences}
    matching = [f for f in FINDINGS if f.open and used & set(f.instructions)]
    if not matching or not all(any(a in f.aspects for f in matching) for a in aspects):
        return None
    return "+".join(f.id for f in matching)


def known_script(script: str, finding: Finding, findings: Sequence[KnownFinding] = FINDINGS) -> str | None:
    """The open filesystem finding(s) that explain a divergence of a probe script, or None when it is new.

    ``findings``: the list to consult (the recorded :data:`FINDINGS` unless a test passes its own).
    """
    aspects = {d.aspect for d in finding.comparison.differences}
    matching = [f for f in findings if f.open and f.script and re.search(f.script, script, re.MULTILINE)]
    if not matching or not all(any(a in f.aspects for f in matching) for a in aspects):
        return None
    return "+".join(f.id for f in matching)


# -- regression modules ---------------------------------------------------------------


@dataclass(frozen=True)
class Assertion:
    """One ``;; assert`` line: a call and the result the specification requires (or the trap kind)."""

    export: str
    args: tuple[Value, ...]
    results: tuple[Value, ...] = ()
    trap: str | None = None

    def __str__(self) -> str:
        call = f"{self.export}({', '.join(str(a) for a in self.args)})"
        return f"{call} traps {self.trap}" if self.trap else f"{call} == ({', '.join(str(r) for r in self.results)})"


@dataclass(frozen=True)
class Regression:
    """A regression module: its finding, its text and its assertions."""

    finding: KnownFinding
    path: Path
    text: str
    assertions: tuple[Assertion, ...]
    tree: tuple[str, ...] = ()
    stdout: bytes | None = None


_ASSERT = re.compile(r"^;; assert (?P<export>[\w$]+)\((?P<args>[^)]*)\) (?:== \((?P<results>[^)]*)\)|traps (?P<trap>.+))$")


def parse_value(text: str) -> Value:
    """``i64:0x10`` or ``f32:0x80000000`` (bits) as a :class:`Value`."""
    kind, _, bits = text.strip().partition(":")
    return Value(kind, int(bits, 0) & ((1 << {"i32": 32, "f32": 32, "i64": 64, "f64": 64}.get(kind, 128)) - 1))


def _values(text: str) -> tuple[Value, ...]:
    return tuple(parse_value(part) for part in text.split(",") if part.strip())


def load_regression(finding: KnownFinding) -> Regression:
    """Read a finding's regression module and its assertions."""
    path = REGRESSIONS / finding.regression
    text = path.read_text()
    assertions = []
    tree: tuple[str, ...] = ()
    stdout: bytes | None = None
    for line in text.splitlines():
        match = _ASSERT.match(line.strip())
        if match:
            assertions.append(Assertion(match["export"], _values(match["args"]),
                                        _values(match["results"] or ""), match["trap"]))
        elif line.startswith(";; tree "):
            tree = tuple(line[len(";; tree "):].split())
        elif line.startswith(";; expect stdout "):
            stdout = line[len(";; expect stdout "):].encode() + b"\n"
    return Regression(finding, path, text, tuple(assertions), tree, stdout)


def regressions() -> list[Regression]:
    """Every finding's regression module."""
    return [load_regression(f) for f in FINDINGS]


# -- the validation differential's findings (validity.py): modules the judges disagreed on ---------------------


@dataclass(frozen=True)
class ValidityFinding:
    """A disagreement of the validation differential, its verdict, and the regression module that pins it.

    ``verdicts`` is what each judge must answer (True: valid) on the module
    ``regressions/<file>``; ``upstream`` names the judges known to answer
    wrongly because of an upstream engine's bug (their test is a strict
    expected failure), ``feature_set`` says the difference is the named
    ``feature-set`` normalisation (wasmtime takes WebAssembly 3.0).
    """

    id: str
    title: str
    wrong: str
    status: str
    file: str
    verdicts: tuple[tuple[str, bool], ...]
    upstream: tuple[str, ...] = ()
    feature_set: bool = False


_INVALID = (("wasmtime", False), ("reference", False), ("wasm-tools", False))

VALIDITY_FINDINGS: tuple[ValidityFinding, ...] = (
    ValidityFinding("F15", "code after a function body's final end: pywasm stops at the end and loads the module",
                    "the reference backend (pywasm 2.2.3 decodes a body up to its end and ignores the rest)",
                    "fixed in the reference backend (reference/loader.py, rewrite 23)",
                    "F15-code-after-end.wasm", _INVALID),
    ValidityFinding("F16", "limits flags other than 0 and 1 (shared, 64-bit, any byte) read as 'a maximum follows'",
                    "the reference backend (pywasm 2.2.3 tests the flag for nonzero)",
                    "fixed in the reference backend (reference/loader.py, rewrite 22's flag check)",
                    "F16-limits-flags.wasm", _INVALID),
    ValidityFinding("F16", "a shared memory (limits flags 3) loads on wasmtime, which enables threads",
                    "neither (feature set: wasmtime 50 takes WebAssembly 3.0 and threads)",
                    "named normalisation feature-set", "F16-shared-memory-is-3.0.wasm",
                    (("wasmtime", True), ("reference", False), ("wasm-tools", False)), feature_set=True),
    ValidityFinding("F17", "a function body that runs past its code section's end loads as a shorter body",
                    "the reference backend (pywasm 2.2.3's sized reads give what is left)",
                    "fixed in the reference backend (reference/loader.py, rewrite 24)",
                    "F17-body-past-section-end.wasm", _INVALID),
    ValidityFinding("F18", "a valid module of more than 32 sections (custom sections count) is refused",
                    "the reference backend (pywasm 2.2.3 reads at most 32 sections)",
                    "fixed in the reference backend (reference/loader.py, rewrite 25)",
                    "F18-more-than-32-sections.wasm", (("wasmtime", True), ("reference", True), ("wasm-tools", True))),
)
"""Every disagreement the validation differential found (FINDINGS.md F15 to F18), in order."""
