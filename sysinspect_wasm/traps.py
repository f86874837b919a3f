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
    """A classified guest failure: the kind is compared, the message is for people."""

    __match_args__ = ("kind", "message")
    kind: TrapKind
    message: str

    def __init__(self, kind: TrapKind, message: str = "") -> None:
        self.__dict__.update(kind=kind, message=message)

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}" if self.message else self.kind.value


class Frame(FrozenRecord):
    """One frame of a trapped guest's call stack, as raw as both backends can give it.

    ``func_index`` is the function's index in the module's function index space
    (imports first), ``module_offset`` the byte offset, from the start of the module
    file, of the instruction the frame was executing: the trapping instruction in the
    innermost frame, the call in every other. Both refer to the module as its author
    built it, never to a copy a backend rewrote. Names and source lines are resolved
    from these and the module's bytes only when someone asks (:mod:`.backtrace`).
    """

    __match_args__ = ("func_index", "module_offset")
    func_index: int
    module_offset: int

    def __init__(self, func_index: int, module_offset: int) -> None:
        self.__dict__.update(func_index=func_index, module_offset=module_offset)
