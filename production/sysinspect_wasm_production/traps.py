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
    from collections.abc import Callable

    import wasmtime

    from sysinspect_wasm.traps import Frame, Trap, TrapKind

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

    ``frames``: ``(function index, module offset)`` per frame, innermost first (only the innermost is read).
    """
    from sysinspect_wasm.traps import Trap, TrapKind

    kind = kind_of_code(code)
    if code == _CODES["UNREACHABLE"] and guards and frames and frames[0][0] in guards:
        return Trap(TrapKind.MEMORY_LIMIT, MEMORY_LIMIT_MESSAGE)
    return Trap(kind, summary(message))


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


def trap_frames(trap: wasmtime.Trap | native.NativeTrap) -> tuple[Frame, ...]:
    """The frames of ``trap`` (wasmtime-py's or the lean binding's) as wasmtime gives them, innermost first:
    offsets in the module it compiled."""
    from sysinspect_wasm.traps import Frame

    if isinstance(trap, native.NativeTrap):
        return tuple(Frame(index, offset) for index, offset in trap.frames)
    return tuple(Frame(frame.func_index, frame.module_offset) for frame in trap.frames)


def author_frames(frames: tuple[Frame, ...], guards: frozenset[int],
                  source: Callable[[], bytes | None]) -> tuple[Frame, ...]:
    """``frames`` of the compiled module as frames of the module its author built (``source()``: its bytes).

    Only a trap pays for this. Two things are carried back:

    * the rewrite (when there are guards): the guards' own frames go (the
      author wrote no such function), and each offset is carried back. The
      rewrite replaces a ``memory.grow`` by a call of the same rank in the same
      body, so walking the rewritten body and the original one instruction by
      instruction, side by side, meets the original instruction. The rewritten
      bytes are made again from the original (the rewrite is deterministic);
    * a trap in a function's first instruction: with epoch interruption on,
      wasmtime gives the offset of the body's start (its local declarations,
      which are no instruction), so such an offset becomes the first
      instruction's, where pywasm (and wasmtime without epochs) puts it; so
      does a frame without an offset (a stack overflow, found at the entry).

    Frames that cannot be carried back are dropped rather than shown wrong.
    """
    from sysinspect_wasm.traps import Frame

    original = source()
    if original is None:
        return () if guards else frames
    from sysinspect_wasm.wasmbinary import SECTION_CODE, DecodeError, read_bodies, read_layout

    try:
        layout = read_layout(original)
        code = layout.section(SECTION_CODE)
        if code is None:
            return ()
        bodies = read_bodies(original, code)
        rewritten, new_bodies = original, bodies
        if guards:
            from .instrument import instrument

            prepared = instrument(original)
            new_code = read_layout(prepared.wasm).section(SECTION_CODE)
            if prepared.guards != guards or new_code is None:
                return ()
            rewritten, new_bodies = prepared.wasm, read_bodies(prepared.wasm, new_code)
        carried = []
        for frame in frames:
            if frame.func_index in guards:
                continue
            defined = frame.func_index - layout.imported_funcs
            if not 0 <= defined < len(bodies):
                return ()
            offset = _carried(original, bodies[defined], rewritten, new_bodies[defined], frame.module_offset)
            if offset is None:
                return ()
            carried.append(Frame(frame.func_index, offset))
    except (DecodeError, IndexError):
        return ()
    return tuple(carried)


def _carried(original: bytes, body: tuple[int, int], rewritten: bytes, new_body: tuple[int, int],
             offset: int) -> int | None:
    """The offset in ``original``'s ``body`` of the instruction at ``offset`` in ``rewritten``'s ``new_body``."""
    from sysinspect_wasm.opcodes import skip_instruction
    from sysinspect_wasm.wasmbinary import code_start

    old, new = code_start(original, body[0]), code_start(rewritten, new_body[0])
    if offset >= len(rewritten) or new_body[0] <= offset < new:
        # the body's start: wasmtime's offset for a trap in the function's first instruction; no offset at all
        # (all ones): a stack overflow, which wasmtime's check at the function's entry finds
        return old
    if not new_body[0] <= offset < new_body[1]:
        return None
    if new_body[1] - new_body[0] == body[1] - body[0]:  # no memory.grow rewritten in this body
        return old + offset - new
    while new < offset:
        new = skip_instruction(rewritten, new)
        old = skip_instruction(original, old)
    return old if new == offset else None


