"""The generated-module campaign: wasm-smith modules, single-instruction modules, the instruction sweep, the findings.

Every example runs on both backends (wasmtime, pywasm) and is compared by
``sysinspect_wasm_differential.compare``; example counts come from
``sysinspect_wasm_differential.settings`` (``SYSINSPECT_DIFF_EXAMPLES`` and
``SYSINSPECT_DIFF_PROFILE`` scale them). Each finding of
``differential/FINDINGS.md`` is pinned by its regression module; where the
fix is a workaround of an upstream bug, the upstream bug itself is a strict
xfail naming the finding.
"""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest
from conftest import load_backend
from hypothesis import given
from hypothesis import strategies as st
from sysinspect_wasm_differential.campaign import Tally
from sysinspect_wasm_differential.findings import (
    BY_ID,
    FINDINGS,
    Assertion,
    KnownFinding,
    known_finding,
    load_regression,
)
from sysinspect_wasm_differential.generated import check_generated, check_instructions, instance_limits
from sysinspect_wasm_differential.harness import ModulePair
from sysinspect_wasm_differential.instructions import INSTRUCTIONS, InstructionCase
from sysinspect_wasm_differential.settings import budget, suite_settings
from sysinspect_wasm_differential.smith import SmithConfig, SmithUnavailable, from_wat, smith, wasm_tools
from sysinspect_wasm_differential.strategies import instruction_modules, smith_inputs
from sysinspect_wasm_differential.sweep import sweep

from sysinspect_wasm import GuestTrap, Limits, Value
from sysinspect_wasm.backends import PYWASM, WASMTIME

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def both_backends() -> None:
    """Skip (with the reason) where either backend or wasm-tools is unavailable."""
    load_backend(WASMTIME)
    load_backend(PYWASM)
    try:
        wasm_tools()
    except SmithUnavailable as exc:
        pytest.skip(str(exc))


LIMITS = instance_limits(budget())


@suite_settings("generated")
@given(smith_inputs(), st.data())
def test_generated_modules_agree(smith_input: tuple[bytes, SmithConfig], data: st.DataObject) -> None:
    """wasm-smith modules: every export called on both backends; results, traps, globals and memory agree."""
    seed, config = smith_input
    wasm = smith(seed, config)
    if wasm is None:
        return  # wasm-smith declined this seed
    check_generated(Tally("generated modules"), wasm, config, data.draw, LIMITS, known=known_finding)


@suite_settings("generated")
@given(instruction_modules(), st.data())
def test_instruction_modules_agree(module: tuple[tuple[InstructionCase, ...], bytes], data: st.DataObject) -> None:
    """Single-instruction modules with drawn immediates and operands agree on both backends."""
    cases, memory = module
    check_instructions(Tally("instruction modules"), cases, memory, data.draw, LIMITS, known=known_finding)


def _open_findings(name: str) -> list[KnownFinding]:
    return [f for f in FINDINGS if f.open and name in f.instructions]


@pytest.mark.parametrize(
    "name",
    [pytest.param(i.name, marks=[pytest.mark.xfail(strict=True, reason=f"{f.id}: {f.title}") for f in _open_findings(i.name)])
     for i in INSTRUCTIONS],
)
def test_instruction_sweep(name: str) -> None:
    """Each instruction on every pair of its edge-case operands: wasmtime and pywasm agree."""
    instruction = next(i for i in INSTRUCTIONS if i.name == name)
    problems = [f"{r.case.immediates() or '(no immediates)'}: {d}"
                for r in sweep(instruction) for d in r.comparison.differences]
    assert not problems, f"{name} diverges:\n" + "\n".join(problems[:12])


# -- findings ------------------------------------------------------------------------------


def _outcome(instance: Any, assertion: Assertion) -> tuple[Value, ...] | str:
    try:
        return tuple(instance.call(assertion.export, list(assertion.args)))
    except GuestTrap as exc:
        return f"trap {exc.trap.kind.value}"


def _expected(assertion: Assertion) -> tuple[Value, ...] | str:
    return f"trap {assertion.trap}" if assertion.trap else assertion.results


VALUE_FINDINGS = [f for f in FINDINGS if f.instructions]


@pytest.mark.parametrize(
    ("finding", "backend_name"),
    [pytest.param(f, b, id=f"{f.id}-{b}",
                  marks=[pytest.mark.xfail(strict=True, reason=f"{f.id}: {f.title}")] if b == "pywasm" and f.open else [])
     for f in VALUE_FINDINGS for b in ("wasmtime", "pywasm")],
)
def test_finding_regression_gives_what_the_spec_requires(finding: KnownFinding, backend_name: str) -> None:
    """The regression module of each finding, on each backend, against the results the spec requires."""
    regression = load_regression(finding)
    instance = load_backend(backend_name).load(from_wat(regression.text), name=finding.id).instantiate(Limits(timeout=30))
    for assertion in regression.assertions:
        assert _outcome(instance, assertion) == _expected(assertion), f"{finding.id} on {backend_name}: {assertion}"


def _raw_pywasm(wat: str, assertion: Assertion) -> tuple[Value, ...] | str:
    """Run one call on the pywasm package exactly as installed (no reference-backend patches)."""
    import pywasm

    runtime = pywasm.core.Runtime()
    instance = runtime.instance(pywasm.core.ModuleDesc.from_reader(io.BytesIO(from_wat(wat))))
    address = next(e for e in instance.exps if e.name == assertion.export).data.data
    function = runtime.machine.store.func[address]
    args = [pywasm.core.ValInst(t, bytearray(a.bits.to_bytes(16, "little"))) for t, a in zip(function.type.args, assertion.args, strict=True)]
    try:
        results = runtime.machine.invocate(address, args)
    except Exception as exc:  # pywasm signals traps with assorted exceptions
        return f"trap ({type(exc).__name__})"
    kinds = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64"}
    return tuple(Value(kinds[r.type.data], int.from_bytes(r.data[:8], "little") & ((1 << (32 if kinds[r.type.data] in ("i32", "f32") else 64)) - 1))
                 for r in results)


UPSTREAM = [f for f in VALUE_FINDINGS if "pywasm" in f.wrong]


@pytest.mark.parametrize(
    "finding",
    [pytest.param(f, marks=pytest.mark.xfail(strict=True, reason=f"{f.id}: upstream pywasm 2.2.3 bug: {f.title}")) for f in UPSTREAM],
    ids=[f.id for f in UPSTREAM],
)
def test_upstream_pywasm_bug_is_still_there(finding: KnownFinding) -> None:
    """The upstream bug behind each worked-around finding, on pywasm as installed: strict xfails until upstream fixes it."""
    regression = load_regression(finding)
    pytest.importorskip("pywasm")
    for assertion in regression.assertions:
        assert _raw_pywasm(regression.text, assertion) == _expected(assertion), f"{finding.id}: {assertion}"


def test_f1_v128_at_the_export_boundary_does_not_take_the_process_down() -> None:
    """F1: exports(), a v128 global and a v128 call on the wasmtime backend, in a child process that must survive."""
    regression = load_regression(BY_ID["F1"])
    script = (
        "import sys\n"
        "from sysinspect_wasm import Limits, Value, get_backend\n"
        "instance = get_backend('wasmtime').load(bytes.fromhex(sys.argv[1]), name='F1').instantiate(Limits())\n"
        "exports = instance.exports()\n"
        "assert [(e.name, e.params, e.results) for e in exports if e.kind == 'func'] == [('f', ('v128',), ('v128',))], exports\n"
        "assert instance.global_value('g') == Value('v128', 0)\n"
        "assert instance.call('f', [Value('v128', 1)]) == [Value('v128', 1)]\n"
    )
    done = subprocess.run([sys.executable, "-c", script, from_wat(regression.text).hex()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"F1: exit status {done.returncode}\n{done.stderr[-2000:]}"


def test_f7_multi_memory_is_a_load_divergence() -> None:
    """F7: wasmtime loads a two-memory module, the reference refuses it (a feature gap, by design)."""
    pair = ModulePair(from_wat(load_regression(BY_ID["F7"]).text), "F7")
    assert pair.load_errors[0] is None
    assert pair.load_errors[1] is not None and pair.load_errors[1].kind.value == "invalid module"


def test_smith_never_generates_more_than_one_memory() -> None:
    """F7 is kept out of generated modules: a template memory replaces smith's own."""
    from sysinspect_wasm_differential.smith import ExportShape

    for seed in range(20):
        config = SmithConfig(exports=ExportShape(functions=((("i32",), ("i32",)),), memory=(1, 2)))
        wasm = smith(bytes([seed]) * 300, config)
        if wasm is not None:
            assert ModulePair(wasm, "one-memory").loaded
