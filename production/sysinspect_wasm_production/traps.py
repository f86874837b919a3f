"""Classifying what wasmtime reports into the shared trap vocabulary.

Wasm traps carry a trap code, and the code decides. Only errors without a
code (instantiation and link failures, WASI refusing a guest's pointer, a
bad ``proc_exit`` status) are told apart by their text, since wasmtime gives
nothing else. Our own reasons for stopping a guest (timeout, output limit)
are not classified here: the run's Interrupt knows them and wins.

Both kinds of report are classified alike: those of the lean binding
(:mod:`.native`, a WASI run) and wasmtime-py's exceptions (bare instances).
"""

from __future__ import annotations

import sys

from . import native

TYPE_CHECKING = False
if TYPE_CHECKING:
    import wasmtime

    from sysinspect_wasm.traps import Trap, TrapKind

# sysinspect_wasm.traps (with its enum, and what enum imports) is imported when something is classified: a warm
# call that ends well never does.

_CODES = native.TRAP_CODES
_KINDS_BY_CODE = {  # trap code -> the TrapKind's name (the enum itself is imported when a trap is classified)
    "UNREACHABLE": "UNREACHABLE",
    "MEMORY_OUT_OF_BOUNDS": "OUT_OF_BOUNDS",
    "HEAP_MISALIGNED": "OUT_OF_BOUNDS",
    "ARRAY_OUT_OF_BOUNDS": "OUT_OF_BOUNDS",
    "INTEGER_DIVISION_BY_ZERO": "DIVIDE_BY_ZERO",
    "INTEGER_OVERFLOW": "INTEGER_OVERFLOW",
    "BAD_CONVERSION_TO_INTEGER": "INVALID_CONVERSION",
    "BAD_SIGNATURE": "INDIRECT_CALL_MISMATCH",
    "CAST_FAILURE": "INDIRECT_CALL_MISMATCH",
    "INDIRECT_CALL_TO_NULL": "UNDEFINED_ELEMENT",
    "TABLE_OUT_OF_BOUNDS": "UNDEFINED_ELEMENT",
    "NULL_REFERENCE": "UNDEFINED_ELEMENT",
    "STACK_OVERFLOW": "STACK_OVERFLOW",
    "INTERRUPT": "TIMEOUT",
    "OUT_OF_FUEL": "TIMEOUT",
    "ALLOCATION_TOO_LARGE": "MEMORY_LIMIT",
}
_BY_CODE: dict[int, TrapKind] = {}


def kind_of_code(code: int | None) -> TrapKind:
    """The trap kind of a wasmtime trap code (``None``, or one without a kind of its own: ``unreachable``)."""
    from sysinspect_wasm.traps import TrapKind

    if not _BY_CODE:
        _BY_CODE.update({_CODES[name]: TrapKind[kind] for name, kind in _KINDS_BY_CODE.items()})
    return _BY_CODE.get(code, TrapKind.UNREACHABLE) if code is not None else TrapKind.UNREACHABLE


# Errors without a trap code, by the text wasmtime gives them.
_MEMORY_LIMIT_TEXT = ("exceeds memory limits", "memory minimum size")
_LINK_TEXT = ("unknown import", "incompatible import type", "import type", "failed to find")
# WASI (wiggle) refusing a pointer the guest passed: it stops the guest
_GUEST_POINTER_TEXT = ("out of bounds", "not aligned", "pointer overflow", "Pointer")

MEMORY_LIMIT_MESSAGE = "memory.grow was refused by the memory ceiling"


def summary(text: str) -> str:
    """The most telling line of a wasmtime message (its innermost cause)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if "Caused by:" in lines:
        tail = lines[lines.index("Caused by:") + 1 :]
        if tail:
            return tail[-1]
    return lines[-1] if lines[0].startswith("error while executing") else lines[0]


def trap_of(message: str, code: int | None, frames: tuple[tuple[int, int], ...],
            guards: frozenset[int] = frozenset()) -> Trap:
    """The shared trap for a wasm trap; an ``unreachable`` in a memory.grow guard is the memory limit.

    ``frames``: ``(function index, module offset)`` per frame, innermost first; kept in the trap.
    """
    from sysinspect_wasm.traps import Trap, TrapKind

    kind = kind_of_code(code)
    if code == _CODES["UNREACHABLE"] and guards and frames and frames[0][0] in guards:
        return Trap(TrapKind.MEMORY_LIMIT, MEMORY_LIMIT_MESSAGE, frames)
    return Trap(kind, summary(message), frames)


def classify_trap(trap: wasmtime.Trap, guards: frozenset[int] = frozenset()) -> Trap:
    """The shared trap for a wasmtime-py trap (see :func:`trap_of`)."""
    code = trap.trap_code
    frames = tuple((frame.func_index, frame.module_offset) for frame in trap.frames)
    return trap_of(trap.message, None if code is None else code.value, frames, guards)


def classify_error(text: str, *, linking: bool) -> Trap:
    """The shared trap for an error without a trap code, by its ``text`` (``linking``: it came from instantiation)."""
    from sysinspect_wasm.traps import Trap, TrapKind

    message = summary(text)
    if any(marker in text for marker in _MEMORY_LIMIT_TEXT):
        return Trap(TrapKind.MEMORY_LIMIT, message)
    if any(marker in text for marker in _LINK_TEXT):
        return Trap(TrapKind.LINK_ERROR, message)
    if any(marker in message for marker in _GUEST_POINTER_TEXT):
        return Trap(TrapKind.OUT_OF_BOUNDS, message)
    return Trap(TrapKind.LINK_ERROR if linking else TrapKind.UNREACHABLE, message)


def classify(exc: Exception, guards: frozenset[int] = frozenset(), *, linking: bool = False) -> Trap:
    """The shared trap for a wasmtime report, lean or wasmtime-py's (not a WASI exit: that is an exit code)."""
    if isinstance(exc, native.NativeTrap):
        return trap_of(exc.message, exc.code, exc.frames, guards)
    if isinstance(exc, native.WasmtimeError):
        return classify_error(str(exc), linking=linking)
    from sysinspect_wasm.traps import Trap, TrapKind

    wasmtime = sys.modules.get("wasmtime")  # a wasmtime-py exception comes only from an imported wasmtime
    if wasmtime is not None:
        if isinstance(exc, wasmtime.Trap):
            return classify_trap(exc, guards)
        if isinstance(exc, wasmtime.WasmtimeError):
            return classify_error(str(exc), linking=linking)
    return Trap(TrapKind.UNREACHABLE, f"{type(exc).__name__}: {exc}")
