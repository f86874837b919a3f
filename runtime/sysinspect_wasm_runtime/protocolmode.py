"""Protocol mode of ``wasm-runtime``, and the command's entry point.

:func:`main` is what the ``wasm-runtime`` console script, ``python -m
sysinspect_wasm_runtime`` and the launchers' ``boot.py`` call. Without
arguments (a minion's call) it reads one request on standard input and writes
one response line on standard output (:func:`protocol_mode`), keeping file
descriptor 1 away from everything but that line, answering by itself when a
backend overruns the timeout, and draining an oversized request. With
arguments it hands over to the developer command line
(:mod:`sysinspect_wasm_runtime.cli`), imported only then: every warm call
pays for what this module imports, and nothing more.
"""

from __future__ import annotations

import gc
import os
import sys

# Every module this one imports is paid by every call: contextlib and typing are not among them (the suppressions
# below are written out, and TYPE_CHECKING is the constant mypy knows).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .request import ModRequest
    from .response import ModResponse

WATCHDOG_GRACE = 5.0
"""Seconds past the request's timeout after which the runtime answers by itself, whatever the backend does."""
MAX_DRAIN_BYTES = 256 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``wasm-runtime``: protocol mode without arguments, else the command line.

    Called with ``argv`` it returns the exit status. Called without (as the
    console script is), it ends the process itself once the output is
    flushed: interpreter shutdown has nothing left to do, and wasmtime's
    native worker threads can panic while it runs, which would turn the exit
    status that the protocol promises (0) into an abort.
    """
    args = sys.argv[1:] if argv is None else argv
    if argv is None and not args:
        # A minion's call: one request, then os._exit. Until the guest runs, the runtime only imports and loads,
        # building objects that live until the exit; the cyclic collector would scan them again and again for
        # nothing (about 2 ms of a warm call). protocol.py turns it back on before the guest's run.
        gc.disable()
    try:
        if args:
            from .cli import command_line

            status = command_line(args)
        else:
            status = protocol_mode()
    except BrokenPipeError:
        status = _reader_went_away()
    if argv is not None:
        return status
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            continue
    os._exit(status)


def _reader_went_away() -> int:
    """Standard output was closed early (``wasm-runtime -l | head``): stop quietly, as a filter should."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        return 0
    return 0


# -- protocol mode ----------------------------------------------------------


class _Stdout:
    """The one response line, written once, to a standard output nothing else can reach.

    While the request is handled, file descriptor 1 points at standard error,
    so that nothing a library or a backend prints (Python or native) can
    corrupt the response; the real standard output is kept aside for it.
    """

    def __init__(self) -> None:
        import _thread  # not threading: only a request with a timeout needs that (for its watchdog)

        self.lock = _thread.allocate_lock()
        self.sent = False
        try:  # noqa: SIM105 - contextlib costs every call its import
            _ensure_open(2)
        except OSError:
            pass
        try:
            self.fd = os.dup(1)
            os.dup2(2, 1)
        except OSError:
            self.fd = 1

    def emit(self, response: ModResponse) -> bool:
        """Write ``response`` as one line unless one was written already."""
        with self.lock:
            if self.sent:
                return False
            self.sent = True
            data = _response_line(response)
            while data:
                try:
                    written = os.write(self.fd, data)
                except InterruptedError:
                    continue
                except OSError:
                    break
                data = data[written:]
            return True


def _ensure_open(fd: int) -> None:
    """Put /dev/null on ``fd`` when it is closed, so that no later ``open`` or ``dup`` can land there."""
    try:
        os.fstat(fd)
    except OSError:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)


def _response_line(response: ModResponse) -> bytes:
    from .protocol import internal_error

    try:
        text = response.to_json()
    except (TypeError, ValueError) as exc:
        text = internal_error(exc).to_json()
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        import json  # only for a response that cannot be UTF-8

        return (json.dumps(response.as_dict(), separators=(",", ":")) + "\n").encode("ascii")


def _read_stdin() -> bytes:
    from .request import MAX_REQUEST_BYTES

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return b""
    if stream.isatty():
        from sysinspect_wasm.usage import PROG  # only at a terminal

        sys.stderr.write(f"{PROG}: reading a JSON request from standard input (end it with Ctrl-D; see {PROG} --help)\n")
    raw: bytes = stream.read(MAX_REQUEST_BYTES + 1)
    if len(raw) > MAX_REQUEST_BYTES:
        # read the rest, so that the caller's write does not fail before it reads our answer
        drained = len(raw)
        while drained < MAX_DRAIN_BYTES and (chunk := stream.read(1 << 20)):
            drained += len(chunk)
    return raw


def _watchdog(out: _Stdout, request: ModRequest) -> None:
    """Answer with the timeout response if the backend has not stopped the guest in time."""
    import threading

    from .protocol import run_failed, timeout_reason

    module_id = request.arguments.get("rt.mod")
    module_id = module_id if isinstance(module_id, str) else ""

    def fire() -> None:
        response = run_failed(module_id, timeout_reason(request.timeout))
        response.warning.append(f"the backend did not stop the module in time: the runtime stopped it {WATCHDOG_GRACE:g} s later")
        if out.emit(response):
            os._exit(0)

    timer = threading.Timer(request.timeout + WATCHDOG_GRACE, fire)
    timer.daemon = True
    timer.start()


def protocol_mode() -> int:
    """Read one request from stdin, write one response line to stdout, return 0 whatever happens."""
    out = _Stdout()
    try:
        from .protocol import bad_request, handle
        from .request import RequestError, parse_request

        raw = _read_stdin()
        try:
            request = parse_request(raw)
        except RequestError as exc:
            response = bad_request(str(exc))
        else:
            if request.timeout:
                _watchdog(out, request)
            response = handle(request)
    except BaseException as exc:
        from .protocol import internal_error

        response = internal_error(exc)
    out.emit(response)
    return 0
