"""The generated-module campaign: wasm-smith modules, every export called on both backends.

For each example hypothesis draws wasm-smith's input bytes and
configuration (:func:`.strategies.smith_inputs`); the module is loaded and
instantiated bare on both backends; then every exported function is called
once in module order with drawn arguments, followed by a few more drawn
calls (so that state left by one call meets another). After each call the
result or trap and the exported globals and memories are compared
(:func:`.compare.compare_traces`). The same driver serves
``wasm-runtime diff`` on a module that is not a WASI command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from sysinspect_wasm.spec import Limits

from .campaign import Finding, Tally, run_campaign
from .compare import Comparison, InstanceTrace, compare_traces
from .harness import DEFAULT_BACKENDS, ModulePair, survives_v128_boundary
from .instructions import InstructionCase, module_text
from .normalise import poisoning
from .settings import Budget, budget
from .smith import SmithConfig, from_wat, smith, to_wat
from .strategies import instruction_modules, smith_inputs, wasm_arguments
from .wasminfo import exports_carry

MAX_EXTRA_CALLS = 4
V128_SKIP = "F1: a backend here cannot take v128 at the export boundary"
WAT_LINES_SHOWN = 60


@dataclass
class Exercise:
    """One module exercised on both backends: the comparison and the calls made, for the report."""

    comparison: Comparison
    steps: list[str]
    traces: tuple[InstanceTrace, InstanceTrace]


def instance_limits(chosen: Budget) -> Limits:
    """Limits for bare instances: the budget's per-call timeout, default memory."""
    return Limits(timeout=chosen.call_timeout)


def exercise(pair: ModulePair, draw: Callable[[st.SearchStrategy[Any]], Any], limits: Limits,
             max_extra_calls: int = MAX_EXTRA_CALLS) -> Exercise:
    """Instantiate ``pair`` on both backends and call its exports in lockstep with drawn arguments."""
    driver = pair.instantiate(limits)
    if driver.ready:
        functions = [e for e in driver.exports if e.kind == "func"]
        plan = list(functions)
        if functions:
            extra = draw(st.lists(st.sampled_from(functions), max_size=max_extra_calls))
            plan += extra
        for export in plan:
            args = draw(wasm_arguments(export.params))
            left, right = driver.call(export.name, args)
            if left.error or right.error or poisoning(left.trap, right.trap) is not None:
                break
    left_trace, right_trace = driver.traces
    return Exercise(compare_traces(left_trace, right_trace, driver.steps), driver.steps, (left_trace, right_trace))


def describe_module(wasm: bytes, steps: Sequence[str], origin: str = "") -> str:
    """The example for a report: where the module came from, its text (cut), and the calls made."""
    lines = to_wat(wasm).splitlines()
    shown = lines[:WAT_LINES_SHOWN]
    if len(lines) > WAT_LINES_SHOWN:
        shown.append(f"  ;; ... {len(lines) - WAT_LINES_SHOWN} more lines")
    text = (origin + "\n" if origin else "") + "\n".join(shown)
    if steps:
        text += "\ncalls:\n" + "\n".join(f"  #{i} {s}" for i, s in enumerate(steps))
    return text


def generated_campaign(examples: int, *, seed: int | None = None, chosen: Budget | None = None,
                       backends: Sequence[str] = DEFAULT_BACKENDS, derandomize: bool = False,
                       known: Callable[[Finding], str | None] | None = None,
                       progress: Callable[[Tally], None] | None = None) -> Tally:
    """Run the generated-module campaign for ``examples`` modules and return its tally."""
    chosen = chosen or budget()
    limits = instance_limits(chosen)
    tally = Tally("generated modules", progress=progress)

    def body(example: tuple[tuple[bytes, SmithConfig], st.DataObject]) -> None:
        (smith_seed, config), data = example
        wasm = smith(smith_seed, config)
        if wasm is None:
            tally.skip("wasm-smith declined the seed")
            assume(False)
            return
        check_generated(tally, wasm, config, data.draw, limits, backends, known)

    return run_campaign(tally, st.tuples(smith_inputs(), st.data()), body, examples=examples, seed=seed,
                        derandomize=derandomize)


def check_generated(tally: Tally, wasm: bytes, config: SmithConfig | None, draw: Callable[[st.SearchStrategy[Any]], Any],
                    limits: Limits, backends: Sequence[str] = DEFAULT_BACKENDS,
                    known: Callable[[Finding], str | None] | None = None, name: str = "generated",
                    origin: str = "") -> None:
    """Exercise one module on both backends and score it into ``tally`` (raises on a divergence)."""
    if exports_carry(wasm, "v128") and not all(survives_v128_boundary(b) for b in backends):
        tally.skip(V128_SKIP)
        return
    pair = ModulePair(wasm, name, backends)
    done = exercise(pair, draw, limits)
    if config is not None:
        origin = f";; wasm-smith flags: {' '.join(config.flags())}"
    tally.check(done.comparison, lambda: describe_module(wasm, done.steps, origin), {"module.wasm": wasm}, known)


def instance_campaign(wasm: bytes | Path, name: str, examples: int, *, seed: int | None = None,
                      chosen: Budget | None = None, backends: Sequence[str] = DEFAULT_BACKENDS,
                      progress: Callable[[Tally], None] | None = None) -> Tally:
    """``wasm-runtime diff`` on a module that is not a WASI command: drawn calls of its exports."""
    chosen = chosen or budget()
    data = wasm.read_bytes() if isinstance(wasm, Path) else wasm
    limits = instance_limits(chosen)
    tally = Tally(name, progress=progress)

    def body(draws: st.DataObject) -> None:
        check_generated(tally, data, None, draws.draw, limits, backends, name=name)

    return run_campaign(tally, st.data(), body, examples=examples, seed=seed)


def instruction_campaign(examples: int, *, seed: int | None = None, chosen: Budget | None = None,
                         backends: Sequence[str] = DEFAULT_BACKENDS, derandomize: bool = False,
                         known: Callable[[Finding], str | None] | None = None,
                         progress: Callable[[Tally], None] | None = None) -> Tally:
    """Single-instruction modules (:mod:`.instructions`), each export called with drawn edge-case operands."""
    chosen = chosen or budget()
    limits = instance_limits(chosen)
    tally = Tally("generated modules (instructions)", progress=progress)

    def body(example: tuple[tuple[tuple[InstructionCase, ...], bytes], st.DataObject]) -> None:
        (cases, memory), draws = example
        check_instructions(tally, cases, memory, draws.draw, limits, backends, known)

    return run_campaign(tally, st.tuples(instruction_modules(), st.data()), body, examples=examples, seed=seed,
                        derandomize=derandomize)


def check_instructions(tally: Tally, cases: Sequence[InstructionCase], memory: bytes,
                       draw: Callable[[st.SearchStrategy[Any]], Any], limits: Limits,
                       backends: Sequence[str] = DEFAULT_BACKENDS,
                       known: Callable[[Finding], str | None] | None = None) -> None:
    """Build the single-instruction module for ``cases`` and score it like any generated module."""
    origin = ";; instructions: " + ", ".join(c.instruction.name + c.immediates() for c in cases)
    check_generated(tally, from_wat(module_text(cases, memory)), None, draw, limits, backends, known, origin=origin)
