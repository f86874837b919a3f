"""The validation differential: near-valid modules, three judges, every disagreement shrunk and saved.

hypothesis draws a valid module (a corpus module, a module of the spec test
suite, or ``wasm-tools smith`` output) and one to three :mod:`.mutate`
edits of it, and asks the three :mod:`.judges` whether the result is valid.
All three answering alike is agreement; wasmtime alone accepting a module
that is valid WebAssembly 3.0 is the named feature-set difference
(``normalise.FEATURE_SET``); anything else is a disagreement. Each class of
disagreement (who accepts, and the class of the reason) is an exception type
of its own, so hypothesis shrinks each separately; the minimal example is
then reduced further by :func:`reduce` (sections dropped, function bodies
replaced by ``unreachable``, while the disagreement stays the same) and
written to a folder as ``<class digest>.wasm`` with a ``.json`` note of the
verdicts, the base, the edits and the seed, ready to triage into
``differential/regressions/`` and FINDINGS.md.

A disagreement that FINDINGS.md already explains (:data:`KNOWN_VALIDITY`,
an upstream engine's bug kept as a strict expected failure) is counted as
known, never raised again.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from sysinspect_wasm.errors import WasmRuntimeError

from .campaign import class_type, new_seed, run_round
from .judges import JUDGES, Verdict, agree, feature_set_difference, judge_all, signature
from .mutate import KINDS, SNIPPETS, Mutation, apply_all
from .normalise import FEATURE_SET
from .smith import SmithConfig, smith, wasm_tools

MAX_BASE_BYTES = 64 * 1024
"""Bases larger than this are left out: the reference decodes every mutant in full, in Python."""

SPEC_SCRIPTS = ("binary", "binary-leb128", "block", "br_table", "call_indirect", "custom", "data", "elem", "exports",
                "func", "global", "if", "imports", "loop", "memory", "ref_func", "select", "start", "table",
                "bulk", "simd_const", "local_tee", "unreached-valid")
"""Spec-suite scripts whose modules serve as bases: each rule of the binary format and of validation."""

SPEC_MODULES_PER_SCRIPT = 12
"""At most this many modules of each script (the first ones): enough variety, and a bounded start-up."""

SPEC_SUITE = Path(__file__).resolve().parents[2] / "tests" / "data" / "wasm-spec-testsuite"

SOURCES = ("corpus", "spec", "smith")


@dataclass(frozen=True)
class KnownDisagreement:
    """A disagreement FINDINGS.md explains: its finding and the signature it has (a regular expression)."""

    finding: str
    pattern: str


KNOWN_VALIDITY: tuple[KnownDisagreement, ...] = ()
"""Upstream engines' validation bugs, each a strict expected failure of its regression test (FINDINGS.md)."""


def known(sig: str) -> str | None:
    """The finding that explains disagreement class ``sig``, if one does."""
    return next((k.finding for k in KNOWN_VALIDITY if re.search(k.pattern, sig)), None)


@dataclass(frozen=True)
class Base:
    """A valid module to mutate: where it comes from, and its bytes."""

    label: str
    wasm: bytes


@dataclass
class Disagreement:
    """One disagreement: the mutant, how it was made, and each judge's verdict."""

    signature: str
    base: str
    mutations: tuple[Mutation, ...]
    wasm: bytes
    verdicts: dict[str, Verdict]
    reduced: bytes | None = None

    def note(self, seed: int | None) -> dict[str, Any]:
        """What the ``.json`` beside a saved module says."""
        return {"signature": self.signature, "base": self.base, "mutations": [str(m) for m in self.mutations],
                "seed": seed, "verdicts": {name: str(self.verdicts[name]) for name in JUDGES},
                "bytes": len(self.reduced or self.wasm)}


class ValidityDivergence(AssertionError, WasmRuntimeError):
    """The judges disagreed on a mutant."""

    def __init__(self, found: Disagreement) -> None:
        super().__init__(f"{found.signature}\n  base {found.base}, edits {', '.join(map(str, found.mutations))}")
        self.found = found


def _divergence(sig: str) -> type[ValidityDivergence]:
    """One exception type per disagreement class (hypothesis shrinks each class apart)."""
    digest = hashlib.sha256(sig.encode()).hexdigest()[:8]
    return class_type(ValidityDivergence, sig, f"ValidityDivergence_{digest}", __name__)


@dataclass
class ValidityTally:
    """The score of one validation campaign."""

    examples: int = 0
    agreed: int = 0
    unchanged: int = 0
    normalised: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    """How many mutants each class of answer got (agreements included): what the campaign reached."""
    findings: dict[str, Disagreement] = field(default_factory=dict)
    seed: int | None = None
    elapsed: float = 0.0

    @property
    def disagreements(self) -> int:
        return len(self.findings)

    def summary(self) -> str:
        """One paragraph: counts, then each disagreement class."""
        lines = [f"validation differential, seed {self.seed}: {self.examples} mutants in {self.elapsed:.0f} s: "
                 f"{self.agreed} agreed, {self.unchanged} unchanged by their edits, "
                 f"{sum(self.normalised.values())} normalised ({', '.join(self.normalised) or 'none'}), "
                 f"{sum(self.known.values())} known ({', '.join(self.known) or 'none'}), "
                 f"{self.disagreements} disagreement class(es)"]
        for found in self.findings.values():
            size = len(found.reduced or found.wasm)
            lines.append(f"  {found.signature}\n    from {found.base}, edits {', '.join(map(str, found.mutations))}; "
                         f"reduced to {size} bytes")
        return "\n".join(lines)


# -- bases --------------------------------------------------------------------------------------------------------


def corpus_bases(ids: Sequence[str] | None = None) -> list[Base]:
    """The corpus modules (of at most :data:`MAX_BASE_BYTES`) all three judges call valid, or those of ``ids``."""
    import importlib

    corpus: Any = importlib.import_module("sysinspect_wasm_corpus")  # a package of its own, beside ours
    chosen = [e for e in corpus.manifest() if (ids is None or e.id in ids)]
    bases = [Base(f"corpus {e.id}", e.path.read_bytes()) for e in chosen
             if ids is not None or e.size <= MAX_BASE_BYTES]
    return [b for b in bases if all(v.valid for v in judge_all(b.wasm).values())]


@cache
def spec_bases() -> tuple[Base, ...]:
    """The binary modules of :data:`SPEC_SCRIPTS` that all three judges call valid (converted once per process)."""
    from .specsuite import convert

    bases: list[Base] = []
    with tempfile.TemporaryDirectory(prefix="sysinspect-validity-") as folder:
        for script in SPEC_SCRIPTS:
            wast = SPEC_SUITE / f"{script}.wast"
            if not wast.is_file():
                continue
            converted = convert(wast, Path(folder) / script)
            commands = [c for c in json.loads(converted.read_text())["commands"]
                        if c["type"] == "module" and str(c.get("filename", "")).endswith(".wasm")]
            for command in commands[:SPEC_MODULES_PER_SCRIPT]:
                wasm = (converted.parent / wast.stem / command["filename"]).read_bytes()
                if len(wasm) <= MAX_BASE_BYTES and all(v.valid for v in judge_all(wasm).values()):
                    bases.append(Base(f"spec {script}.wast:{command['line']}", wasm))
    return tuple(bases)


# -- the strategy -------------------------------------------------------------------------------------------------


def mutations() -> st.SearchStrategy[Mutation]:
    """One drawn edit (see :mod:`.mutate`)."""
    return st.builds(
        Mutation,
        kind=st.sampled_from(KINDS),
        at=st.integers(0, 1 << 20),
        size=st.integers(0, 16),
        data=st.one_of(st.sampled_from(SNIPPETS), st.binary(min_size=1, max_size=8)),
    )


@dataclass(frozen=True)
class Mutant:
    """A drawn example: its base (label and bytes) and its edits."""

    base: Base
    edits: tuple[Mutation, ...]


def mutants(pools: Mapping[str, Sequence[Base]], smith_too: bool) -> st.SearchStrategy[Mutant]:
    """Mutants of the given base pools (and of ``wasm-tools smith`` output, when ``smith_too``)."""
    choices: list[st.SearchStrategy[Base | None]] = [st.sampled_from(list(pool)) for pool in pools.values() if pool]
    if smith_too:
        choices.append(st.binary(min_size=16, max_size=512).map(_smith_base))
    if not choices:
        raise ValueError("the validation differential needs at least one base module")
    return st.builds(Mutant, base=st.one_of(*choices).filter(lambda b: b is not None),
                     edits=st.lists(mutations(), min_size=1, max_size=3).map(tuple))


def _smith_base(seed: bytes) -> Base | None:
    wasm = smith(seed, SmithConfig())
    return None if wasm is None else Base(f"smith {seed.hex()}", wasm)


# -- reduction ----------------------------------------------------------------------------------------------------

_UNREACHABLE_BODY = b"\x00\x00\x0b"  # no locals, unreachable, end: valid for every function type


def reduce(wasm: bytes, sig: str, judge: Callable[[bytes], dict[str, Verdict]] = judge_all) -> bytes:
    """A smaller module with the same disagreement: sections dropped, bodies replaced, while ``sig`` holds."""
    from .mutate import RawSection, code_payload, code_section, join, read_sections

    def same(candidate: bytes) -> bool:
        return candidate != wasm and signature(judge(candidate)) == sig

    for _ in range(4):
        before = wasm
        sections = read_sections(wasm)
        if sections is None:
            break
        for index in reversed(range(len(sections))):
            current = read_sections(wasm)
            if current is None or index >= len(current):
                continue
            candidate = join(wasm, current[:index] + current[index + 1:])
            if same(candidate):
                wasm = candidate
        current = read_sections(wasm) or []
        found = code_section(current)
        if found is not None and found[1]:
            code, bodies = found
            chunk = len(bodies)
            while chunk >= 1:
                for start in range(0, len(bodies), chunk):
                    trial = list(bodies)
                    trial[start:start + chunk] = [_UNREACHABLE_BODY] * len(trial[start:start + chunk])
                    if trial == bodies:
                        continue
                    current[code] = RawSection(current[code].id, code_payload(trial))
                    candidate = join(wasm, current)
                    if same(candidate):
                        wasm, bodies = candidate, trial
                chunk //= 2
        if wasm == before:
            break
    return wasm


# -- the campaign -------------------------------------------------------------------------------------------------


def validity_campaign(examples: int, *, seed: int | None, pools: Mapping[str, Sequence[Base]], smith_too: bool = True,
                      progress: Callable[[ValidityTally], None] | None = None,
                      judge: Callable[[bytes], dict[str, Verdict]] = judge_all) -> ValidityTally:
    """Judge about ``examples`` mutants of ``pools`` (and of smith output); every disagreement class shrunk, reduced.

    hypothesis stops generating once it has found a failure, to shrink it; so
    the campaign goes on in rounds (seed, seed + 1, ...) until ``examples``
    mutants were judged, each round counting the classes found before as
    found (not raising them again), and ends early after a round that found
    nothing new. Shrinking's own runs count as judged mutants.
    """
    first_seed = seed if seed is not None else new_seed()
    tally = ValidityTally(seed=first_seed)
    found_before: set[str] = set()
    strategy = mutants(pools, smith_too)

    def judged(mutant: Mutant) -> None:
        tally.examples += 1
        if progress is not None:
            progress(tally)
        wasm = apply_all(mutant.base.wasm, mutant.edits)
        if wasm == mutant.base.wasm:
            tally.unchanged += 1
            return
        verdicts = judge(wasm)
        sig = signature(verdicts)
        tally.verdicts[sig] += 1
        if agree(verdicts):
            tally.agreed += 1
            return
        if feature_set_difference(wasm, verdicts):
            tally.normalised[FEATURE_SET.name] += 1
            return
        name = known(sig)
        if name is not None:
            tally.known[name] += 1
            return
        if sig in found_before:
            return
        found = Disagreement(sig, mutant.base.label, mutant.edits, wasm, verdicts)
        tally.findings[sig] = found
        raise _divergence(sig)(found)

    started = time.monotonic()
    round_number = 0
    while tally.examples < examples:
        new_before = len(tally.findings)
        run_round(strategy, judged, examples=examples - tally.examples, seed=first_seed + round_number,
                  found=ValidityDivergence)
        if len(tally.findings) == new_before:
            break
        found_before.update(tally.findings)
        round_number += 1
    for found in tally.findings.values():
        found.reduced = reduce(found.wasm, found.signature, judge)
    tally.elapsed = time.monotonic() - started
    return tally


def save(tally: ValidityTally, folder: Path) -> list[Path]:
    """Write each disagreement (reduced) as ``<digest>.wasm``, its note as ``.json``, and its text as ``.wat``."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for found in tally.findings.values():
        stem = "validity-" + hashlib.sha256(found.signature.encode()).hexdigest()[:10]
        wasm = found.reduced or found.wasm
        (folder / f"{stem}.wasm").write_bytes(wasm)
        (folder / f"{stem}.json").write_text(json.dumps(found.note(tally.seed), indent=2) + "\n")
        printed = subprocess.run([wasm_tools(), "print", "-"], input=wasm, capture_output=True, timeout=30, check=False)
        if printed.returncode != 0:  # an invalid body cannot be printed as text: its bytes, annotated
            printed = subprocess.run([wasm_tools(), "dump", "-"], input=wasm, capture_output=True, timeout=30,
                                     check=False)
        (folder / f"{stem}.wat").write_bytes(printed.stdout or printed.stderr)
        written.append(folder / f"{stem}.wasm")
    return written


def default_pools(sources: Sequence[str], corpus_ids: Sequence[str] | None = None) -> dict[str, Sequence[Base]]:
    """The base pools of ``sources`` (``corpus``, ``spec``; ``smith`` draws its own)."""
    pools: dict[str, Sequence[Base]] = {}
    if "corpus" in sources:
        pools["corpus"] = corpus_bases(corpus_ids)
    if "spec" in sources:
        pools["spec"] = spec_bases()
    return pools


def main(argv: Sequence[str]) -> int:
    """``python -m sysinspect_wasm_differential validity [--examples N] [--seed S] [--source S] [--save DIR]``."""
    import argparse

    from .cli import positive_int, seed_int

    parser = argparse.ArgumentParser(prog="python -m sysinspect_wasm_differential validity",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--examples", "-n", type=positive_int, default=2000, metavar="N",
                        help="mutants to judge (default 2000)")
    parser.add_argument("--seed", "-s", type=seed_int, default=None, metavar="S",
                        help="seed (default: a fresh one, printed)")
    parser.add_argument("--source", choices=SOURCES, action="append", default=None,
                        help="where bases come from (repeatable; default: all three)")
    parser.add_argument("--module", action="append", default=None, metavar="ID",
                        help="corpus modules to use as bases (default: every one up to 64 KiB)")
    parser.add_argument("--save", type=Path, default=None, metavar="DIR",
                        help="write each disagreement (reduced) into DIR (default: a fresh temporary folder)")
    args = parser.parse_args(list(argv))
    sources = args.source or list(SOURCES)
    pools = default_pools(sources, args.module)
    print(f"bases: {', '.join(f'{len(p)} {name}' for name, p in pools.items())}"
          f"{', smith output' if 'smith' in sources else ''}", flush=True)

    def show(tally: ValidityTally) -> None:
        if tally.examples % 100 == 0:
            print(f"  {tally.examples} mutants, {tally.agreed} agreed, {len(tally.findings)} disagreement(s)", flush=True)

    tally = validity_campaign(args.examples, seed=args.seed, pools=pools, smith_too="smith" in sources, progress=show)
    print(tally.summary())
    if tally.findings:
        folder = args.save or Path(tempfile.mkdtemp(prefix="sysinspect-validity-"))
        for path in save(tally, folder):
            print(f"saved {path}")
    print(f"repeat with --seed {tally.seed}")
    return 1 if tally.findings else 0
