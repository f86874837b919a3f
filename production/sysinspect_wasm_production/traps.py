"""Classifying what wasmtime reports into the shared trap vocabulary.

Wasm traps carry a trap code, and the code decides. Only errors without a
code (instantiation and link failures, WASI refusing a guest's pointer, a
bad ``proc_exit`` status) are told apart by their text, since wasmtime gives
nothing else. Our own reasons for stopping a guest (timeout, output limit)
are not classified here: the run's Interrupt knows them and wins.
"""

from __future__ import annotations

import wasmtime
from wasmtime import TrapCode

from sysinspect_wasm.traps import Trap, TrapKind

_BY_CODE: dict[TrapCode, TrapKind] = {
    TrapCode.UNREACHABLE: TrapKind.UNREACHABLE,
    TrapCode.MEMORY_OUT_OF_BOUNDS: TrapKind.OUT_OF_BOUNDS,
    TrapCode.HEAP_MISALIGNED: TrapKind.OUT_OF_BOUNDS,
    TrapCode.ARRAY_OUT_OF_BOUNDS: TrapKind.OUT_OF_BOUNDS,
    TrapCode.INTEGER_DIVISION_BY_ZERO: TrapKind.DIVIDE_BY_ZERO,
    TrapCode.INTEGER_OVERFLOW: TrapKind.INTEGER_OVERFLOW,
    TrapCode.BAD_CONVERSION_TO_INTEGER: TrapKind.INVALID_CONVERSION,
    TrapCode.BAD_SIGNATURE: TrapKind.INDIRECT_CALL_MISMATCH,
    TrapCode.CAST_FAILURE: TrapKind.INDIRECT_CALL_MISMATCH,
    TrapCode.INDIRECT_CALL_TO_NULL: TrapKind.UNDEFINED_ELEMENT,
    TrapCode.TABLE_OUT_OF_BOUNDS: TrapKind.UNDEFINED_ELEMENT,
    TrapCode.NULL_REFERENCE: TrapKind.UNDEFINED_ELEMENT,
    TrapCode.STACK_OVERFLOW: TrapKind.STACK_OVERFLOW,
    TrapCode.INTERRUPT: TrapKind.TIMEOUT,
    TrapCode.OUT_OF_FUEL: TrapKind.TIMEOUT,
    TrapCode.ALLOCATION_TOO_LARGE: TrapKind.MEMORY_LIMIT,
}

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


def classify_trap(trap: wasmtime.Trap, guards: frozenset[int] = frozenset()) -> Trap:
    """The shared trap for a wasm trap; an ``unreachable`` in a memory.grow guard is the memory limit."""
    message = summary(trap.message)
    code = trap.trap_code
    kind = _BY_CODE.get(code, TrapKind.UNREACHABLE) if code is not None else TrapKind.UNREACHABLE
    if code is TrapCode.UNREACHABLE and guards:
        frames = trap.frames
        if frames and frames[0].func_index in guards:
            return Trap(TrapKind.MEMORY_LIMIT, MEMORY_LIMIT_MESSAGE)
    return Trap(kind, message)


def classify_error(error: wasmtime.WasmtimeError, *, linking: bool) -> Trap:
    """The shared trap for an error without a trap code (``linking``: it came from instantiation)."""
    text = str(error)
    message = summary(text)
    if any(marker in text for marker in _MEMORY_LIMIT_TEXT):
        return Trap(TrapKind.MEMORY_LIMIT, message)
    if any(marker in text for marker in _LINK_TEXT):
        return Trap(TrapKind.LINK_ERROR, message)
    if any(marker in message for marker in _GUEST_POINTER_TEXT):
        return Trap(TrapKind.OUT_OF_BOUNDS, message)
    return Trap(TrapKind.LINK_ERROR if linking else TrapKind.UNREACHABLE, message)


def classify(exc: Exception, guards: frozenset[int] = frozenset(), *, linking: bool = False) -> Trap:
    """The shared trap for a wasmtime exception (not an ExitTrap: that is an exit code)."""
    if isinstance(exc, wasmtime.Trap):
        return classify_trap(exc, guards)
    if isinstance(exc, wasmtime.WasmtimeError):
        return classify_error(exc, linking=linking)
    return Trap(TrapKind.UNREACHABLE, f"{type(exc).__name__}: {exc}")
