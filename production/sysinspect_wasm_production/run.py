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

import errno
import os
import sys
import time

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.hostapi import HostApi
from sysinspect_wasm.result import RunResult
from sysinspect_wasm.spec import WASM_PAGE

from . import native
from .epoch import Interrupt
from .hostbind import bind_host_api
from .native import Extern, Instance, byref, c, c_void_p, string_at
from .output import CappedOutput
from .program import START, Program, annotate, memory_over_ceiling

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from typing import Any

    from sysinspect_wasm.spec import RunSpec
    from sysinspect_wasm.traps import Frame, Trap

    Outcome = tuple[int | None, Trap | None]

    from .tracing import Stops

GRACE_SECONDS = 0.3
"""How long past its deadline a timed run may take to unwind before it is abandoned."""

_START = START.encode()

# A WASI context finds its output capture through the callback's data pointer.
_WRITERS: native.Registry[Callable[[bytes], None]] = native.Registry()


def _on_output(data: int | None, buffer: Any, size: int) -> int:
    # wasmtime's custom-output callback, on one of its I/O threads: it must never raise
    try:
        _WRITERS[data](string_at(buffer, size))
        return size
    except BaseException:
        return -errno.EIO


# module-level, so the C function pointer lives as long as any WASI context using it
_ON_OUTPUT = native.OutputCallback(_on_output)


class WasiRun:
    """The state of one run: its limits, captured output, host API and outcome."""

    def __init__(self, program: Program, spec: RunSpec, started: float) -> None:
        self.program = program
        self.spec = spec
        limits = spec.limits
        self.deadline = None if limits.timeout is None else started + limits.timeout
        self.interrupt = Interrupt(program.handle.native, self.deadline)
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
            frames=self._author_frames() if trap and self.frames else (),  # a stop without frames reads nothing
        )

    def _author_frames(self) -> tuple[Frame, ...]:
        """A trap's frames in the module its author built (only a trap pays for this)."""
        from .traps import author_frames

        return author_frames(self.frames, self.program.guards, self.program.module_bytes)

    def _wasi_config(self) -> int:
        """A new ``wasi_config_t*`` for this run (the caller hands it to a store, which takes it)."""
        spec = self.spec
        wasi: int = c.wasi_config_new()
        try:
            argv = native.strings(spec.argv)
            if not c.wasi_config_set_argv(wasi, len(argv), argv):
                raise native.WasmtimeError("failed to configure argv")
            names, values = native.strings(list(spec.env)), native.strings(list(spec.env.values()))
            if not c.wasi_config_set_env(wasi, len(names), names, values):
                raise native.WasmtimeError("failed to configure environment")
            if spec.stdin:
                _stdin_from(wasi, spec.stdin)
            c.wasi_config_set_stdout_custom(wasi, _ON_OUTPUT, _WRITERS.add(self.stdout.write), _WRITERS.forget)
            c.wasi_config_set_stderr_custom(wasi, _ON_OUTPUT, _WRITERS.add(self.stderr.write), _WRITERS.forget)
            for preopen in spec.preopens:
                if not c.wasi_config_preopen_dir(wasi, str(preopen.host_path).encode("utf-8"),
                                                 preopen.guest_path.encode("utf-8"), preopen.writable):
                    raise WasmRuntimeError(f"cannot preopen a directory for module {self.program.name!r}: "
                                           f"{preopen.host_path}: failed to add preopen dir")
        except BaseException:
            c.wasi_config_delete(wasi)
            raise
        return wasi

    def _stopped(self, exc: Exception, *, linking: bool = False) -> Outcome:
        if self.interrupt.reason is not None:  # our own reason to stop wins
            return None, self.interrupt.reason
        if self.stops is not None:  # a traced run: a WASI call may have passed on what stopped the guest
            exc = self.stops.passed_on(exc)
        if isinstance(exc, native.WasmtimeError) and exc.exit_code is not None:
            return exc.exit_code, None
        from .traps import classify, trap_frames  # only when the guest did not end well

        wasmtime = sys.modules.get("wasmtime")  # a traced run's reports are wasmtime-py's
        if wasmtime is not None and isinstance(exc, wasmtime.ExitTrap):
            return exc.code, None
        if isinstance(exc, native.NativeTrap) or (wasmtime is not None and isinstance(exc, wasmtime.Trap)):
            self.frames = trap_frames(exc)
        return None, classify(exc, self.program.guards, linking=linking)

    def _run_start(self, found: bool, call: Callable[[], Outcome | None]) -> Outcome:
        """The ending of both ways to run: ``_start`` must be an exported function (``found``) taking and returning
        nothing; ``call()`` runs it and gives the outcome of a guest stopped by an error or a trap (``None``: it
        returned)."""
        if not found:
            from sysinspect_wasm.traps import Trap, TrapKind

            return None, Trap(TrapKind.LINK_ERROR, f"module {self.program.name!r} exports no function {START!r}")
        signature = self.program.start_signature()
        if signature is not None and (signature[0] or signature[1]):
            from sysinspect_wasm.traps import Trap, TrapKind

            return None, Trap(TrapKind.LINK_ERROR, f"{START!r} must take and return nothing")
        # (without a known signature, wasmtime itself refuses a mismatched call)
        stopped = call()
        if stopped is not None:
            return stopped
        if self.interrupt.reason is not None:  # e.g. an output cap passed just before the end
            return None, self.interrupt.reason
        return 0, None

    def _execute(self) -> Outcome:
        program = self.program
        ceiling = self.spec.limits.memory_pages
        over = memory_over_ceiling(program, ceiling)
        if over is not None:
            return None, over
        if self.spec.trace is not None:
            return self._execute_traced()
        engine = program.handle.native
        store = c.wasmtime_store_new(engine, None, native.NO_FINALIZER)
        linker = None
        try:
            context = c.wasmtime_store_context(store)
            program.handle.clock.attach(store, context, self.interrupt)
            c.wasmtime_store_limiter(store, ceiling * WASM_PAGE, -1, -1, -1, -1)
            native.check(c.wasmtime_context_set_wasi(context, self._wasi_config()))
            linker = c.wasmtime_linker_new(engine)
            native.check(c.wasmtime_linker_define_wasi(linker))
            bind_host_api(linker, self.api)
            instance, trap = Instance(), c_void_p()
            error = c.wasmtime_linker_instantiate(linker, context, program.native_module, byref(instance),
                                                  byref(trap))
            if error:  # a trap is not an error
                return self._stopped(native.take_error(error), linking=True)
            if trap:
                return self._stopped(native.take_trap(trap.value or 0), linking=True)
            start = Extern()
            found = c.wasmtime_instance_export_get(context, byref(instance), _START, len(_START),
                                                   byref(start))

            def call() -> Outcome | None:
                error = c.wasmtime_func_call(context, byref(start.of.func), None, 0, None, 0, byref(trap))
                if error:
                    return self._stopped(native.take_error(error))
                if trap:
                    return self._stopped(native.take_trap(trap.value or 0))
                return None

            return self._run_start(bool(found) and start.kind == native.EXTERN_FUNC, call)
        finally:
            if linker is not None:
                c.wasmtime_linker_delete(linker)
            # deleting here, on a live interpreter, also releases the WASI context's output callbacks; left
            # to the process's exit, wasmtime's I/O thread could call into a finalizing interpreter
            c.wasmtime_store_delete(store)

    def _execute_traced(self) -> Outcome:
        """:meth:`_execute` for a traced run (``--trace``): on wasmtime-py's objects, which :mod:`.tracing` links.

        A developer's run, never a minion's: the WASI context is the lean binding's (the same output capture and
        standard input), the store, linker and instance wasmtime-py's.
        """
        import ctypes

        import wasmtime
        from wasmtime import _ffi

        from . import values
        from .tracing import Stops, traced_instance

        program = self.program
        engine = program.handle.engine
        store = wasmtime.Store(engine)
        linker: wasmtime.Linker | None = None
        try:
            program.handle.clock.attach(store.ptr(), store._context(), self.interrupt)
            store.set_limits(memory_size=self.spec.limits.memory_pages * WASM_PAGE)
            wasi = wasmtime.WasiConfig.__new__(wasmtime.WasiConfig)
            wasi._set_ptr(ctypes.cast(self._wasi_config(), ctypes.POINTER(_ffi.wasi_config_t)))
            store.set_wasi(wasi)
            linker = wasmtime.Linker(engine)
            linker.define_wasi()
            self.stops = Stops()
            try:
                assert self.spec.trace is not None
                instance = traced_instance(store, engine, linker, program.module, self.api, self.spec.trace,
                                           self.stops)
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                return self._stopped(exc, linking=True)
            start = instance.exports(store).get(START)

            def call() -> Outcome | None:
                assert isinstance(start, wasmtime.Func)
                try:
                    values.call(store, start, [], [], [])
                except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                    return self._stopped(exc)
                return None

            return self._run_start(isinstance(start, wasmtime.Func), call)
        finally:
            if linker is not None:
                linker.close()
            store.close()  # on a live interpreter: it releases the WASI context's output callbacks


def _set_stdin_file(wasi: int, path: str) -> None:
    if not c.wasi_config_set_stdin_file(wasi, path.encode("utf-8")):
        raise native.WasmtimeError("failed to set stdin file")


def _stdin_from(wasi: int, data: bytes) -> None:
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
                _set_stdin_file(wasi, f"/proc/self/fd/{fd}")  # opened anew: it reads from offset 0
                return
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno == errno.EFBIG:  # past RLIMIT_FSIZE (a minion sets 10 MiB): no file will do
                _stdin_pipe(wasi, data)
                return
        except native.WasmtimeError:
            pass
    import tempfile

    fd, path = tempfile.mkstemp(prefix="sysinspect-wasm-stdin-")
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        _set_stdin_file(wasi, path)  # the open descriptor outlives the name
    finally:
        os.unlink(path)


def _stdin_pipe(wasi: int, data: bytes) -> None:
    """``data`` as the guest's standard input through a pipe, fed by a thread: for input larger than the files the
    process may write (PROTOCOL.md 5.4). A pipe is not a file, so the limit does not apply to it."""
    import threading

    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, False)

    def feed() -> None:
        try:
            _write_all(write_end, data)
        except OSError:  # the guest may stop reading (or end) before it read everything
            os.close(write_end)
            return
        os.close(write_end)

    try:
        _set_stdin_file(wasi, f"/proc/self/fd/{read_end}")  # wasmtime opens it now; a writer exists, so it does not wait
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
            from sysinspect_wasm.traps import TrapKind

            run.interrupt.stop(TrapKind.TIMEOUT, "the guest ran past its time limit (blocked in a host call)")
            reason = run.interrupt.reason
            return run.result((None, reason), started)
    if run.failure is not None or run.outcome is None:
        raise run.failure or RuntimeError("the run ended without an outcome")
    return run.result(run.outcome, started)
