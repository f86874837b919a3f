"""Classifying why the pywasm engine stopped a guest, in wasmtime's terms.

pywasm has no trap codes: a failed check is an exception somewhere in its
interpreter. We classify from what was executing, never from message text:

1. our own signals carry their kind (timeout, memory limit, output limit);
2. otherwise the instruction being executed decides: the machine's current
   label holds the instruction list and the index just past the instruction;
3. where one instruction can fail in several ways, the kind of exception
   and the interpreter function that raised it decide (the innermost frame
   of the traceback): ``call_indirect`` failing inside ``into_ref`` read a
   null table entry, inside ``evaluate_call`` it hit the frame limit, and in
   the interpreter loop itself the signature did not match;
4. anything left is unclassifiable: it must not crash the host, so it gets
   the closest kind (``unreachable``: the guest cannot go on) and the Python
   error text is kept in the message.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sysinspect_wasm.traps import Trap, TrapKind

from .loader import ENGINE
from .signals import CheckFailed, DeadlineExceeded, HostTrap

FRAME_LIMIT = 1024
"""pywasm's call-depth limit (``assert len(self.stack.frame) < 1024`` in ``evaluate_call``)."""

_NAMES: dict[int, str] = ENGINE.opcode.name

# "i32.div_s" -> "div", "v128.load8_lane" -> "load", "memory.fill" -> "memory.fill"
_MEMORY_BULK = {"memory.init", "memory.copy", "memory.fill"}
_TABLE_ACCESS = {"table.get", "table.set", "table.init", "table.copy", "table.fill"}
_TRUNC = {f"{i}.trunc_{f}_{s}" for i in ("i32", "i64") for f in ("f32", "f64") for s in ("s", "u")}
_DIVISION = {f"{i}.{op}_{s}" for i in ("i32", "i64") for op in ("div", "rem") for s in ("s", "u")}


def current_opcode(machine: Any) -> int | None:
    """The opcode of the instruction the machine was executing, if it can be told."""
    labels = machine.stack.label
    if not labels:
        return None
    label = labels[-1]
    if not 0 < label.index <= len(label.instr):
        return None
    opcode: int = label.instr[label.index - 1].opcode
    return opcode


def _innermost_function(tb: TracebackType | None) -> str:
    name = ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return name


def _message(exc: BaseException, what: str) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{what} ({detail})" if what else detail


def _by_instruction(name: str, exc: BaseException, machine: Any) -> TrapKind | None:
    raised_in = _innermost_function(exc.__traceback__)
    if name == "unreachable":
        return TrapKind.UNREACHABLE
    if ".load" in name or ".store" in name or name in _MEMORY_BULK:
        return TrapKind.OUT_OF_BOUNDS
    if name in _TABLE_ACCESS:
        return TrapKind.UNDEFINED_ELEMENT
    if name in _DIVISION:
        return TrapKind.DIVIDE_BY_ZERO if isinstance(exc, ZeroDivisionError) else TrapKind.INTEGER_OVERFLOW
    if name in _TRUNC:
        # int(nan) raises ValueError; int(inf) OverflowError; a finite value out of range fails the range check
        return TrapKind.INVALID_CONVERSION if isinstance(exc, ValueError) else TrapKind.INTEGER_OVERFLOW
    if name in ("call", "call_indirect") and raised_in == "evaluate_call" and len(machine.stack.frame) >= FRAME_LIMIT:
        return TrapKind.STACK_OVERFLOW
    if name == "call_indirect":
        if isinstance(exc, IndexError) or raised_in == "into_ref":
            return TrapKind.UNDEFINED_ELEMENT
        if isinstance(exc, CheckFailed) and raised_in == "evaluate":
            return TrapKind.INDIRECT_CALL_MISMATCH
    return None


def classify(exc: BaseException, machine: Any) -> Trap:
    """The trap for exception ``exc`` raised while ``machine`` ran a guest."""
    if isinstance(exc, DeadlineExceeded):
        return Trap(TrapKind.TIMEOUT, "the guest ran past its time limit")
    if isinstance(exc, HostTrap):
        return Trap(exc.kind, exc.message)
    if isinstance(exc, RecursionError):
        return Trap(TrapKind.STACK_OVERFLOW, _message(exc, "host recursion limit"))
    if isinstance(exc, MemoryError):
        return Trap(TrapKind.MEMORY_LIMIT, _message(exc, "the host ran out of memory"))
    opcode = current_opcode(machine)
    name = _NAMES.get(opcode, "") if opcode is not None else ""
    kind = _by_instruction(name, exc, machine) if name else None
    if kind is None:
        return Trap(TrapKind.UNREACHABLE, _message(exc, f"unclassified failure at {name or 'an unknown instruction'}"))
    return Trap(kind, _message(exc, f"at {name}"))
