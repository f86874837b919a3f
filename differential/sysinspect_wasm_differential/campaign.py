"""Running a hypothesis campaign and keeping score: examples, agreements, inconclusives, divergences.

A campaign body compares one example and hands the :class:`Comparison` to
:meth:`Tally.check`, which raises a :class:`Divergence` when the backends
disagree. Each divergence class (the set of aspects that differ) gets its
own exception type, so hypothesis shrinks and reports every class
separately instead of stopping at the first; the tally keeps, for each
class, the last failing example hypothesis ran, which is the minimal one
it replays at the end.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from sysinspect_wasm.errors import WasmRuntimeError

from .compare import Comparison
from .settings import campaign_settings

E = TypeVar("E", bound=BaseException)


@dataclass
class Finding:
    """One divergent example: the module, what differs, and how to reproduce it."""

    subject: str
    comparison: Comparison
    example: str
    artefacts: dict[str, bytes] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        """The divergence class: the aspects that differ."""
        return self.comparison.signature()


class Divergence(AssertionError, WasmRuntimeError):
    """The backends disagreed on an example; the message is the side-by-side report."""

    def __init__(self, finding: Finding) -> None:
        from .report import format_finding

        super().__init__(format_finding(finding))
        self.finding = finding


_CLASS_TYPES: dict[tuple[type[BaseException], str], type[BaseException]] = {}


def class_type(base: type[E], signature: str, name: str, module: str) -> type[E]:
    """The subclass of ``base`` that stands for one class of failure, made once as ``module.name``.

    hypothesis tells bugs apart by exception type: raising each class as a type
    of its own makes it shrink and report every class separately instead of
    stopping at the first.
    """
    found = _CLASS_TYPES.get((base, signature))
    if found is None:
        found = _CLASS_TYPES[base, signature] = type(name, (base,), {"__module__": module})
    return cast("type[E]", found)


def divergence_type(signature: str) -> type[Divergence]:
    """The exception type of one divergence class (the aspects that differ, in the type's name)."""
    label = "".join(part.capitalize() for part in signature.replace("+", " ").split()) or "Unknown"
    return class_type(Divergence, signature, f"Divergence{label}", __name__)


@dataclass
class Tally:
    """The score of one campaign on one subject (a module, or the generated-module stream)."""

    subject: str
    runs: int = 0
    agreed: int = 0
    inconclusive: Counter[str] = field(default_factory=Counter)
    normalised: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    findings: dict[str, Finding] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    elapsed: float = 0.0
    progress: Callable[[Tally], None] | None = None

    @property
    def diverged(self) -> int:
        """The number of distinct divergence classes found."""
        return len(self.findings)

    def skip(self, reason: str) -> None:
        """Count an example that could not be compared at all (e.g. smith declined the seed)."""
        self.runs += 1
        self.skipped[reason] += 1
        self._tick()

    def check(self, comparison: Comparison, example: Callable[[], str], artefacts: dict[str, bytes] | None = None,
              known: Callable[[Finding], str | None] | None = None) -> None:
        """Score ``comparison``; raise a :class:`Divergence` when the backends disagree.

        ``example`` renders the example for the report (only called on a
        divergence). ``known`` recognises divergences explained by a recorded
        finding: those are counted under the finding's name, not raised.
        """
        self.runs += 1
        for normalisation in comparison.normalised:
            self.normalised[normalisation.name] += 1
        if comparison.poisoned is not None:
            self.inconclusive[comparison.poisoned.name] += 1
        elif comparison.agree:
            self.agreed += 1
        self._tick()
        if comparison.agree:
            return
        finding = Finding(self.subject, comparison, example(), dict(artefacts or {}))
        name = known(finding) if known is not None else None
        if name is not None:
            self.expected[name] = finding.signature
            self.inconclusive[f"known: {name}"] += 1
            return
        self.findings[finding.signature] = finding
        raise divergence_type(finding.signature)(finding)

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self)


def new_seed() -> int:
    """A fresh random seed for a campaign (printed, so that the run can be repeated)."""
    return random.SystemRandom().getrandbits(32)


def run_round(strategy: st.SearchStrategy[Any], body: Callable[[Any], None], *, examples: int, seed: int | None,
              derandomize: bool = False, quiet: bool = True,
              found: type[BaseException] | tuple[type[BaseException], ...] = Divergence) -> None:
    """One hypothesis run of ``body`` on up to ``examples`` drawn examples.

    The failures of type ``found`` that ``body`` raised (each class shrunk to
    a minimal example; the body keeps its own record of them) end the run
    quietly; anything else ``body`` raises is a harness bug and propagates.
    With ``seed`` the run is reproducible.
    """
    chosen = campaign_settings(examples, derandomize=derandomize and seed is None)
    if quiet:
        chosen = hypothesis.settings(chosen, verbosity=hypothesis.Verbosity.quiet)

    @chosen
    @given(strategy)
    def campaign(example: Any) -> None:
        body(example)

    runner: Callable[[], None] = campaign
    if seed is not None:
        runner = hypothesis.seed(seed)(campaign)
    try:
        runner()
    except found:
        pass
    except BaseExceptionGroup as group:
        _, rest = group.split(found)
        if rest is not None:
            raise rest from None


def run_campaign(tally: Tally, strategy: st.SearchStrategy[Any], body: Callable[[Any], None], *, examples: int,
                 seed: int | None, derandomize: bool = False, quiet: bool = True) -> Tally:
    """Run ``body`` on ``examples`` drawn examples under hypothesis, scoring into ``tally``.

    Divergences end up in ``tally.findings`` (each class shrunk to a
    minimal example); anything else ``body`` raises is a harness bug and
    propagates. With ``seed`` the run is reproducible; without one (and not
    derandomised) a fresh seed is chosen and kept in ``tally.seed``.
    """
    if seed is None and not derandomize:
        seed = new_seed()
    tally.seed = seed
    started = time.monotonic()
    try:
        run_round(strategy, body, examples=examples, seed=seed, derandomize=derandomize, quiet=quiet)
    finally:
        tally.elapsed += time.monotonic() - started
    return tally
