"""One WASI command run on wasmtime: store, WASI context, host API, limits, and the result.

A run without a time limit executes on the caller's thread. A timed run
executes on a worker thread, because epoch interruption only stops guest
code: a guest blocked inside a host call (a WASI ``poll_oneoff`` sleep, which
wasmtime does not interrupt) would otherwise hold the caller past its
deadline. The caller waits until the deadline plus :data:`GRACE_SECONDS`; a
guest still running then is reported as ``timeout`` and abandoned. Its worker
thread (a daemon) keeps the store, its memory and its open preopen
descriptors until the blocking call returns, then traps at its next epoch
check and releases them; nothing it does afterwards reaches the returned
result. A process that exits meanwhile takes the thread down with it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from typing import TYPE_CHECKING

import wasmtime

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.hostapi import HostApi
from sysinspect_wasm.result import RunResult
from sysinspect_wasm.spec import WASM_PAGE, RunSpec
from sysinspect_wasm.traps import Frame, Trap, TrapKind

from . import values
from .epoch import Interrupt
from .hostbind import bind_host_api
from .output import CappedOutput
from .program import START, Program, annotate, memory_over_ceiling
from .traps import author_frames, classify, trap_frames

if TYPE_CHECKING:
    import threading

    from .tracing import Stops

GRACE_SECONDS = 0.3
"""How long past its deadline a timed run may take to unwind before it is abandoned."""

Outcome = tuple[int | None, Trap | None]


class WasiRun:
    """The state of one run: its limits, captured output, host API and outcome."""

    def __init__(self, program: Program, spec: RunSpec, started: float) -> None:
        self.program = program
        self.spec = spec
        limits = spec.limits
        self.deadline = None if limits.timeout is None else started + limits.timeout
        self.interrupt = Interrupt(program.handle.engine, self.deadline)
        self.api = HostApi(spec.host, deadline=self.deadline)
        self.stdout = CappedOutput("stdout", limits.stdout_bytes, self.interrupt)
        self.stderr = CappedOutput("stderr", limits.stderr_bytes, self.interrupt)
        self.outcome: Outcome | None = None
        self.frames: tuple[Frame, ...] = ()  # a wasm trap's, as wasmtime gives them (in the compiled module)
        self.stops: Stops | None = None  # only a traced run (--trace) has them
        self.failure: BaseException | None = None
        self.finished: threading.Event | None = None  # only a timed run, on a worker thread, is waited for
        if self.deadline is not None:
            import threading

            self.finished = threading.Event()

    def execute(self) -> None:
        """Run the guest to its end; records the outcome, or the failure of our own code."""
        try:
            self.outcome = self._execute()
        except BaseException as exc:
            self.failure = exc
        finally:
            if self.finished is not None:
                self.finished.set()

    def result(self, outcome: Outcome, started: float) -> RunResult:
        """The RunResult for ``outcome``, with copies of what was captured so far."""
        exit_code, trap = outcome
        return RunResult(
            exit_code=exit_code,
            stdout=self.stdout.value(),
            stderr=self.stderr.value(),
            trap=None if trap is None else annotate(self.program, trap),
            host_calls=list(self.api.calls),
            logs=list(self.api.logs),
            elapsed=time.monotonic() - started,
            frames=author_frames(self.frames, self.program.guards, self.program.module_bytes) if trap else (),
        )

    def _wasi_config(self) -> wasmtime.WasiConfig:
        spec = self.spec
        wasi = wasmtime.WasiConfig()
        wasi.argv = list(spec.argv)
        wasi.env = list(spec.env.items())
        if spec.stdin:
            _stdin_from(wasi, spec.stdin)
        wasi.stdout_custom = self.stdout.write
        wasi.stderr_custom = self.stderr.write
        for preopen in spec.preopens:
            try:
                wasi.preopen_dir(str(preopen.host_path), preopen.guest_path, fs_mutable=preopen.writable)
            except wasmtime.WasmtimeError as exc:
                raise WasmRuntimeError(
                    f"cannot preopen a directory for module {self.program.name!r}: {preopen.host_path}: {exc}"
                ) from None
        return wasi

    def _stopped(self, exc: Exception, *, linking: bool = False) -> Outcome:
        if self.interrupt.reason is not None:  # our own reason to stop wins
            return None, self.interrupt.reason
        if self.stops is not None:  # a traced run: a WASI call may have passed on what stopped the guest
            exc = self.stops.passed_on(exc)
        if isinstance(exc, wasmtime.ExitTrap):
            return exc.code, None
        if isinstance(exc, wasmtime.Trap):
            self.frames = trap_frames(exc)
        return None, classify(exc, self.program.guards, linking=linking)

    def _execute(self) -> Outcome:
        program = self.program
        ceiling = self.spec.limits.memory_pages
        over = memory_over_ceiling(program, ceiling)
        if over is not None:
            return None, over
        engine = program.handle.engine
        store = wasmtime.Store(engine)
        linker: wasmtime.Linker | None = None
        try:
            program.handle.clock.attach(store, self.interrupt)
            store.set_limits(memory_size=ceiling * WASM_PAGE)
            store.set_wasi(self._wasi_config())
            linker = wasmtime.Linker(engine)
            linker.define_wasi()
            try:
                if self.spec.trace is None:
                    bind_host_api(linker, self.api)
                    instance = linker.instantiate(store, program.module)
                else:
                    from .tracing import Stops, traced_instance

                    self.stops = Stops()
                    instance = traced_instance(store, engine, linker, program.module, self.api, self.spec.trace,
                                               self.stops)
            except wasmtime.WasmtimeError as exc:  # Trap is not a WasmtimeError
                return self._stopped(exc, linking=True)
            except wasmtime.Trap as exc:
                return self._stopped(exc, linking=True)
            start = instance.exports(store).get(START)
            if not isinstance(start, wasmtime.Func):
                return None, Trap(TrapKind.LINK_ERROR, f"module {program.name!r} exports no function {START!r}")
            signature = program.start_signature()
            if signature is not None and (signature[0] or signature[1]):
                return None, Trap(TrapKind.LINK_ERROR, f"{START!r} must take and return nothing")
            try:  # (without a known signature, wasmtime itself refuses a mismatched call)
                values.call(store, start, [], [], [])
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                return self._stopped(exc)
            if self.interrupt.reason is not None:  # e.g. an output cap passed just before the end
                return None, self.interrupt.reason
            return 0, None
        finally:
            if linker is not None:
                linker.close()
            # closing here, on a live interpreter, also releases the WASI context's
            # output callbacks; left to garbage collection at interpreter exit,
            # wasmtime's I/O thread would call into a finalizing interpreter
            store.close()


def _stdin_from(wasi: wasmtime.WasiConfig, data: bytes) -> None:
    """Make ``data`` the guest's standard input: wasmtime opens a file by name, right away.

    Where Linux's ``memfd_create`` exists the file is an anonymous one in
    memory, named through ``/proc/self/fd``: nothing touches a file system,
    and the module :mod:`tempfile` (with what it imports) stays unloaded.
    Elsewhere (or should that fail) it is a temporary file, removed once
    wasmtime has opened it.
    """
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        try:
            fd = memfd_create("sysinspect-wasm-stdin", os.MFD_CLOEXEC)
            try:
                _write_all(fd, data)
                wasi.stdin_file = f"/proc/self/fd/{fd}"  # opened anew: it reads from offset 0
                return
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno == errno.EFBIG:  # past RLIMIT_FSIZE (a minion sets 10 MiB): no file will do
                _stdin_pipe(wasi, data)
                return
        except wasmtime.WasmtimeError:
            pass
    import tempfile

    fd, path = tempfile.mkstemp(prefix="sysinspect-wasm-stdin-")
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        wasi.stdin_file = path  # the open descriptor outlives the name
    finally:
        os.unlink(path)


def _stdin_pipe(wasi: wasmtime.WasiConfig, data: bytes) -> None:
    """``data`` as the guest's standard input through a pipe, fed by a thread: for input larger than the files the
    process may write (PROTOCOL.md 5.4). A pipe is not a file, so the limit does not apply to it."""
    import threading

    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, False)

    def feed() -> None:
        with contextlib.suppress(OSError):  # the guest may stop reading (or end) before it read everything
            _write_all(write_end, data)
        os.close(write_end)

    try:
        wasi.stdin_file = f"/proc/self/fd/{read_end}"  # wasmtime opens it now; a writer exists, so it does not wait
    finally:
        os.close(read_end)
    threading.Thread(target=feed, name="sysinspect-wasm-stdin", daemon=True).start()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def run_program(program: Program, spec: RunSpec) -> RunResult:
    """Run ``program``'s ``_start`` under ``spec``; guest failures come back as traps."""
    started = time.monotonic()
    run = WasiRun(program, spec, started)
    if run.deadline is None or run.finished is None:
        run.execute()
    else:
        import threading

        with program.handle.clock.ticking():
            worker = threading.Thread(target=run.execute, name=f"sysinspect-wasm-{program.name}", daemon=True)
            worker.start()
            run.finished.wait(max(0.0, run.deadline - time.monotonic()) + GRACE_SECONDS)
        if not run.finished.is_set():
            run.interrupt.stop(TrapKind.TIMEOUT, "the guest ran past its time limit (blocked in a host call)")
            reason = run.interrupt.reason
            return run.result((None, reason), started)
    if run.failure is not None or run.outcome is None:
        raise run.failure or RuntimeError("the run ended without an outcome")
    return run.result(run.outcome, started)
