"""Running one example on both backends: command modules (requests) and bare instances (generated modules).

The harness loads a module once per backend (:class:`ModulePair`), then for
each example gives both backends exactly the same input: the same stdin,
a fresh copy of the same file tree as guest ``/``, the same recorded
``api.exec`` answers (one :class:`RecordedResponder` per example, shared).
It returns what each side did; :mod:`.compare` decides whether they agree.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sysinspect_wasm_runtime.protocol import guest_run_spec

from sysinspect_wasm.backends import BACKEND_NAMES, get_backend
from sysinspect_wasm.errors import GuestTrap, ModuleLoadError
from sysinspect_wasm.executor import Instance, Module
from sysinspect_wasm.result import ExportInfo, Value
from sysinspect_wasm.spec import Limits
from sysinspect_wasm.traps import Trap

from .compare import CallOutcome, InstanceTrace, RunObservation
from .filetree import FileTree, materialise, snapshot
from .responder import RecordedResponder, Tape

DEFAULT_BACKENDS = BACKEND_NAMES
"""Left and right: production first, the reference second."""


@dataclass(frozen=True)
class CommandCase:
    """One drawn example for a WASI command module.

    ``request`` is the request document (for the report), ``header`` what
    the guest gets from the ``api.header*`` functions, ``stdin`` its whole
    standard input, ``files`` the tree shown as guest ``/`` (``writable``
    or not), ``tape`` the recorded ``api.exec`` answers; ``allow_exec`` and
    ``packagekit`` set what the host API permits and reports; ``limits``
    replaces the campaign's default limits (a case that expects a timeout
    or a memory limit sets them).
    """

    request: dict[str, Any]
    header: dict[str, Any]
    stdin: bytes
    files: FileTree = field(default_factory=dict)
    tape: Tape = field(default_factory=Tape)
    writable: bool = True
    allow_exec: bool = True
    packagekit: bool = False
    limits: Limits | None = None


@dataclass(frozen=True)
class BaseCase:
    """A known-good way to run a module (a corpus case), which drawn examples start from and vary.

    ``request`` is without ``rt.mod``; the other fields are the host set-up
    the case needs (its limits, whether ``/`` is writable, whether exec is
    allowed and PackageKit present, the files it expects).
    """

    name: str
    request: Mapping[str, Any] = field(default_factory=dict)
    limits: Limits | None = None
    writable: bool = True
    allow_exec: bool = True
    packagekit: bool = False
    files: FileTree = field(default_factory=dict)


def _error_text(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" at {Path(where[0].filename).name}:{where[0].lineno}" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"


class ModulePair:
    """One module loaded by two backends (by default wasmtime, then pywasm)."""

    def __init__(self, wasm: bytes | Path, name: str, backends: Sequence[str] = DEFAULT_BACKENDS, *,
                 trace: bool = False) -> None:
        if len(backends) != 2:
            raise ValueError("a differential comparison needs exactly two backends")
        self.name = name
        self.trace = trace  # command runs record their --trace lines, to be compared call by call
        self.backend_names = tuple(backends)
        self.modules: list[Module | None] = []
        self.load_errors: list[Trap | None] = []
        for backend_name in backends:
            backend = get_backend(backend_name)
            try:
                self.modules.append(backend.load(wasm, name=name))
                self.load_errors.append(None)
            except ModuleLoadError as exc:
                self.modules.append(None)
                self.load_errors.append(exc.trap)

    @property
    def loaded(self) -> bool:
        """True when both backends loaded the module."""
        return all(m is not None for m in self.modules)

    # -- command modules --------------------------------------------------------

    def run_one(self, index: int, case: CommandCase, limits: Limits, responder: RecordedResponder | None = None) -> RunObservation:
        """Run ``case`` on backend ``index`` (0: left, 1: right) on a fresh copy of its file tree."""
        module = self.modules[index]
        if module is None:
            raise RuntimeError(f"{self.backend_names[index]} could not load {self.name}")
        responder = responder or RecordedResponder(case.tape)
        with tempfile.TemporaryDirectory(prefix="sysinspect-diff-") as folder:
            root = Path(folder)
            materialise(case.files, root)
            lines: list[str] = []
            spec = guest_run_spec(self.name, case.header, root, case.limits or limits, writable=case.writable,
                                  allow_exec=case.allow_exec, stdin=case.stdin, commands=responder,
                                  packagekit=responder.packagekit(), trace=lines.append if self.trace else None)
            result = module.run(spec)
            return RunObservation(self.backend_names[index], result, snapshot(root),
                                  tuple(lines) if self.trace else None)

    def run_case(self, case: CommandCase, limits: Limits, *, live_exec: bool = False) -> tuple[RunObservation, RunObservation]:
        """Run ``case`` on both backends, each on its own copy of the file tree, sharing one responder."""
        from sysinspect_wasm.commands import run_host_command

        responder = RecordedResponder(case.tape, live=run_host_command if live_exec else None)
        return self.run_one(0, case, limits, responder), self.run_one(1, case, limits, responder)

    # -- bare instances ------------------------------------------------------------

    def instantiate(self, limits: Limits) -> InstanceDriver:
        """Instantiate the module on both backends, recording what happened."""
        return InstanceDriver(self, limits)


class InstanceDriver:
    """Both backends' instances of one module, called in lockstep."""

    def __init__(self, pair: ModulePair, limits: Limits) -> None:
        self.traces = [InstanceTrace(name) for name in pair.backend_names]
        self.instances: list[Instance | None] = [None, None]
        self.steps: list[str] = []
        for index, module in enumerate(pair.modules):
            trace = self.traces[index]
            if module is None:
                trace.load_error = pair.load_errors[index]
                continue
            try:
                instance = module.instantiate(limits)
                trace.exports = list(instance.exports())
                self.instances[index] = instance
            except GuestTrap as exc:
                trace.instantiate_trap = exc.trap
            except ModuleLoadError as exc:
                trace.instantiate_trap = exc.trap
            except Exception as exc:  # a wrapper bug: reported, never allowed to stop the campaign
                trace.instantiate_error = _error_text(exc)

    @property
    def ready(self) -> bool:
        """True when both sides instantiated and export the same things."""
        return all(i is not None for i in self.instances) and self.traces[0].exports == self.traces[1].exports

    @property
    def exports(self) -> list[ExportInfo]:
        """The (agreed) exports."""
        return self.traces[0].exports

    def call(self, name: str, args: Sequence[Value]) -> tuple[CallOutcome, CallOutcome]:
        """Call export ``name`` with ``args`` on both sides and record the outcomes and state after."""
        self.steps.append(f"{name}({', '.join(str(a) for a in args)})")
        outcomes = []
        for instance, trace in zip(self.instances, self.traces, strict=True):
            assert instance is not None
            outcome = _call_one(instance, trace.exports, name, args)
            trace.calls.append(outcome)
            outcomes.append(outcome)
        return outcomes[0], outcomes[1]


def _call_one(instance: Instance, exports: Sequence[ExportInfo], name: str, args: Sequence[Value]) -> CallOutcome:
    values: tuple[Value, ...] | None = None
    trap: Trap | None = None
    try:
        values = tuple(instance.call(name, list(args)))
    except GuestTrap as exc:
        trap = exc.trap
    except Exception as exc:  # a wrapper bug: reported as a difference of its own
        return CallOutcome(error=_error_text(exc))
    try:
        globals_ = tuple((e.name, instance.global_value(e.name)) for e in exports if e.kind == "global")
        memories = tuple((e.name, instance.memory(e.name)) for e in exports if e.kind == "memory")
    except Exception as exc:
        return CallOutcome(values, trap, error="reading the exported state: " + _error_text(exc))
    return CallOutcome(values, trap, None, globals_, memories)


V128_PROBE = """
import sys
from sysinspect_wasm import Limits, Value, get_backend
wasm = bytes.fromhex(sys.argv[2])
instance = get_backend(sys.argv[1]).load(wasm, name="v128-probe").instantiate(Limits())
for step in (instance.exports, lambda: instance.global_value("g"), lambda: instance.call("f", [Value("v128", 1)])):
    try:
        step()
    except Exception:
        pass
"""

# (module (global (export "g") v128 (v128.const i64x2 0 0)) (func (export "f") (param v128) (result v128) local.get 0))
V128_MODULE = bytes.fromhex(
    "0061736d0100000001060160017b017b030201000616017b00fd0c000000000000000000000000000000000b"
    "07090201670300016600000a0601040020000b"
)


@functools.cache
def survives_v128_boundary(backend: str) -> bool:
    """Whether ``backend`` survives v128 values at the export boundary (finding F1), probed once in a child process.

    wasmtime's C API aborts the whole process when asked about a ``v128``
    type; a campaign must not die with it, so modules with ``v128`` in an
    export's type are kept from a backend that fails this probe.
    """
    done = subprocess.run([sys.executable, "-c", V128_PROBE, backend, V128_MODULE.hex()],
                          capture_output=True, timeout=120, check=False)
    return done.returncode == 0
