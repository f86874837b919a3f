"""A trapped guest's call stack on pywasm, as the raw frames wasmtime reports: function index, module offset.

pywasm keeps, while it runs, all that a backtrace needs, so running costs
nothing more: its frame stack, and for each frame the labels of the blocks it
is in, each with its instruction list and the index just past the instruction
being executed. Only after a trap do we read them:

* a frame's function is the one whose body is the instruction list of the
  frame's first label (the function's own label);
* the instruction is found by its position in the body: pywasm nests a
  block's instructions inside the block instruction, and counting in order,
  without the ``else`` and ``end`` markers the binary format has and pywasm
  drops, gives its rank among the body's instructions;
* the binary body, walked instruction by instruction with the shared
  decoder (:mod:`sysinspect_wasm.opcodes`), gives that rank's byte offset.

The innermost frame points at the trapping instruction, every other one at
its call, exactly as wasmtime's frames do.
"""

from __future__ import annotations

from typing import Any

from sysinspect_wasm.opcodes import skip_instruction
from sysinspect_wasm.traps import Frame
from sysinspect_wasm.wasmbinary import (
    SECTION_CODE,
    DecodeError,
    code_start,
    read_bodies,
    read_sections,
)

from .loader import ENGINE

_BLOCK = ENGINE.opcode.block
_LOOP = ENGINE.opcode.loop
_IF = ENGINE.opcode.if_then
_STRUCTURE = (0x05, 0x0B)  # else, end: markers in the binary, not instructions in pywasm
_FUNCTION_LABEL = 2  # Label.carry bit of a function's own label


def trap_frames(machine: Any, wasm: bytes) -> tuple[Frame, ...]:
    """The frames of the call stack ``machine`` stopped in, innermost first (empty where it cannot be read)."""
    try:
        bodies = _bodies(wasm)
        return _frames(machine, bodies, wasm)
    except (DecodeError, IndexError, AttributeError, KeyError):
        return ()


def _bodies(wasm: bytes) -> list[tuple[int, int]]:
    code = next((s for s in read_sections(wasm) if s.id == SECTION_CODE), None)
    return [] if code is None else read_bodies(wasm, code)


def _frames(machine: Any, bodies: list[tuple[int, int]], wasm: bytes) -> tuple[Frame, ...]:
    store_funcs = machine.store.func
    index_of: dict[int, int] = {}  # id of a body's instruction list -> its function's index
    imported = 0
    scanned: set[int] = set()
    for frame in machine.stack.frame:  # the module instances on the stack (a WASI command: its own)
        module = frame.module
        if id(module) in scanned or not module.func:
            continue
        scanned.add(id(module))
        imported = len(module.func) - len(bodies)
        for position, address in enumerate(module.func):
            code = getattr(store_funcs[address], "code", None)
            # vars(): a body the module cache has not decoded yet (never run, so on no stack) stays undecoded
            expr = None if code is None else vars(code).get("expr")
            if expr is not None:
                index_of[id(expr.data)] = position
    labels = machine.stack.label
    # a function's own label starts each frame's run of labels: split the label stack there
    starts = [i for i, label in enumerate(labels) if label.carry & _FUNCTION_LABEL]
    frames: list[Frame] = []
    walked: dict[int, list[int]] = {}  # function index -> its instructions' offsets (a recursion walks it once)
    for number, start in enumerate(starts):
        chain = labels[start : starts[number + 1] if number + 1 < len(starts) else len(labels)]
        index = index_of.get(id(chain[0].instr))
        rank = _rank(chain)
        if index is None or rank is None or not 0 <= index - imported < len(bodies):
            continue
        offsets = walked.get(index)
        if offsets is None:
            offsets = walked[index] = _offsets(wasm, bodies[index - imported])
        if rank >= len(offsets):
            raise DecodeError(f"function {index} has no instruction number {rank}")
        frames.append(Frame(index, offsets[rank]))
    frames.reverse()
    return tuple(frames)


def _size(instrs: list[Any]) -> int:
    """How many instructions ``instrs`` hold, the nested blocks' included."""
    total = 0
    for instr in instrs:
        total += 1
        opcode = instr.opcode
        if opcode in (_BLOCK, _LOOP):
            total += _size(instr.args[1])
        elif opcode == _IF:
            total += _size(instr.args[1]) + _size(instr.args[2])
    return total


def _rank(chain: list[Any]) -> int | None:
    """The rank, in the function body, of the instruction a frame's labels point at."""
    rank = 0
    for depth, label in enumerate(chain):
        executing = label.index - 1
        if executing < 0:
            return None
        rank += _size(label.instr[:executing])
        if depth + 1 == len(chain):
            return rank
        instr = label.instr[executing]
        inner = chain[depth + 1].instr
        rank += 1  # the block instruction itself
        if instr.opcode == _IF and inner is instr.args[2]:
            rank += _size(instr.args[1])
        elif instr.opcode not in (_BLOCK, _LOOP, _IF):
            return None
    return None


def _offsets(wasm: bytes, body: tuple[int, int]) -> list[int]:
    """The module offset of each instruction of the function body at ``body``, in order, as pywasm counts them."""
    start, end = body
    pos = code_start(wasm, start)
    offsets = []
    while pos < end:
        if wasm[pos] not in _STRUCTURE:
            offsets.append(pos)
        pos = skip_instruction(wasm, pos)
    return offsets
