"""From a request to a response: the one code path of protocol mode and developer mode.

:func:`respond` takes the raw bytes of a request and never raises;
:func:`handle` takes a parsed request. Both return a :class:`ModResponse`
whose return codes and messages follow PROTOCOL.md 1.7.
"""

from __future__ import annotations

import gc
import os
import sys

from sysinspect_wasm import library, paths
from sysinspect_wasm.backends import AUTO, WASMTIME
from sysinspect_wasm.spec import MIB

from .header import build_header, header_line
from .output import LOGS_KEY, OutputError, guest_data
from .request import SHARELIB_KEY, ModRequest, RequestError, RuntimeSettings, parse_request, runtime_settings
from .response import (
    BAD_REQUEST,
    DATA_FAILED,
    INTERNAL_ERROR,
    LIST_FAILED,
    MSG_LISTED,
    MSG_RAN,
    OK,
    RUN_FAILED,
    SETUP_FAILED,
    ModResponse,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from typing import Any, BinaryIO

    from sysinspect_wasm import Limits, Module, RunResult, RunSpec, Trap
    from sysinspect_wasm.interfaces import CommandRunner
    from sysinspect_wasm.packagekit import PackageKit

SANDBOX_REFUSAL = "api.exec is refused: the runtime runs this module with rt.sandbox"
SANDBOX_PK_REFUSAL = "the PackageKit helpers are refused: the runtime runs this module with rt.sandbox"
STDERR_WARNING_CHARS = 4096
STDERR_ECHO_BYTES = 32 * 1024
"""Guest stderr copied to ours, at most: a caller that reads our stdout before our stderr must never block us."""
KIB = 1024


def guest_run_spec(module_id: str, header: Mapping[str, Any], root: str | Path, limits: Limits, *, writable: bool,
                   allow_exec: bool, stdin: bytes | None = None, commands: CommandRunner | None = None,
                   packagekit: PackageKit | None = None, trace: Callable[[str], None] | None = None) -> RunSpec:
    """How wasm-runtime runs a module: argv[0] only, no environment, ``root`` as guest ``/``.

    Standard input is the header line unless ``stdin`` is given; ``commands``
    and ``packagekit`` answer the host API (default: the real host); ``trace``
    receives a line per WASI and host API call (``--trace``).
    """
    from sysinspect_wasm.commands import run_host_command
    from sysinspect_wasm.hostapi import HostContext
    from sysinspect_wasm.spec import Preopen, RunSpec

    return RunSpec(
        argv=(module_id,),
        env={},
        stdin=header_line(header) if stdin is None else stdin,
        preopens=(Preopen(root, "/", writable=writable),),
        limits=limits,
        trace=trace,
        host=HostContext(
            module_id=module_id,
            header=header,
            allow_exec=allow_exec,
            exec_refusal=SANDBOX_REFUSAL,
            packagekit_refusal=SANDBOX_PK_REFUSAL,
            commands=run_host_command if commands is None else commands,
            packagekit=packagekit,
        ),
    )


def collect_from_here() -> None:
    """Turn the cyclic garbage collector back on for the guest's run, if ``wasm-runtime`` turned it off to start.

    Everything allocated so far (imports, the loaded module) lives until the
    process exits: frozen, the collector never scans it again. What the run
    allocates (the reference interpreter allocates a great deal) is collected
    as usual.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def bad_request(reason: str) -> ModResponse:
    """The response to a request that cannot be understood."""
    return ModResponse.failure(BAD_REQUEST, f"Invalid request: {reason}")


def setup_failed(reason: str, warning: list[str] | None = None) -> ModResponse:
    """The response when the runtime cannot be set up (retcode 4)."""
    return ModResponse.failure(SETUP_FAILED, f"Failed to initialize Wasm runtime: {reason}", warning)


def run_failed(module_id: str, reason: str, warning: list[str] | None = None) -> ModResponse:
    """The response when the module could not be loaded or did not finish cleanly (retcode 5)."""
    return ModResponse.failure(RUN_FAILED, f'Failed to run module "{module_id}": {reason}', warning)


def timeout_reason(seconds: int) -> str:
    """The words for a guest stopped by the request's timeout."""
    return f"timeout: the module ran longer than the request's timeout of {seconds} s and was stopped"


def internal_error(exc: BaseException, stderr: BinaryIO | None = None) -> ModResponse:
    """The response for a bug in the runtime itself; the traceback goes to stderr only."""
    import traceback  # only for internal errors: keep it off the normal path

    text = "".join(traceback.format_exception(exc))
    _write(stderr, f"wasm-runtime: internal error\n{text}".encode("utf-8", "replace"))
    return ModResponse.failure(
        INTERNAL_ERROR,
        f"Internal error in the Wasm runtime: {type(exc).__name__}: {exc} (traceback on the runtime's standard error)",
    )


def _write(stream: BinaryIO | None, data: bytes) -> None:
    target = stream if stream is not None else getattr(sys.stderr, "buffer", None)
    if target is None:
        return
    try:
        target.write(data)
        target.flush()
    except (OSError, ValueError):
        pass


def respond(raw: bytes, *, stderr: BinaryIO | None = None) -> ModResponse:
    """The response to the raw bytes of a request; never raises."""
    try:
        request = parse_request(raw)
    except RequestError as exc:
        return bad_request(str(exc))
    except Exception as exc:
        return internal_error(exc, stderr)
    return handle(request, stderr=stderr)


def handle(request: ModRequest, *, folder: str | Path | None = None, stderr: BinaryIO | None = None,
           trace: Callable[[str], None] | None = None) -> ModResponse:
    """Answer ``request``; never raises.

    ``folder`` replaces ``<path.sharelib>/lib/runtime/wasm`` as the module
    folder (developer mode runs a module from anywhere this way); the header
    still carries the request's ``config``. Guest stderr and the backend's own
    error details are copied to ``stderr`` (default: the process's). ``trace``
    receives a line per WASI and host API call the guest makes (``--trace``).
    """
    try:
        return _Call(request, folder, stderr, trace).answer()
    except Exception as exc:
        return internal_error(exc, stderr)


class _Call:
    def __init__(self, request: ModRequest, folder: str | Path | None, stderr: BinaryIO | None,
                 trace: Callable[[str], None] | None = None) -> None:
        self.request = request
        self.folder = folder
        self.stderr = stderr
        self.trace = trace
        self.warning: list[str] = []

    def answer(self) -> ModResponse:
        try:
            settings = runtime_settings(self.request)
        except RequestError as exc:
            return bad_request(str(exc))
        self.warning += [f"unknown runtime {name} ignored (see wasm-runtime --man)" for name in settings.unknown]

        folder = self.folder
        if folder is None:
            sharelib = self.request.config.get(SHARELIB_KEY)
            if sharelib is not None and not isinstance(sharelib, str):
                return setup_failed(f'Config entry "{SHARELIB_KEY}" must be a string (a path)', self.warning)
            sharelib = (sharelib or "").strip().rstrip("/")
            if not sharelib or "\0" in sharelib:
                return setup_failed(f'Config entry "{SHARELIB_KEY}" is missing or empty', self.warning)
            folder = library.module_dir_name(sharelib)
        try:
            available = library.modules(folder)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return ModResponse.failure(LIST_FAILED, f"Failed to get WASM modules: cannot list {folder}: {reason}", self.warning)

        if settings.list_modules:
            response = ModResponse(retcode=OK, message=MSG_LISTED, warning=self.warning)
            response.merge_data({"modules": sorted(available)})
            return response

        path = available.get(settings.module_id)
        if path is None:
            return ModResponse.failure(SETUP_FAILED, f'Module "{settings.module_id}" was not found', self.warning)
        return self.run(settings, path)

    # Paths are strings here, spelled as pathlib spells them (sysinspect_wasm.paths): pathlib, with what it imports,
    # would cost every warm call several milliseconds.

    def _rootfs(self, settings: RuntimeSettings) -> tuple[str, str]:
        """``(the host directory shown as guest "/", "")``, or ``("", the reason it cannot be used)``."""
        if settings.rootfs is None:
            return "/", ""
        name = "rt.rootfs" if "rt.rootfs" in self.request.arguments else "write-dir"
        if not settings.rootfs.startswith("/"):
            return "", f'Argument "{name}" must be an absolute path'
        if "\0" in settings.rootfs:
            return "", f'Argument "{name}" must not contain NUL bytes'
        root = paths.pure(settings.rootfs)
        # Checked before the guest runs: a guest given a root that is not there would only fail on its first file
        # access, and the caller would see nothing but "module exited with status 1".
        try:
            info = os.stat(root)
        except FileNotFoundError:
            return "", (f'the directory of argument "{name}" ({root}) does not exist: create it first, '
                        "or name an existing directory")
        except OSError as exc:
            return "", f'cannot use the directory of argument "{name}" ({root}): {exc.strerror or exc}'
        import stat

        if not stat.S_ISDIR(info.st_mode):
            return "", f'argument "{name}" ({root}) is not a directory: name a directory to show the guest as "/"'
        return root, ""

    def _limits(self, settings: RuntimeSettings) -> Limits:
        from sysinspect_wasm.spec import DEFAULT_MEMORY_BYTES, DEFAULT_STDERR_BYTES, DEFAULT_STDOUT_BYTES, Limits

        output = settings.output_kb * KIB if settings.output_kb is not None else None
        return Limits(
            timeout=float(self.request.timeout) if self.request.timeout else None,
            memory_bytes=settings.memory_mb * MIB if settings.memory_mb is not None else DEFAULT_MEMORY_BYTES,
            stdout_bytes=output if output is not None else DEFAULT_STDOUT_BYTES,
            stderr_bytes=output if output is not None else DEFAULT_STDERR_BYTES,
        )

    def run(self, settings: RuntimeSettings, path: str) -> ModResponse:
        from sysinspect_wasm.backends import get_backend
        from sysinspect_wasm.errors import BackendUnavailable, ModuleLoadError

        module_id = settings.module_id
        root, problem = self._rootfs(settings)
        if problem:
            return setup_failed(problem, self.warning)
        try:
            backend = get_backend(settings.backend)
        except BackendUnavailable as exc:
            return setup_failed(str(exc), self.warning)
        if settings.backend == AUTO and backend.name != WASMTIME:
            self.warning.append(f"wasmtime cannot be used here: the module ran on the {backend.name} backend (much slower)")

        limits = self._limits(settings)
        header = build_header(self.request, add_options=("man",) if settings.man else ())
        spec = guest_run_spec(module_id, header, root, limits, writable=not settings.sandbox,
                              allow_exec=not settings.sandbox, trace=self.trace)
        try:
            module = backend.load(path, name=module_id)
        except ModuleLoadError as exc:
            self._detail(module_id, backend.name, str(exc))
            return run_failed(module_id, self._load_reason(path), self.warning)
        self.warning += module.warnings
        collect_from_here()
        result = module.run(spec)
        return self._result(module_id, backend.name, path, limits, result, module)

    def _detail(self, module_id: str, backend: str, detail: str) -> None:
        if detail:
            _write(self.stderr, f'wasm-runtime: module "{module_id}" ({backend} backend): {detail}\n'.encode("utf-8", "replace"))

    @staticmethod
    def _load_reason(path: str, data: bytes | None = None) -> str:
        """Why the module file ``path`` (its bytes ``data``, read here when not given) does not load."""
        from .diagnose import load_problem

        if data is None:
            try:
                data = paths.read_bytes(path)
            except OSError as exc:
                return f"invalid module: cannot read {paths.name(path)}: {exc.strerror or exc}"
        return f"invalid module: {load_problem(data)}"

    def _backtrace(self, module_id: str, wasm: bytes | None, result: RunResult, reason: str) -> str:
        """Write the trap's backtrace to stderr; ``reason`` naming the innermost named frame where the trap is the
        guest's own fault (not where a limit stopped it, which the reason is about, nor the depth at which its stack
        overflowed: those places differ between the backends). ``wasm``: the module's bytes (``None``: no longer to
        be had, and no backtrace)."""
        from sysinspect_wasm.backtrace import resolve  # only a trap pays for names and DWARF
        from sysinspect_wasm.traps import TrapKind

        if wasm is None:
            return reason
        backtrace = resolve(result.frames, wasm)
        lines = "\n".join(backtrace.lines())
        _write(self.stderr, f'wasm-runtime: module "{module_id}" backtrace, innermost first:\n{lines}\n'
               .encode("utf-8", "replace"))
        assert result.trap is not None
        kind = result.trap.kind
        if kind.value not in TRAP_WORDS or kind is TrapKind.STACK_OVERFLOW:
            return reason
        summary = backtrace.summary()
        return f"{reason} {summary}" if summary else reason

    def _trap_reason(self, trap: Trap, module: Module, path: str, limits: Limits) -> str:
        from sysinspect_wasm.traps import TrapKind

        kind = trap.kind
        if kind is TrapKind.TIMEOUT:
            return timeout_reason(self.request.timeout)
        if kind is TrapKind.MEMORY_LIMIT:
            return (f"memory limit: the module needs more than {limits.memory_bytes // MIB} MiB of linear memory "
                    "(the argument rt.memory-mb raises the limit)")
        if kind is TrapKind.OUTPUT_LIMIT:
            return (f"output limit: the module wrote more than {limits.stdout_bytes // KIB} KiB to its standard output "
                    f"or more than {limits.stderr_bytes // KIB} KiB to its standard error "
                    "(the argument rt.output-kb raises the limit)")
        if kind is TrapKind.LINK_ERROR:
            from .diagnose import link_problem

            wasm = module.module_bytes()
            problem = None if wasm is None else link_problem(wasm)
            return f"link error: {problem or 'the module cannot be linked against WASI and the host API'}"
        if kind is TrapKind.INVALID_MODULE:
            return self._load_reason(path, module.module_bytes())
        return f"wasm trap: {TRAP_WORDS.get(kind.value, kind.value)}"

    def _result(self, module_id: str, backend: str, path: str, limits: Limits, result: RunResult,
                module: Module) -> ModResponse:
        if result.stderr:
            echo = result.stderr[:STDERR_ECHO_BYTES]
            if len(result.stderr) > STDERR_ECHO_BYTES:
                echo += f"\n... ({len(result.stderr)} bytes in all)".encode()
            _write(self.stderr, f'wasm-runtime: module "{module_id}" wrote to its standard error:\n'.encode()
                   + echo + (b"" if echo.endswith(b"\n") else b"\n"))
            text = result.stderr.decode("utf-8", "replace").rstrip()
            if len(text) > STDERR_WARNING_CHARS:
                text = text[:STDERR_WARNING_CHARS] + f"... ({len(result.stderr)} bytes in all)"
            self.warning.append(f'module "{module_id}" wrote to its standard error: {text}')

        if result.trap is not None:
            self._detail(module_id, backend, str(result.trap))
            # the module's bytes, for the reason and the backtrace: read from its file at most once in a call
            reason = self._trap_reason(result.trap, module, path, limits)
            if result.frames:
                reason = self._backtrace(module_id, module.module_bytes(), result, reason)
            response = run_failed(module_id, reason, self.warning)
        elif result.exit_code != 0:
            response = run_failed(module_id, f"module exited with status {result.exit_code}", self.warning)
        else:
            try:
                data = guest_data(result.stdout, result.logs)
            except OutputError as exc:
                return ModResponse.failure(DATA_FAILED, f"Failed to set response data: {exc}", self.warning)
            response = ModResponse(retcode=OK, message=MSG_RAN, warning=self.warning)
            response.merge_data(data)
            return response
        if result.logs:
            response.merge_data({LOGS_KEY: list(result.logs)})
        return response


TRAP_WORDS = {
    "unreachable": "unreachable instruction executed",
    "out-of-bounds memory": "out of bounds memory access",
    "divide by zero": "integer divide by zero",
    "integer overflow": "integer overflow",
    "invalid conversion": "invalid conversion to integer",
    "indirect-call mismatch": "indirect call type mismatch",
    "undefined table element": "undefined element: out of bounds table access",
    "stack overflow": "call stack exhausted",
}
"""Trap kinds in words, for the message of a trapped run (the same on both backends)."""
