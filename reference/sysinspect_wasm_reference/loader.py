"""pywasm's interpreter, re-compiled so that its checks survive ``python -O``.

pywasm signals every trap with an ``assert`` statement, and ``python -O``
strips those: traps would silently vanish. So, once per process, we read the
source of the installed pywasm (it must be 2.2.3, the version pinned in
pyproject.toml), rewrite its syntax tree and execute it into fresh module
objects under a private package name. A user's own ``import pywasm`` stays
untouched, and we never ship a copy of pywasm's code.

The rewrite does five things for correctness (and two more, 20 and 21 below), each counted against what
pywasm 2.2.3 contains (any difference stops the import with
:class:`EngineMismatch`):

1. every ``assert c, m`` becomes ``if not c: raise CheckFailed(m or "c")``;
2. in ``Machine.evaluate``, the ``memory.grow`` cap ``size + incr <= 1024``
   (64 MiB) becomes a call to :func:`memory_grow_permitted`, which applies
   the module's own maximum and our ceiling;
3. the debug-logging calls (``pywasm.log.debugln`` and the disassembly of
   every function body while parsing) are dropped: they cost a call per
   executed instruction even with logging off;
4. ``import pywasm.x`` statements are dropped; the name ``pywasm`` in each
   module is bound to our private package instead, so the rewritten modules
   only ever call each other;
5. in ``Machine.evaluate``, the body of each instruction pywasm computes
   wrongly (listed in :data:`.numerics.REPLACED`: signed zeros, NaN bits,
   double rounding, see :mod:`.numerics`) becomes: pop the operands' bits,
   call the function of the same name in :mod:`.numerics`, push the result.

Then it rewrites for speed, each counted the same way, none changing what a
guest computes or how it fails (the same exceptions from the same functions,
the same check messages, so :mod:`.traps` classifies alike). Gains are CPU
seconds of the run of the standard-Go ``sections-go`` corpus module (3.9 M
instructions) and, in brackets, of the C ``compute-float-c``, or of pywasm
decoding ``sections-go`` (4.4 MB) in full, measured one step after the other
with the same script on this project's (busy, shared) machine:

6. dispatch: ``match instr.opcode`` over 437 ``case pywasm.opcode.X``,
   which Python tests one after another (three name look-ups each), becomes
   a search tree of integer comparisons, split by measured opcode frequency
   (:data:`HOT_OPCODES`) so ``block``, half of a Go module's instructions,
   takes one comparison (:func:`dispatch_tree`);
7. values: in ``Machine.evaluate``, ``ValType.i32()`` and its kin become
   shared instances, ``ValInst.from_i32(n)`` (and ``i64``, ``u32``,
   ``u64``) a direct constructor, and ``v.into_i32()`` (and the other five
   scalar reads) an in-place ``struct`` read (:mod:`.fastpath`); 6 and 7
   together: 5.43 s to 3.27 s (0.43 s to 0.19 s);
8. block types: ``evaluate_bype`` returns shared empty and single-result
   ``FuncType`` objects instead of new ones for every block entered;
9. local stack: ``self.stack`` in ``Machine.evaluate`` (954 uses) is read
   once into a local; 8 and 9 together: 3.27 s to 2.80 s;
10. structured fast path: entering a ``block``, ``loop`` or ``if`` whose
    block type is empty or one value skips ``evaluate_bype`` and builds the
    label in place (:data:`STRUCTURED`); with the frequency-weighted tree of
    6: 2.80 s to 2.32 s (0.19 s to 0.18 s);
11. decoder dispatch: the decoder's ``match o.opcode`` (95 cases, in
    ``Inst.from_reader``) becomes a search tree too: decoding 3.90 s to 3.05 s;
12. (gone: pywasm's LEB128 readers summed while reading, 3.05 s to 2.65 s,
    until 15 and 21 pointed every call of them at our strict readers;
    nothing calls them now);
13. nested blocks: a block opening with a block enters both in one turn of
    the loop (:data:`STRUCTURED`): 2.34 s to 2.14 s;
14. opcode constants: every other ``pywasm.opcode.X`` (520) becomes its
    number; 15. direct LEB128 readers: the decoder's 192 calls of
    ``pywasm.leb128.u.decode_reader`` (and ``i``) call one name each, the
    strict reader of 21 (:data:`LEB_READERS`);
16. hot cases: ``local.get``, ``local.set``, ``local.tee`` use the loop's
    ``frame``, and ``i32.const``, ``i64.const`` build each value once
    (:data:`HOT_BODIES`); 14 to 16 together: 2.14 s to 1.95 s;
17. shared small values: the constructors of 7 share the values -1 to 16
    (comparisons give 0 and 1), except for ``f32.const`` and ``f64.const``,
    which retype their fresh value; 18. the decoder builds each ``Inst`` in
    place (``Inst.__init__`` only sets two fields); 17 and 18 together: within
    the noise of the machine;
19. stacks cut in place: a branch or return cuts the label, frame and value
    stacks with ``del`` instead of copying what stays (:data:`TRUNCATED`):
    with the module's bodies decoded on first use (:mod:`.cache`), 2.38 s to
    about 2.2 s.

And six that hold pywasm's binary reader to the spec (FINDINGS.md F12, F14, F15 to F18):

20. in ``ModuleDesc.from_reader``, each non-custom section must be read to
    its end (``section size mismatch``): pywasm reads a section's entries
    from a copy of its bytes and ignores what is left;
21. the parser's LEB128 reads call the strict readers of :mod:`.leb128`
    (u32 everywhere, s32 for ``i32.const``, s64 for ``i64.const``, s33 for
    block types) instead of pywasm's, which take any length; each is bound
    to a name of its own in the rewritten module (15);
22. ``Limits.from_reader`` gives a declared maximum of 0 as
    :class:`~.validation.ExplicitZero` (FINDINGS.md F14): pywasm's 0 means
    "no maximum", so a module's, an import's or a cached module's
    ``(memory 0 0)`` would otherwise grow, or link to any memory; and a
    limits flag other than 0 or 1 is malformed (pywasm takes any nonzero
    flag for "a maximum follows", so shared and 64-bit limits loaded as
    plain ones, FINDINGS.md F16);
23. ``FuncDesc.from_reader_code`` must read a function body to its end
    (``operators remaining after end of function``, FINDINGS.md F15): pywasm
    decodes a body up to the ``end`` that closes it and ignores what the body
    holds after it, so code after a function's final ``end`` loaded;
24. every sized read of the parser (a name, a data segment's bytes, a
    function body, a section, a ``v128.const``) must get all the bytes it
    asks for (:func:`read_exactly`, FINDINGS.md F12, F17): pywasm's
    ``r.read(n)`` gives what is left, so a body, a segment or a name cut
    short by its section's end loaded as if it were shorter;
25. ``ModuleDesc.from_reader`` reads every section (FINDINGS.md F18):
    pywasm reads at most 32 (``for _ in range(32)``), so a valid module of
    more sections (custom sections count) was refused, and before the
    backend checked for unread bytes the rest was ignored. The loop is now
    ``while True``, whose only ``break`` is at the module's last byte, so a
    decode that returns has read every byte: the backend's check for bytes
    left over could no longer fire and is gone.

Outside this module, the backend raises Python's young-generation garbage
collection threshold while a guest runs (:data:`.backend.GC_ALLOCATIONS`:
2.71 s to 2.38 s), and :mod:`.cache` lets a warm call decode only the
function bodies it runs. The compiled code of the rewritten modules is
cached too (:func:`compiled_engine`): a warm import takes 0.06 s of CPU
instead of 0.3 s.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib.metadata
import importlib.util
import json
import marshal
import os
import sys
import time
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.spec import MAX_PAGES, WASM_PAGE
from sysinspect_wasm.store import LOADED, Damaged, TooLarge, Untrusted, trace
from sysinspect_wasm.store.fileformat import MAX_FILE_BYTES, Formats, unpack
from sysinspect_wasm.store.key import cache_key, sha256_hex
from sysinspect_wasm.store.layout import engine_folder, file_name
from sysinspect_wasm.store.trust import open_folder, read_trusted
from sysinspect_wasm.traps import TrapKind

from . import fastpath, leb128, numerics
from .signals import CheckFailed, HostTrap
from .validation import ExplicitZero

PYWASM_VERSION = "2.2.3"
PACKAGE = "sysinspect_wasm_reference._pywasm"

# Rewritten, in dependency order; opcode and log have no checks and are used as installed.
REWRITTEN = ("leb128", "arith", "core", "wasi")
UNCHANGED = ("opcode", "log")

CHECK_NAME = "_sysinspect_check_failed"
GROW_HOOK_NAME = "_sysinspect_memory_grow_permitted"
NUMERICS_NAME = "_sysinspect_numerics"
ZERO_MAXIMUM_NAME = "_sysinspect_declared_maximum"
BODY_END_NAME = "_sysinspect_body_ended"
READ_EXACTLY_NAME = "_sysinspect_read_exactly"

# What pywasm 2.2.3 contains: the rewrite must find exactly this, or it stops.
EXPECTED: dict[str, Counter[str]] = {
    "leb128": Counter({"assert": 3}),
    "arith": Counter({"assert": 5, "import pywasm": 0}),
    "core": Counter({"assert": 183, "memory cap": 1, "debug log": 20, "import pywasm": 4, "section end": 1,
                     "leb u32": 189, "leb s32": 1, "leb s64": 1, "leb s33": 1, "declared maximum": 1, "body end": 1, "exact read": 10, "section count": 1,
                     **{f"numeric {name}": 1 for name in numerics.REPLACED},
                     "dispatch case": 437, "dispatch default": 1,
                     "shared type": 23, "direct constructor": 123, "fresh constructor": 2, "decoder inline instruction": 1, "in-place read": 230,
                     "shared block type": 2, "local stack": 954,
                     "structured fast path": 3, "decoder dispatch case": 95,
                     "opcode constant": 520,
                     **{f"hot {name}": 1 for name in ("local_get", "local_set", "local_tee", "i32_const", "i64_const")},
                     "truncate in place": 5}),
    "wasi": Counter({"assert": 4, "import pywasm": 1}),
}

_OPCODES = importlib.import_module("pywasm.opcode")


class EngineMismatch(ImportError, WasmRuntimeError):
    """The installed pywasm is not the one our rewrite was written for."""


@dataclass(frozen=True)
class Engine:
    """The rewritten pywasm modules."""

    core: Any
    wasi: Any
    arith: Any
    opcode: Any


def declared_maximum(maximum: int, present: int) -> int:
    """A limits' maximum as rewrite 22 gives it: a present maximum of 0 is :class:`~.validation.ExplicitZero`.

    ``present`` is the limits' flag byte: WebAssembly 2.0 has 0 (no maximum) and 1 (a maximum) only.
    """
    if present not in (0, 1):
        raise CheckFailed(f"malformed limits flags 0x{present:02x}")
    return ExplicitZero(0) if present and maximum == 0 else maximum


def read_exactly(reader: Any, size: int) -> bytes:
    """``size`` bytes of ``reader`` (rewrite 24): fewer is a module cut short, not a shorter item."""
    data: bytes = reader.read(size)
    if len(data) != size:
        raise CheckFailed(f"unexpected end of section or function: {size} bytes declared, {len(data)} left")
    return data


def body_ended(decoded: Any, reader: Any) -> Any:
    """A function body as rewrite 23 gives it: ``decoded``, once ``reader`` (the body's own bytes) is exhausted."""
    if reader.read(1):
        raise CheckFailed("operators remaining after end of function")
    return decoded


def memory_grow_permitted(machine: Any, mems: Any, size: int, incr: int) -> bool:
    """Decide a ``memory.grow`` by ``incr`` pages from ``size``: True grows, False gives -1.

    Past the module's own maximum (or 65536 pages) the answer is -1, as the
    spec says; within it but past our ceiling the guest is stopped with
    ``memory limit`` (the ceiling is ``machine.memory_ceiling_pages``).
    """
    wanted = size + incr
    declared_max = mems.type.limits.m or MAX_PAGES
    if wanted > min(declared_max, MAX_PAGES):
        return False
    ceiling: int = getattr(machine, "memory_ceiling_pages", MAX_PAGES)
    if wanted > ceiling:
        raise HostTrap(
            TrapKind.MEMORY_LIMIT,
            f"memory.grow to {wanted} pages ({wanted * WASM_PAGE} bytes) exceeds the ceiling of "
            f"{ceiling} pages ({ceiling * WASM_PAGE} bytes)",
        )
    return True


def numeric_body(name: str) -> list[ast.stmt]:
    """The new body of instruction ``name``'s case: operands' bits in, :mod:`.numerics` computes, result out."""
    operands, result = numerics.REPLACED[name]
    names = "abc"[:len(operands)]
    # the last operand is on top of the stack
    lines = [f"{var} = self.stack.value.pop().{numerics.ACCESSORS[kind][0]}()"
             for var, kind in reversed(list(zip(names, operands, strict=True)))]
    lines.append(f"self.stack.value.append(ValInst.{numerics.ACCESSORS[result][1]}({NUMERICS_NAME}.{name}({', '.join(names)})))")
    return ast.parse("\n".join(lines)).body


OPCODE_VAR = "_sysinspect_opcode"
STACK_VAR = "_sysinspect_stack"
BLOCK_TYPES = {
    "FuncType([], [])": f"{fastpath.BLOCK_PREFIX}empty",
    "FuncType([], [ValType(bype.data)])": f"{fastpath.BLOCK_PREFIX}result[bype.data]",
}
"""The block types ``evaluate_bype`` builds anew for every block entered, and the shared ones that replace them."""
HOT_OPCODES = {
    "block": 5000, "local_get": 1900, "i32_const": 870, "local_set": 460, "br_if": 380, "i64_const": 310,
    "i32_add": 370, "local_tee": 390, "i32_wrap_i64": 270, "i64_load": 240, "i64_add": 200, "if_then": 190,
    "i64_store": 150, "i64_extend_i32_u": 130, "i64_eqz": 110, "memory_init": 110, "data_drop": 110,
    "br_table": 100, "i32_eqz": 130, "global_set": 80, "global_get": 80, "br": 110, "i32_and": 90,
    "i32_load": 90, "i32_load8_u": 90, "select": 60, "i32_sub": 70, "i32_store": 50, "call": 50, "loop": 50,
}
"""Relative frequencies, per 10000 executed instructions, of the most frequent opcodes, measured on the corpus's
standard-Go ``sections-go`` (3.9 M instructions, half of them ``block``) and C ``compute-float-c`` (0.26 M); every
other opcode weighs 1. They only shape the dispatch tree (what is tested first), never what runs."""


def dispatch_tree(match: ast.Match, found: Counter[str], what: str) -> list[ast.stmt]:
    """``match instr.opcode`` as a binary search over the opcodes' values: a few integer comparisons, not up to 437.

    Each case is ``case pywasm.opcode.<name>``, a distinct constant, so the
    order of the tests does not matter; the closing ``case _`` becomes the
    ``else`` of every leaf. Only the first case of a value counts, as in a match. The tree is split by the
    weights of :data:`HOT_OPCODES`, so that ``block`` (half of what a Go module runs) costs one comparison.
    """
    cases: dict[int, list[ast.stmt]] = {}
    default: list[ast.stmt] = []
    for case in match.cases:
        if isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None and case.guard is None:
            found[f"{what} default"] += 1
            default = case.body
            continue
        if not isinstance(case.pattern, ast.MatchValue) or case.guard is not None:
            raise EngineMismatch(f"unexpected case in pywasm's interpreter loop: {ast.unparse(case.pattern)}")
        pattern = case.pattern.value  # the opcode-constant rewrite may have made it a number already
        name = ast.unparse(pattern).removeprefix("pywasm.opcode.")
        value = pattern.value if isinstance(pattern, ast.Constant) else getattr(_OPCODES, name, None)
        if not isinstance(value, int):  # not pywasm 2.2.3: the counts will not match, and the import stops
            found[f"{what} on undefined {name}"] += 1
            continue
        found[f"{what} case"] += 1
        cases.setdefault(value, case.body)
    opcode = ast.Name(OPCODE_VAR, ast.Load())

    weights = {getattr(_OPCODES, name): weight for name, weight in HOT_OPCODES.items()}

    def build(items: list[tuple[int, list[ast.stmt]]]) -> list[ast.stmt]:
        if len(items) == 1:
            value, body = items[0]
            test = ast.Compare(opcode, [ast.Eq()], [ast.Constant(value)])
            return [ast.If(test, body, copy.deepcopy(default) or [ast.Pass()])]
        # split where the weights on either side are closest to even: frequent opcodes end up near the root
        total = sum(weights.get(value, 1) for value, _ in items)
        below, middle, best = 0, 1, total
        for index in range(1, len(items)):
            below += weights.get(items[index - 1][0], 1)
            if abs(total - 2 * below) < best:
                middle, best = index, abs(total - 2 * below)
        test = ast.Compare(opcode, [ast.Lt()], [ast.Constant(items[middle][0])])
        return [ast.If(test, build(items[:middle]), build(items[middle:]))]

    assign = ast.Assign([ast.Name(OPCODE_VAR, ast.Store())], match.subject)
    return [ast.copy_location(assign, match), *build(sorted(cases.items()))]


_ENTRY_CHECK = """
if not len({stack}.value) >= label.value:
    raise {check}("len(self.stack.value) >= label.value + len(bype.args)")
"""
_NEW_LABEL = """
entered = {new}(Label)
entered.arity = {arity}
entered.frame = len({stack}.frame)
entered.value = len({stack}.value)
entered.carry = {carry}
entered.instr = {instr}
entered.index = 0
{stack}.label.append(entered)
"""
_NESTED_BLOCKS = """
inner = instr.args[1]
while inner and inner[0].opcode == {block} and inner[0].args[0].kind != 2:
    entered.index = 1
    nested = inner[0]
    inner = nested.args[1]
""" + _NEW_LABEL.replace("{arity}", "nested.args[0].kind").replace("{carry}", "1").replace("{instr}", "inner") \
    .replace("\n", "\n    ")
STRUCTURED = {
    "block": _ENTRY_CHECK + _NEW_LABEL.replace("{arity}", "instr.args[0].kind").replace("{carry}", "1")
    .replace("{instr}", "instr.args[1]") + _NESTED_BLOCKS,
    "loop": _ENTRY_CHECK + _NEW_LABEL.replace("{arity}", "0").replace("{carry}", "0").replace("{instr}", "instr.args[1]"),
    "if_then": "cond = {i32}({stack}.value.pop().data)[0]" + _ENTRY_CHECK
    + _NEW_LABEL.replace("{arity}", "instr.args[0].kind").replace("{carry}", "1")
    .replace("{instr}", "instr.args[1 if cond != 0 else 2]"),
}
"""Entering a block, loop or if whose block type is empty (kind 0) or one result (kind 1), as pywasm's own case
does it for these (no parameters; ``kind`` results; the same check with the same message), without building a
``FuncType`` and measuring it, and with the label's fields set in place (``Label.__init__`` only sets them, after
checking ``carry``, which is a constant 0 or 1 here); a block type by index (kind 2) takes pywasm's own case.

A block whose first instruction is such a block again (Go opens every function with dozens of them, nested)
enters that one too, and so on, in the same turn of the loop: exactly what the next turns would do (take the
instruction at index 0, set the index to 1, push its label), without their loop head and dispatch; their entry
check is left out because it cannot fail: the value stack is the height the label above was just given."""


TRUNCATED = {f"{owner}.{part}" for owner in ("self.stack", STACK_VAR) for part in ("frame", "label", "value")}
"""The machine's stacks: a branch or a return cuts them back by copying what stays, and a Go module's label stack
holds every open block of every frame (hundreds); they are cut in place instead. Only the stack object refers to
these lists (the backend clears them in place too), so the same list cut short is the same as a shorter copy."""

LEB_READERS = {reader: f"_sysinspect_leb_{reader}" for reader in ("read_u32", "read_s32", "read_s33", "read_s64")}
"""The strict readers of :mod:`.leb128` (rewrite 21) and the names they are bound to in the rewritten parser, so a
call costs one look-up instead of pywasm's three (rewrite 15)."""
SIGNED_READERS = {"i32_const": "read_s32", "i64_const": "read_s64"}
"""The decoder's cases whose signed LEB128 number is not a block type's (s33)."""

SECTION_END_CHECK = f"""
if section_id != 0x00 and section_reader.read(1):
    raise {CHECK_NAME}(f"section size mismatch: section {{section_id}} has bytes after its last entry")
"""


_CONSTANT = """
a = {cache}{kind}.get(instr.args[0])
if a is None:
    a = {new}{kind}(instr.args[0])
    if len({cache}{kind}) < {limit}:
        {cache}{kind}[instr.args[0]] = a
{stack}.value.append(a)
"""
HOT_BODIES = {
    "local_get": ("a = self.stack.frame[-1].locals.data[instr.args[0]]\nself.stack.value.append(a)",
                  "a = frame.locals.data[instr.args[0]]\n{stack}.value.append(a)"),
    "local_set": ("a = self.stack.value.pop()\nself.stack.frame[-1].locals.data[instr.args[0]] = a",
                  "a = {stack}.value.pop()\nframe.locals.data[instr.args[0]] = a"),
    "local_tee": ("a = self.stack.value[-1]\nself.stack.frame[-1].locals.data[instr.args[0]] = a",
                  "a = {stack}.value[-1]\nframe.locals.data[instr.args[0]] = a"),
    "i32_const": ("a = ValInst.from_i32(instr.args[0])\nself.stack.value.append(a)", _CONSTANT.replace("{kind}", "i32")),
    "i64_const": ("a = ValInst.from_i64(instr.args[0])\nself.stack.value.append(a)", _CONSTANT.replace("{kind}", "i64")),
}
"""The hottest small cases, pywasm's body and ours. ``frame`` is the loop's own ``self.stack.frame[-1]``, read
at the top of this very turn; constants are built once per value and shared, as pywasm already shares values
between locals, globals and the stack (it never changes a value in place, only fresh copies; ``f32.const`` and
``f64.const``, which retype their fresh value, keep their own bodies)."""


class _Rewriter(ast.NodeTransformer):
    """The rewrites of the module docstring, counting what it changed."""

    def __init__(self) -> None:
        self.found: Counter[str] = Counter()
        self._in_memory_grow = False
        self._function = ""
        self._class = ""
        self._case = ""

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        outer, self._class = self._class, node.name
        self.generic_visit(node)
        self._class = outer
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        outer, self._function = self._function, node.name
        self.generic_visit(node)
        self._function = outer
        if node.name == "evaluate" and self.found["local stack"]:
            bind = ast.parse(f"{STACK_VAR} = self.stack").body
            node.body[:0] = bind
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        text = ast.unparse(node) if isinstance(node.ctx, ast.Load) else ""
        if text.startswith("pywasm.opcode.") and isinstance(getattr(_OPCODES, node.attr, None), int) \
                and text.count(".") == 2:
            self.found["opcode constant"] += 1
            return ast.copy_location(ast.Constant(getattr(_OPCODES, node.attr)), node)
        if self._function == "evaluate" and node.attr == "stack" and isinstance(node.value, ast.Name) \
                and node.value.id == "self" and isinstance(node.ctx, ast.Load):
            self.found["local stack"] += 1
            return ast.copy_location(ast.Name(STACK_VAR, ast.Load()), node)
        self.generic_visit(node)
        return node

    def visit_Assert(self, node: ast.Assert) -> ast.If:
        self.found["assert"] += 1
        message = node.msg if node.msg is not None else ast.Constant(ast.unparse(node.test))
        raise_check = ast.Raise(exc=ast.Call(ast.Name(CHECK_NAME, ast.Load()), [message], []), cause=None)
        replacement = ast.If(test=ast.UnaryOp(ast.Not(), node.test), body=[raise_check], orelse=[])
        return ast.copy_location(replacement, node)

    def visit_Import(self, node: ast.Import) -> ast.Import | None:
        if all(alias.name.startswith("pywasm.") for alias in node.names):
            self.found["import pywasm"] += 1
            return None
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            text = ast.unparse(call.func)
            if text == "pywasm.log.debugln" or text == "desc.expr.into_disasm":
                self.found["debug log"] += 1
                return None
        self.generic_visit(node)
        return node

    def visit_match_case(self, node: ast.match_case) -> ast.match_case:
        pattern = ast.unparse(node.pattern.value) if isinstance(node.pattern, ast.MatchValue) else ""
        opcode = pattern.removeprefix("pywasm.opcode.")
        if self._function == "evaluate" and opcode in HOT_BODIES:
            original, replacement = HOT_BODIES[opcode]
            if "\n".join(ast.unparse(statement) for statement in node.body) == original:
                self.found[f"hot {opcode}"] += 1
                node.body = ast.parse(replacement.format(stack=STACK_VAR, cache=fastpath.CONSTANTS_PREFIX,
                                                         new=fastpath.FROM_PREFIX, limit=fastpath.CONSTANTS_LIMIT)).body
                return node
        if self._function == "evaluate" and pattern.startswith("pywasm.opcode.") and opcode in numerics.REPLACED:
            self.found[f"numeric {opcode}"] += 1
            node.body = numeric_body(opcode)
            return node
        is_grow = pattern == "pywasm.opcode.memory_grow"
        outer, self._in_memory_grow = self._in_memory_grow, self._in_memory_grow or is_grow
        outer_case, self._case = self._case, opcode
        self.generic_visit(node)
        self._in_memory_grow = outer
        self._case = outer_case
        if self._function == "evaluate" and opcode in STRUCTURED:
            self.found["structured fast path"] += 1
            fast = ast.parse(STRUCTURED[opcode].format(stack=STACK_VAR, check=CHECK_NAME, new=fastpath.NEW_NAME,
                                                        i32=fastpath.UNPACK_PREFIX + "i32", block=_OPCODES.block))
            test = ast.parse("instr.args[0].kind != 2", mode="eval").body
            node.body = [ast.copy_location(ast.If(test, fast.body, node.body), node.body[0])]
        return node

    def visit_Match(self, node: ast.Match) -> ast.stmt | list[ast.stmt]:
        self.generic_visit(node)
        subject = ast.unparse(node.subject)
        if self._function == "evaluate" and subject == "instr.opcode":
            return dispatch_tree(node, self.found, "dispatch")
        if self._function == "from_reader" and subject == "o.opcode":
            return dispatch_tree(node, self.found, "decoder dispatch")
        return node

    def visit_For(self, node: ast.For) -> ast.stmt:
        self.generic_visit(node)
        reads_sections = any(isinstance(statement, ast.Match) and ast.unparse(statement.subject) == "section_id"
                             for statement in node.body)
        if self._function == "from_reader" and reads_sections:
            self.found["section end"] += 1
            node.body.extend(ast.parse(SECTION_END_CHECK).body)
            if ast.unparse(node.iter) == "range(32)":
                # no count at all: the loop's one way out is its break at the module's last byte, so a decode that
                # returns has read the module to its end (the backend needs no check for bytes left over)
                self.found["section count"] += 1
                return ast.copy_location(ast.While(ast.Constant(True), node.body, node.orelse), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        func = node.func
        callee = ast.unparse(func)
        if isinstance(func, ast.Attribute) and callee in ("r.read", "section_reader.read") and len(node.args) == 1 \
                and not node.keywords and ast.unparse(node.args[0]) not in ("-1", "1", "4", "8"):
            # a sized read (not one byte, which ord() checks, nor an int or float, which struct.unpack checks, nor
            # the rest of a custom section, -1)
            self.found["exact read"] += 1
            return ast.copy_location(ast.Call(ast.Name(READ_EXACTLY_NAME, ast.Load()), [func.value, node.args[0]], []),
                                     node)
        if callee in ("pywasm.leb128.u.decode_reader", "pywasm.leb128.i.decode_reader"):
            reader = "read_u32" if callee.endswith("u.decode_reader") else SIGNED_READERS.get(self._case, "read_s33")
            self.found[f"leb {reader.removeprefix('read_')}"] += 1
            node.func = ast.copy_location(ast.Name(LEB_READERS[reader], ast.Load()), func)
            return node
        if self._function == "evaluate_bype" and isinstance(func, ast.Name) and func.id == "FuncType":
            text = ast.unparse(node)
            if text in BLOCK_TYPES:
                self.found["shared block type"] += 1
                return ast.copy_location(ast.parse(BLOCK_TYPES[text], mode="eval").body, node)
        if self._function != "evaluate" or not isinstance(func, ast.Attribute):
            return node
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        if owner == "ValType" and func.attr in fastpath.TYPE_CODES and not node.args:
            self.found["shared type"] += 1
            return ast.copy_location(ast.Name(fastpath.TYPE_PREFIX + func.attr, ast.Load()), node)
        kind = func.attr.removeprefix("from_")
        if owner == "ValInst" and kind in fastpath.PACKED and len(node.args) == 1 and not node.keywords:
            fresh = self._case in fastpath.FRESH_CASES
            self.found["fresh constructor" if fresh else "direct constructor"] += 1
            prefix = fastpath.FRESH_PREFIX if fresh else fastpath.FROM_PREFIX
            return ast.copy_location(ast.Call(ast.Name(prefix + kind, ast.Load()), node.args, []), node)
        kind = func.attr.removeprefix("into_")
        if func.attr.startswith("into_") and kind in fastpath.UNPACKED and not node.args and not node.keywords:
            self.found["in-place read"] += 1
            data = ast.Attribute(func.value, "data", ast.Load())
            read = ast.Call(ast.Name(fastpath.UNPACK_PREFIX + kind, ast.Load()), [data], [])
            return ast.copy_location(ast.Subscript(read, ast.Constant(0), ast.Load()), node)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.stmt | list[ast.stmt]:
        self.generic_visit(node)
        value = node.value
        if self._function in ("evaluate", "evaluate_br") and len(node.targets) == 1 and isinstance(value, ast.Subscript) \
                and isinstance(value.slice, ast.Slice) and value.slice.lower is None and value.slice.step is None \
                and value.slice.upper is not None and ast.unparse(node.targets[0]) == ast.unparse(value.value) \
                and ast.unparse(value.value) in TRUNCATED:
            # x = x[:n] copies what stays; del x[n:] drops the rest of the same list (no one else holds it)
            self.found["truncate in place"] += 1
            cut = ast.Subscript(value.value, ast.Slice(value.slice.upper, None, None), ast.Del())
            return ast.copy_location(ast.Delete([cut]), node)
        if self._class == "Inst" and self._function == "from_reader" and ast.unparse(node) == "o = cls(b, [])":
            self.found["decoder inline instruction"] += 1
            # Inst.__init__ only sets these two attributes
            return [ast.copy_location(statement, node) for statement in
                    ast.parse(f"o = {fastpath.NEW_NAME}(cls)\no.opcode = b\no.args = []").body]
        return node

    def visit_Return(self, node: ast.Return) -> ast.Return:
        self.generic_visit(node)  # first, so that the limits' LEB128 reads are the strict ones (21)
        value = node.value
        if self._class == "Limits" and self._function == "from_reader" and isinstance(value, ast.Call) \
                and len(value.args) == 2 and isinstance(value.args[1], ast.IfExp):
            self.found["declared maximum"] += 1
            value.args[1] = ast.copy_location(ast.Call(ast.Name(ZERO_MAXIMUM_NAME, ast.Load()),
                                                       [value.args[1], ast.Name("flag", ast.Load())], []), node)
        if self._class == "FuncDesc" and self._function == "from_reader_code" and isinstance(value, ast.Call):
            # the body's reader holds exactly the body's bytes: what the decode left is code after the final end
            self.found["body end"] += 1
            node.value = ast.copy_location(ast.Call(ast.Name(BODY_END_NAME, ast.Load()),
                                                    [value, ast.Name("r", ast.Load())], []), node)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        if self._in_memory_grow and ast.unparse(node) == "size + incr <= 1024":
            self.found["memory cap"] += 1
            args: list[ast.expr] = [ast.Name(n, ast.Load()) for n in ("self", "mems", "size", "incr")]
            return ast.copy_location(ast.Call(ast.Name(GROW_HOOK_NAME, ast.Load()), args, []), node)
        self.generic_visit(node)
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        body = getattr(node, "body", None)
        if isinstance(body, list) and not body:
            body.append(ast.Pass())  # dropping a statement must not leave a block empty
        return node


def _pywasm_dir() -> Path:
    try:
        installed = importlib.metadata.version("pywasm")
    except importlib.metadata.PackageNotFoundError:
        raise EngineMismatch(f"pywasm is not installed; the reference backend needs pywasm=={PYWASM_VERSION}") from None
    if installed != PYWASM_VERSION:
        raise EngineMismatch(
            f"the reference backend rewrites pywasm {PYWASM_VERSION}'s interpreter, but pywasm {installed} is "
            f"installed; install pywasm=={PYWASM_VERSION} (pinned in pyproject.toml)"
        )
    spec = importlib.util.find_spec("pywasm")
    if spec is None or not spec.submodule_search_locations:
        raise EngineMismatch("cannot locate the installed pywasm package")
    return Path(next(iter(spec.submodule_search_locations)))


def rewrite(name: str, source: str, filename: str) -> types.CodeType:
    """Rewrite pywasm module ``name`` and compile it; stop if it is not what we expect."""
    tree = ast.parse(source, filename)
    rewriter = _Rewriter()
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    expected = +EXPECTED[name]
    if +rewriter.found != expected:
        raise EngineMismatch(
            f"pywasm/{name}.py is not the pywasm {PYWASM_VERSION} source the reference backend was written for: "
            f"expected {dict(expected)}, found {dict(+rewriter.found)}"
        )
    return compile(tree, filename, "exec", optimize=0)


ENGINE_KIND = ".pywasm-engine"
"""Cache files of the rewritten interpreter: ``pywasm-2.2.3.<key>.pywasm-engine.cwasm``."""
ENGINE_FORMAT = 1
REWRITER_FILES = ("loader.py", "fastpath.py", "numerics.py", "leb128.py", "validation.py", "typecheck.py")
"""Our sources that decide what the rewrite produces, and what a module that loaded was checked by (a cached
module's artifact stands for a full decode and validation): a change to any of them gives a new key."""

REWRITTEN_NOW = "rewritten"
ENGINE_LOADED = LOADED


class EngineCode:
    """The compiled code of the rewritten modules, and where it came from.

    ``status`` is ``loaded`` (from the cache) or ``rewritten``; ``stored`` is
    the cache file written, ``problem`` why none was used or written ("" if none).
    """

    def __init__(self, key: str, codes: dict[str, types.CodeType], status: str, path: Path | None = None,
                 problem: str = "") -> None:
        self.key = key
        self.codes = codes
        self.status = status
        self.path = path
        self.problem = problem


def engine_fingerprint(source_dir: Path, sources: dict[str, bytes]) -> str:
    """What the compiled interpreter depends on: pywasm's sources, ours, where they are, and Python's bytecode."""
    here = Path(__file__).parent
    material = {
        "pywasm": PYWASM_VERSION,
        "pywasm_dir": str(source_dir),
        "pywasm_sources": {name: sha256_hex(data) for name, data in sorted(sources.items())},
        "rewriter": {name: sha256_hex((here / name).read_bytes()) for name in REWRITER_FILES},
        "python": [sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex()],
    }
    return sha256_hex(json.dumps(material, sort_keys=True).encode())


def _rewrite_all(source_dir: Path, sources: dict[str, bytes]) -> dict[str, types.CodeType]:
    return {name: rewrite(name, sources[name].decode("utf-8"), str(source_dir / f"{name}.py")) for name in REWRITTEN}


def compiled_engine(source_dir: Path, sources: dict[str, bytes]) -> EngineCode:
    """The rewritten modules' code: from the cache when a trusted, intact file holds it, else rewritten and stored.

    The key covers every input of the rewrite (:func:`engine_fingerprint`),
    so cached code is exactly what the rewrite, its counts checked, made of
    these very sources. Two processes on a cold cache may both rewrite; the
    rename makes one whole file win, and either is the same code.
    """
    key = cache_key(PYWASM_VERSION, engine_fingerprint(source_dir, sources))
    name = file_name(f"pywasm-{PYWASM_VERSION}", key, ENGINE_KIND)
    folder, why = engine_folder()
    if folder is None:
        return EngineCode(key, _rewrite_all(source_dir, sources), REWRITTEN_NOW, problem=f"no cache folder ({why})")
    try:
        dfd = open_folder(folder, create=True)
    except OSError as exc:
        return EngineCode(key, _rewrite_all(source_dir, sources), REWRITTEN_NOW,
                          problem=f"cannot use the cache folder {folder} ({exc.strerror or exc})")
    except Untrusted as exc:
        return EngineCode(key, _rewrite_all(source_dir, sources), REWRITTEN_NOW,
                          problem=f"cannot use the cache folder {folder} ({exc})")
    try:
        problem = ""
        try:
            data = read_trusted(dfd, name, MAX_FILE_BYTES)
            if data is not None:
                payload, _, _ = unpack(data, key, ENGINE_FORMAT)
                codes = marshal.loads(payload)
                if isinstance(codes, dict) and sorted(codes) == sorted(REWRITTEN) and all(
                        isinstance(code, types.CodeType) for code in codes.values()):
                    trace(ENGINE_LOADED, name)
                    return EngineCode(key, codes, ENGINE_LOADED, folder / name)
                problem = "garbled (not the rewritten modules)"
        except (OSError, Damaged, ValueError, EOFError, TypeError) as exc:
            problem = str(exc)
        if problem:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dfd)
        codes = _rewrite_all(source_dir, sources)
        trace(REWRITTEN_NOW, name)
        manifest = {"pywasm": PYWASM_VERSION, "pywasm_dir": str(source_dir), "key": key,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        from sysinspect_wasm.store.concurrency import write_artifact

        try:
            write_artifact(dfd, name, marshal.dumps(codes), manifest, key,
                           Formats(ENGINE_FORMAT), cap=MAX_FILE_BYTES)
        except (OSError, TooLarge) as exc:
            return EngineCode(key, codes, REWRITTEN_NOW, problem=f"cannot store the rewritten interpreter in {folder} ({exc})")
        return EngineCode(key, codes, REWRITTEN_NOW, folder / name, problem)
    finally:
        os.close(dfd)


ENGINE_CODE: EngineCode | None = None
"""How this process got its interpreter (for diagnosis and tests)."""


def _load() -> Engine:
    global ENGINE_CODE
    source_dir = _pywasm_dir()
    sources = {name: (source_dir / f"{name}.py").read_bytes() for name in REWRITTEN}
    if PACKAGE in sys.modules:  # this module was imported again: the interpreter is already there
        package = sys.modules[PACKAGE]
        key = cache_key(PYWASM_VERSION, engine_fingerprint(source_dir, sources))
        ENGINE_CODE = EngineCode(key, {}, ENGINE_LOADED)
        return Engine(package.core, package.wasi, package.arith, package.opcode)
    ENGINE_CODE = compiled_engine(source_dir, sources)
    package = types.ModuleType(PACKAGE, "pywasm, rewritten by sysinspect_wasm_reference.loader")
    package.__path__ = []
    modules: dict[str, types.ModuleType] = {}
    for name in UNCHANGED:
        modules[name] = importlib.import_module(f"pywasm.{name}")
        setattr(package, name, modules[name])
    try:
        sys.modules[PACKAGE] = package
        for name in REWRITTEN:
            path = source_dir / f"{name}.py"
            code = ENGINE_CODE.codes[name]
            module = types.ModuleType(f"{PACKAGE}.{name}")
            module.__file__ = str(path)
            module.__dict__.update({
                "pywasm": package, CHECK_NAME: CheckFailed, GROW_HOOK_NAME: memory_grow_permitted, NUMERICS_NAME: numerics,
                ZERO_MAXIMUM_NAME: declared_maximum, BODY_END_NAME: body_ended,
                READ_EXACTLY_NAME: read_exactly,
            })
            # dataclasses resolves a class's module through sys.modules while the class is created
            sys.modules[module.__name__] = module
            exec(code, module.__dict__)
            if name == "core":
                module.__dict__.update(fastpath.helpers(module.ValInst, module.ValType, module.FuncType))
                module.__dict__.update({bound: getattr(leb128, reader) for reader, bound in LEB_READERS.items()})
            setattr(package, name, module)
            modules[name] = module
    except BaseException:
        for name in (PACKAGE, *(f"{PACKAGE}.{n}" for n in REWRITTEN)):
            sys.modules.pop(name, None)
        raise
    return Engine(modules["core"], modules["wasi"], modules["arith"], modules["opcode"])


ENGINE = _load()
"""The rewritten interpreter, loaded once per process."""
ENGINE_KEY = ENGINE_CODE.key if ENGINE_CODE is not None else ""  # (always set by _load)
"""The interpreter's cache key: its inputs' digests (:func:`engine_fingerprint`); module artifacts depend on it."""
