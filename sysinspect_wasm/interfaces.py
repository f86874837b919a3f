"""The structural types the host API takes: a guest's memory and a host command runner.

They are :class:`typing.Protocol` classes, and so need :mod:`typing` at run
time; the modules that take them (:mod:`.hostapi`, :mod:`.commands`) use them
in annotations only and name them from here lazily, so a warm protocol call
never imports ``typing``.
"""

from __future__ import annotations

from typing import Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .commands import CommandOutcome


class GuestMemory(Protocol):
    """A view of the calling guest's linear memory."""

    def size(self) -> int:
        """The memory's current size in bytes."""
        ...

    def read(self, ptr: int, length: int) -> bytes:
        """Bytes at ``[ptr, ptr+length)``; the caller has checked the bounds."""
        ...

    def write(self, ptr: int, data: bytes) -> None:
        """Store ``data`` at ``ptr``; the caller has checked the bounds."""
        ...


class CommandRunner(Protocol):
    """Runs ``argv`` (no shell) in ``cwd`` within ``timeout`` seconds."""

    def __call__(self, argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome: ...
