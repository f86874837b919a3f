"""What a run is asked to do: the RunSpec and its parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .hostapi import HostContext

MIB = 1024 * 1024
WASM_PAGE = 65536

DEFAULT_MEMORY_BYTES = 256 * MIB
"""Default linear-memory ceiling: generous for Go guests, bounded for the host."""

DEFAULT_STDOUT_BYTES = 8 * MIB
DEFAULT_STDERR_BYTES = 1 * MIB


@dataclass(frozen=True)
class Preopen:
    """A host directory shown to the guest at ``guest_path``.

    A read-only preopen (``writable=False``) refuses every write, create,
    rename and delete; the guest can never reach anything outside
    ``host_path`` through it, whatever ``..``, absolute paths or symlinks say.
    """

    host_path: Path
    guest_path: str
    writable: bool = False


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run; every limit stops the guest with a trap when hit.

    ``memory_bytes`` is the ceiling of the guest's linear memory in bytes
    (rounded down to whole 64 KiB pages); a ``memory.grow`` past it stops the
    guest with ``memory limit``. ``stdout_bytes``/``stderr_bytes`` cap what the
    guest may write; one byte more stops it with ``output limit``. ``timeout``
    is wall-clock seconds (``None``: no limit).
    """

    timeout: float | None = None
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    stdout_bytes: int = DEFAULT_STDOUT_BYTES
    stderr_bytes: int = DEFAULT_STDERR_BYTES

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be positive seconds or None, not {self.timeout!r}")
        if self.memory_bytes < WASM_PAGE:
            raise ValueError(f"memory_bytes must be at least one page ({WASM_PAGE}), not {self.memory_bytes!r}")
        if self.stdout_bytes < 0 or self.stderr_bytes < 0:
            raise ValueError("output caps must not be negative")

    @property
    def memory_pages(self) -> int:
        """The memory ceiling in whole WebAssembly pages."""
        return self.memory_bytes // WASM_PAGE


def _default_host() -> HostContext:
    from .hostapi import HostContext

    return HostContext()


@dataclass(frozen=True)
class RunSpec:
    """One run of a WASI command module (its ``_start``).

    ``argv`` is the whole argument vector including ``argv[0]`` (empty by
    default, as upstream passes none); ``env`` is the whole environment.
    """

    argv: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: bytes = b""
    preopens: tuple[Preopen, ...] = ()
    limits: Limits = field(default_factory=Limits)
    host: HostContext = field(default_factory=_default_host)
