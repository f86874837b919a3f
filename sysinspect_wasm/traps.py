"""The shared vocabulary of ways a guest run can fail.

Both backends classify every failure into one of these kinds, so that a
wasmtime result and a pywasm result can be compared exactly. The free-text
message that comes with a trap is backend-specific and never compared.
"""

from __future__ import annotations

import enum

from .records import FrozenRecord


class TrapKind(enum.StrEnum):
    """Why a guest stopped before finishing on its own."""

    UNREACHABLE = "unreachable"
    OUT_OF_BOUNDS = "out-of-bounds memory"
    DIVIDE_BY_ZERO = "divide by zero"
    INTEGER_OVERFLOW = "integer overflow"
    INVALID_CONVERSION = "invalid conversion"
    INDIRECT_CALL_MISMATCH = "indirect-call mismatch"
    UNDEFINED_ELEMENT = "undefined table element"
    STACK_OVERFLOW = "stack overflow"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory limit"
    OUTPUT_LIMIT = "output limit"
    LINK_ERROR = "link error"
    INVALID_MODULE = "invalid module"


class Trap(FrozenRecord):
    """A classified guest failure: the kind is compared, the message is for people.

    ``frames`` is where a wasm trap happened, when the backend knows it: ``(function index, byte offset in the
    module)`` per frame, innermost first (the wasmtime backend fills it from the trap's trace; empty otherwise).
    """

    __match_args__ = ("kind", "message", "frames")
    kind: TrapKind
    message: str
    frames: tuple[tuple[int, int], ...]

    def __init__(self, kind: TrapKind, message: str = "", frames: tuple[tuple[int, int], ...] = ()) -> None:
        self.__dict__.update(kind=kind, message=message, frames=frames)

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}" if self.message else self.kind.value
