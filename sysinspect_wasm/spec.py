"""What a run is asked to do: the RunSpec and its parts."""

from __future__ import annotations

from .records import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from .hostapi import HostContext

MIB = 1024 * 1024
WASM_PAGE = 65536
"""Bytes in one page of linear memory."""
MAX_PAGES = 65536
"""The most pages a 32-bit memory can have (4 GiB): the WebAssembly limit every backend enforces."""

DEFAULT_MEMORY_BYTES = 256 * MIB
"""Default linear-memory ceiling: generous for Go guests, bounded for the host."""

DEFAULT_STDOUT_BYTES = 8 * MIB
DEFAULT_STDERR_BYTES = 1 * MIB


class Preopen(FrozenRecord):
    """A host directory shown to the guest at ``guest_path``.

    A read-only preopen (``writable=False``) refuses every write, create,
    rename and delete; the guest can never reach anything outside
    ``host_path`` through it, whatever ``..``, absolute paths or symlinks say.
    """

    __match_args__ = ("host_path", "guest_path", "writable")
    host_path: Path | str
    guest_path: str
    writable: bool

    def __init__(self, host_path: Path | str, guest_path: str, writable: bool = False) -> None:
        self.__dict__.update(host_path=host_path, guest_path=guest_path, writable=writable)


class Limits(FrozenRecord):
    """Resource limits for one run; every limit stops the guest with a trap when hit.

    ``memory_bytes`` is the ceiling of the guest's linear memory in bytes
    (rounded down to whole 64 KiB pages); a ``memory.grow`` past it stops the
    guest with ``memory limit``. ``stdout_bytes``/``stderr_bytes`` cap what the
    guest may write; one byte more stops it with ``output limit``. ``timeout``
    is wall-clock seconds (``None``: no limit).
    """

    __match_args__ = ("timeout", "memory_bytes", "stdout_bytes", "stderr_bytes")
    timeout: float | None
    memory_bytes: int
    stdout_bytes: int
    stderr_bytes: int

    def __init__(self, timeout: float | None = None, memory_bytes: int = DEFAULT_MEMORY_BYTES,
                 stdout_bytes: int = DEFAULT_STDOUT_BYTES, stderr_bytes: int = DEFAULT_STDERR_BYTES) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive seconds or None, not {timeout!r}")
        if memory_bytes < WASM_PAGE:
            raise ValueError(f"memory_bytes must be at least one page ({WASM_PAGE}), not {memory_bytes!r}")
        if stdout_bytes < 0 or stderr_bytes < 0:
            raise ValueError("output caps must not be negative")
        self.__dict__.update(timeout=timeout, memory_bytes=memory_bytes, stdout_bytes=stdout_bytes,
                             stderr_bytes=stderr_bytes)

    @property
    def memory_pages(self) -> int:
        """The memory ceiling in whole WebAssembly pages."""
        return self.memory_bytes // WASM_PAGE


class RunSpec(FrozenRecord):
    """One run of a WASI command module (its ``_start``).

    ``argv`` is the whole argument vector including ``argv[0]`` (empty by
    default, as upstream passes none); ``env`` is the whole environment.
    ``env``, ``limits`` and ``host`` left out (or ``None``) get fresh defaults:
    an empty environment, ``Limits()`` and ``HostContext()``. ``trace``, when
    given, receives one line per WASI and host API call as it returns
    (:mod:`.trace`); a run without it traces nothing.
    """

    __match_args__ = ("argv", "env", "stdin", "preopens", "limits", "host", "trace")
    argv: tuple[str, ...]
    env: Mapping[str, str]
    stdin: bytes
    preopens: tuple[Preopen, ...]
    limits: Limits
    host: HostContext
    trace: Callable[[str], None] | None

    def __init__(self, argv: tuple[str, ...] = (), env: Mapping[str, str] | None = None, stdin: bytes = b"",
                 preopens: tuple[Preopen, ...] = (), limits: Limits | None = None,
                 host: HostContext | None = None, trace: Callable[[str], None] | None = None) -> None:
        if host is None:
            from .hostapi import HostContext

            host = HostContext()
        self.__dict__.update(argv=argv, env={} if env is None else env, stdin=stdin, preopens=preopens,
                             limits=Limits() if limits is None else limits, host=host, trace=trace)
