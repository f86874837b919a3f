"""The hypothesis settings of every differential campaign, registered in one place.

Three budgets:

* ``ci``: what the test suite runs. Bounded example counts so that the whole
  differential stage (corpus campaign and generated-module campaign) stays
  well under 8 minutes on 2 cores; derandomised, so CI explores the same
  examples on every run and a red build always reproduces.
* ``dev``: a few more examples, random seeds: for a developer's quick look.
* ``long``: the unattended campaign (``python -m sysinspect_wasm_differential
  campaign --examples 2000``): random seeds, printed at the start.

The environment variable ``SYSINSPECT_DIFF_EXAMPLES`` overrides the example
count of the test suite's campaigns (e.g. ``SYSINSPECT_DIFF_EXAMPLES=500
pytest tests/test_differential_generated.py``), and
``SYSINSPECT_DIFF_PROFILE`` picks the budget (``ci`` by default).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, Verbosity, settings

EXAMPLES_ENV = "SYSINSPECT_DIFF_EXAMPLES"
PROFILE_ENV = "SYSINSPECT_DIFF_PROFILE"


@dataclass(frozen=True)
class Budget:
    """How much one campaign may do.

    ``corpus_examples``: requests drawn per corpus module (costly ones, see
    :func:`~.corpus.costly`, get ``slow_corpus_examples``); ``generated_examples``:
    generated modules (wasm-smith, and single-instruction modules, each);
    ``filesystem_examples``: scripts for the filesystem probe; ``run_timeout``: seconds one backend may spend on one
    run of a command module; ``call_timeout``: on one call of a generated
    module's export; ``derandomize``: fixed examples (CI) or random seeds.
    """

    name: str
    corpus_examples: int
    slow_corpus_examples: int
    generated_examples: int
    filesystem_examples: int
    run_timeout: float
    call_timeout: float
    derandomize: bool


BUDGETS: dict[str, Budget] = {
    "ci": Budget("ci", corpus_examples=4, slow_corpus_examples=1, generated_examples=120, filesystem_examples=60,
                 run_timeout=60.0, call_timeout=10.0, derandomize=True),
    "dev": Budget("dev", corpus_examples=20, slow_corpus_examples=3, generated_examples=300, filesystem_examples=300,
                  run_timeout=60.0, call_timeout=10.0, derandomize=False),
    "long": Budget("long", corpus_examples=100, slow_corpus_examples=10, generated_examples=2000, filesystem_examples=2000,
                   run_timeout=120.0, call_timeout=20.0, derandomize=False),
}

HEALTH_CHECKS_OFF = (
    # Running a module twice per example is slow by nature, and generated
    # modules are drawn from large byte strings: neither is a smell here.
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    # smith rejects a few seeds and some requests are filtered out.
    HealthCheck.filter_too_much,
    # the corpus campaign is parametrised over modules with a function-scoped fixture-free body
    HealthCheck.differing_executors,
)


def budget(name: str | None = None) -> Budget:
    """The budget called ``name``, or the one ``SYSINSPECT_DIFF_PROFILE`` names (default ``ci``)."""
    chosen = name or os.environ.get(PROFILE_ENV, "ci")
    if chosen not in BUDGETS:
        raise ValueError(f"unknown differential budget {chosen!r}: choose one of {', '.join(BUDGETS)}")
    return BUDGETS[chosen]


def examples_override() -> int | None:
    """The example count ``SYSINSPECT_DIFF_EXAMPLES`` asks for, if any."""
    raw = os.environ.get(EXAMPLES_ENV, "").strip()
    if not raw:
        return None
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"{EXAMPLES_ENV} must be a whole number of examples, not {raw!r}") from None
    if count < 1:
        raise ValueError(f"{EXAMPLES_ENV} must be at least 1, not {count}")
    return count


def campaign_settings(examples: int, *, derandomize: bool, verbose: bool = False) -> settings:
    """Hypothesis settings for a campaign of ``examples`` examples.

    No deadline (runs are bounded by the backends' own timeouts), no
    example database (a campaign's failures are reported with their seed and
    kept as explicit regression examples, not in a local cache), and the
    blob to reproduce a failure is always printed.
    """
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        print_blob=True,
        suppress_health_check=HEALTH_CHECKS_OFF,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        verbosity=Verbosity.verbose if verbose else Verbosity.normal,
        report_multiple_bugs=True,
    )


def suite_settings(kind: str) -> settings:
    """The settings a test-suite campaign runs with: ``corpus``, ``slow-corpus``, ``generated`` or ``filesystem``."""
    chosen = budget()
    counts = {
        "corpus": chosen.corpus_examples,
        "slow-corpus": chosen.slow_corpus_examples,
        "generated": chosen.generated_examples,
        "filesystem": chosen.filesystem_examples,
    }
    if kind not in counts:
        raise ValueError(f"unknown campaign kind {kind!r}")
    override = examples_override()
    return campaign_settings(override or counts[kind], derandomize=chosen.derandomize)
