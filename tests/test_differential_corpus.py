"""The corpus campaign: for every corpus module, drawn requests run on both backends and must agree.

Each example is a whole request (starting, most of the time, from one of the
module's manifest cases), a file tree shown as guest ``/``, and recorded
``api.exec`` answers; exit code, stdout, stderr, trap kind, host-API calls,
log lines and the resulting file tree are compared after the named
normalisations only. Modules the manifest marks as clock- or
random-dependent are compared on everything but those values. Example
counts come from ``sysinspect_wasm_differential.settings`` (the Go modules,
4.4 MB each and tens of seconds per run on the interpreter, get fewer).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from functools import cache

import pytest
from conftest import load_backend
from hypothesis import given
from sysinspect_wasm_differential.campaign import Tally
from sysinspect_wasm_differential.corpus import (
    CorpusModule,
    case_checker,
    cases_for,
    compare_loads,
    corpus_modules,
    discover_hints,
)
from sysinspect_wasm_differential.harness import CommandCase, ModulePair
from sysinspect_wasm_differential.settings import budget, suite_settings

from sysinspect_wasm.backends import PYWASM, WASMTIME
from sysinspect_wasm.spec import Limits

pytestmark = pytest.mark.slow

corpus = pytest.importorskip("sysinspect_wasm_corpus")

MODULES = {m.module_id: m for m in corpus_modules(chosen=budget())}

KNOWN_DIVERGENCES: dict[str, str] = {}
"""Corpus module id -> the finding (differential/FINDINGS.md) that makes it diverge: a strict xfail. None now."""


@pytest.fixture(scope="module", autouse=True)
def release_modules() -> Iterator[None]:
    """Drop the loaded modules while the engines are still alive (not at interpreter exit)."""
    yield
    loaded.cache_clear()
    gc.collect()


@cache
def loaded(module_id: str) -> ModulePair:
    """Each corpus module loaded once per test session by both backends (the Go ones take seconds)."""
    load_backend(WASMTIME)
    load_backend(PYWASM)
    return ModulePair(MODULES[module_id].path, module_id)


def _param(module: CorpusModule) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_DIVERGENCES[module.module_id])] \
        if module.module_id in KNOWN_DIVERGENCES else []
    return pytest.param(module.module_id, marks=marks, id=module.module_id)


@pytest.mark.parametrize("module_id", [_param(m) for m in MODULES.values()])
def test_corpus_module_agrees_on_drawn_requests(module_id: str) -> None:
    """Both backends do the same with the module on every drawn example (each divergence shrunk and shown)."""
    module = MODULES[module_id]
    pair = loaded(module_id)
    tally = Tally(module_id)
    if not pair.loaded:
        tally.check(compare_loads(pair), lambda: "loading the module")
        return
    limits = module.hints.limits or Limits(timeout=budget().run_timeout)
    hints = discover_hints(pair, module.hints, limits)
    check = case_checker(pair, hints, limits, tally)

    @suite_settings("slow-corpus" if hints.slow else "corpus")
    @given(cases_for(hints))
    def agrees(case: CommandCase) -> None:
        check(case)

    agrees()


def test_the_clock_and_random_module_is_compared_on_its_structure() -> None:
    """sys-clockrandom-c prints the time and random bytes: masked by the manifest's mark, keys still compared."""
    module = MODULES.get("sys-clockrandom-c")
    if module is None:
        pytest.skip("the corpus has no sys-clockrandom-c")
    assert module.hints.volatility.structure
    assert set(module.hints.volatility.reason.split(", ")) == {"clock", "random"}
    stable = [m for m in MODULES.values() if not m.hints.volatility.any]
    assert len(stable) == len(MODULES) - 1
