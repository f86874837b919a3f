"""Validation of a parsed module's code and constant expressions (WebAssembly 2.0, spec section 3).

pywasm 2.2.3 parses without validating (FINDINGS.md F11): an ill-typed
function body, an unknown local, label or global, a mutable global set as if
it were immutable, all load, and then fail (or, worse, run) in arbitrary
ways. So the reference backend validates what pywasm parsed, exactly as the
spec's algorithm (its appendix "Validation Algorithm") does: an operand
stack of value types (``None``: unknown, after ``unreachable``) and a stack
of control frames, over pywasm's structured instruction lists (a block's
body is a nested list, so ``end`` and ``else`` are implicit).

The type of each plain numeric and vector instruction is derived from its
name (``i32.add``: ``[i32 i32] -> [i32]``, ``f64.convert_i64_u``:
``[i64] -> [f64]``, ``i16x8.extract_lane_s``: ``[v128] -> [i32]``) once, for
all 437 opcodes pywasm knows; the instructions with immediates that refer to
the module (indices, block types) are checked one by one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .loader import ENGINE
from .validation import InvalidModule
from .values import REFERENCE_TYPES, TYPE_NAMES, type_name

OP: Any = ENGINE.opcode
NAMES: dict[int, str] = OP.name

NUM = ("i32", "i64", "f32", "f64")
REFS = REFERENCE_TYPES
_SHAPE_SCALAR = {"i8x16": "i32", "i16x8": "i32", "i32x4": "i32", "i64x2": "i64", "f32x4": "f32", "f64x2": "f64"}
_INT_UNARY = {"clz", "ctz", "popcnt", "extend8_s", "extend16_s", "extend32_s"}
_INT_BINARY = {"add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u",
               "rotl", "rotr"}
_INT_COMPARE = {"eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"}
_FLOAT_UNARY = {"abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"}
_FLOAT_BINARY = {"add", "sub", "mul", "div", "min", "max", "copysign"}
_FLOAT_COMPARE = {"eq", "ne", "lt", "gt", "le", "ge"}
_VECTOR_UNARY = re.compile(r"^(not|abs|neg|popcnt|sqrt|ceil|floor|trunc|nearest|extend_|convert_|trunc_sat_|demote_|"
                           r"promote_|extadd_pairwise_)")
_CONVERSION_SOURCE = re.compile(r"_(i32|i64|f32|f64)(_|$)")
_ACCESS = re.compile(r"^(load|store)(\d*)(x(\d+))?")

Signature = tuple[tuple[str, ...], tuple[str, ...]]

MAX_LOCALS = 50_000
"""The most locals (parameters included) a function may have: wasmtime's validator (wasmparser) refuses more,
and pywasm would allocate every one of them on each call, so a module could exhaust the host's memory."""


def _scalar_signature(prefix: str, op: str) -> Signature | None:
    t = prefix
    integer = t[0] == "i"
    if op == "eqz" and integer:
        return (t,), ("i32",)
    if op in (_INT_UNARY if integer else _FLOAT_UNARY):
        return (t,), (t,)
    if op in (_INT_BINARY if integer else _FLOAT_BINARY):
        return (t, t), (t,)
    if op in (_INT_COMPARE if integer else _FLOAT_COMPARE):
        return (t, t), ("i32",)
    source = _CONVERSION_SOURCE.search(op)
    if source and not op.startswith(("load", "store")):
        return (source.group(1),), (t,)
    return None


def _vector_signature(prefix: str, op: str) -> Signature | None:
    scalar = _SHAPE_SCALAR.get(prefix, "")
    if op == "splat":
        return (scalar,), ("v128",)
    if op.startswith("extract_lane"):
        return ("v128",), (scalar,)
    if op == "replace_lane":
        return ("v128", scalar), ("v128",)
    if op in ("all_true", "bitmask", "any_true"):
        return ("v128",), ("i32",)
    if op in ("shl", "shr_s", "shr_u"):
        return ("v128", "i32"), ("v128",)
    if op == "bitselect":
        return ("v128", "v128", "v128"), ("v128",)
    if op.startswith(("load", "store")) or op == "const":
        return None
    if _VECTOR_UNARY.match(op):
        return ("v128",), ("v128",)
    return ("v128", "v128"), ("v128",)


def _access(prefix: str, op: str) -> tuple[int, Signature] | None:
    """(the natural alignment's log2, the signature) of a load or store."""
    found = _ACCESS.match(op)
    if not found:
        return None
    store = found.group(1) == "store"
    t = prefix
    bits = int(found.group(2)) * int(found.group(4)) if found.group(4) else int(found.group(2) or 0)
    if not bits:
        bits = 128 if t == "v128" else int(t[1:])
    natural = (bits // 8).bit_length() - 1
    if op.endswith("_lane"):
        signature: Signature = (("i32", "v128"), ()) if store else (("i32", "v128"), ("v128",))
    else:
        signature = (("i32", t), ()) if store else (("i32",), (t,))
    return natural, signature


SIMPLE: dict[int, Signature] = {}
"""Opcode -> signature of every instruction whose type depends on nothing but itself."""
ACCESS: dict[int, tuple[int, Signature]] = {}
"""Opcode -> (natural alignment log2, signature) of every load and store."""
for _opcode, _name in NAMES.items():
    _prefix, _, _op = _name.partition(".")
    _access_info = _access(_prefix, _op) if _prefix in (*NUM, "v128") else None
    if _access_info is not None:
        ACCESS[_opcode] = _access_info
        continue
    if _op == "const" and _prefix in (*NUM, "v128"):
        SIMPLE[_opcode] = ((), (_prefix,))
    elif _prefix in NUM:
        _found = _scalar_signature(_prefix, _op)
        if _found is not None:
            SIMPLE[_opcode] = _found
    elif _prefix == "v128" or _prefix in _SHAPE_SCALAR:
        _found = _vector_signature(_prefix, _op)
        if _found is not None:
            SIMPLE[_opcode] = _found

CONSTANT = {OP.i32_const: "i32", OP.i64_const: "i64", OP.f32_const: "f32", OP.f64_const: "f64", OP.v128_const: "v128"}


class Context:
    """What the code of a module may refer to (the spec's context C)."""

    def __init__(self, desc: Any, data_count: int | None) -> None:
        self.types: list[Signature] = [
            (tuple(map(type_name, t.args)), tuple(map(type_name, t.rets))) for t in desc.type
        ]
        imports = desc.imps
        self.funcs: list[int] = [i.desc for i in imports if i.kind == 0x00] + [f.type for f in desc.func]
        self.tables: list[str] = [type_name(i.desc.type) for i in imports if i.kind == 0x01] + \
            [type_name(t.type) for t in desc.tabl]
        self.memories = sum(1 for i in imports if i.kind == 0x02) + len(desc.mems)
        imported_globals = [(type_name(i.desc.type), i.desc.mut) for i in imports if i.kind == 0x03]
        self.imported_globals = len(imported_globals)
        self.globals: list[tuple[str, int]] = imported_globals + [(type_name(g.type.type), g.type.mut) for g in desc.glob]
        self.elems: list[str] = [type_name(e.type) for e in desc.elem]
        self.data_count = data_count
        self.refs: set[int] = set()

    def func_type(self, index: int) -> Signature:
        if not 0 <= index < len(self.funcs):
            raise InvalidModule(f"unknown function {index}")
        return self.block_type(self.funcs[index])

    def block_type(self, index: int) -> Signature:
        if not 0 <= index < len(self.types):
            raise InvalidModule(f"unknown type {index}")
        return self.types[index]

    def table(self, index: int) -> str:
        if not 0 <= index < len(self.tables):
            raise InvalidModule(f"unknown table {index}")
        return self.tables[index]

    def memory(self) -> None:
        if self.memories < 1:
            raise InvalidModule("unknown memory 0")

    def data(self, index: int) -> None:
        if self.data_count is None:
            raise InvalidModule("data count section required")
        if not 0 <= index < self.data_count:
            raise InvalidModule(f"unknown data segment {index}")

    def elem(self, index: int) -> str:
        if not 0 <= index < len(self.elems):
            raise InvalidModule(f"unknown elem segment {index}")
        return self.elems[index]

    def global_(self, index: int) -> tuple[str, int]:
        if not 0 <= index < len(self.globals):
            raise InvalidModule(f"unknown global {index}")
        return self.globals[index]


class _Frame:
    __slots__ = ("height", "labels", "params", "results", "unreachable")

    def __init__(self, params: tuple[str, ...], results: tuple[str, ...], height: int, loop: bool) -> None:
        self.params = params
        self.results = results
        self.labels = params if loop else results
        self.height = height
        self.unreachable = False


def _mismatch(what: str) -> InvalidModule:
    return InvalidModule(f"type mismatch: {what}")


class FunctionChecker:
    """Type-checks one function body (or a constant expression's instructions)."""

    def __init__(self, context: Context, locals_: list[str], results: tuple[str, ...]) -> None:
        self.c = context
        self.locals = locals_
        self.results = results
        self.values: list[str | None] = []
        self.frames: list[_Frame] = []

    # the operand stack -----------------------------------------------------------------------------------------

    def pop(self, expected: str | None = None) -> str | None:
        """Pop an operand of type ``expected`` (``None``: any); its type, ``None`` when unknown."""
        frame = self.frames[-1]
        if len(self.values) == frame.height:
            if frame.unreachable:
                return None  # the polymorphic stack after unreachable, br, return: a value of unknown type
            raise _mismatch(f"expected {expected or 'a value'} but nothing is on the stack")
        got = self.values.pop()
        if expected is not None and got is not None and got != expected:
            raise _mismatch(f"expected {expected}, found {got}")
        return got

    def pop_all(self, types: tuple[str, ...]) -> None:
        for t in reversed(types):
            self.pop(t)

    def push_all(self, types: tuple[str, ...]) -> None:
        self.values.extend(types)

    def unreachable(self) -> None:
        frame = self.frames[-1]
        del self.values[frame.height:]
        frame.unreachable = True

    def label(self, depth: int) -> tuple[str, ...]:
        if not 0 <= depth < len(self.frames):
            raise InvalidModule(f"unknown label {depth}")
        return self.frames[-1 - depth].labels

    # blocks ------------------------------------------------------------------------------------------------------

    def block_signature(self, bype: Any) -> Signature:
        if bype.kind == 0x00:
            return (), ()
        if bype.kind == 0x01:
            return (), (TYPE_NAMES[bype.data],)
        return self.c.block_type(bype.data)

    def enter(self, params: tuple[str, ...], results: tuple[str, ...], loop: bool = False) -> None:
        self.frames.append(_Frame(params, results, len(self.values), loop))
        self.push_all(params)

    def leave(self) -> _Frame:
        frame = self.frames[-1]
        self.pop_all(frame.results)
        if len(self.values) != frame.height:
            raise _mismatch(f"{len(self.values) - frame.height} value(s) left on the stack at the end of a block")
        return self.frames.pop()

    def body(self, instrs: list[Any]) -> None:
        """Check an instruction sequence, blocks included, without recursion.

        Go's compiler nests thousands of blocks in one function (its jump
        tables); each open block waits on an explicit stack of iterators
        instead of a Python frame, so no module can exhaust the interpreter's
        recursion limit. A block's iterator yields its instructions, and
        runs the block's ``end`` (and an if's ``else``) when exhausted.
        """
        pending: list[Iterator[Any]] = [iter(instrs)]
        while pending:
            inst = next(pending[-1], None)
            if inst is None:
                pending.pop()
            elif inst.opcode in (OP.block, OP.loop, OP.if_then):
                pending.append(self._block(inst))
            else:
                self.instruction(inst)

    def _block(self, inst: Any) -> Iterator[Any]:
        """The instructions of a block, loop or if, checking its entry first and its end last."""
        params, results = self.block_signature(inst.args[0])
        if inst.opcode == OP.if_then:
            self.pop("i32")
        self.pop_all(params)
        self.enter(params, results, loop=inst.opcode == OP.loop)
        yield from inst.args[1]
        if inst.opcode == OP.if_then:
            self.leave()
            self.enter(params, results)  # the else branch (empty without one: it must give back the parameters)
            yield from inst.args[2]
        self.push_all(self.leave().results)

    def function(self, instrs: list[Any]) -> None:
        self.enter((), self.results)
        self.body(instrs)
        self.leave()

    # instructions ------------------------------------------------------------------------------------------------

    def instruction(self, inst: Any) -> None:
        opcode = inst.opcode
        args = inst.args
        simple = SIMPLE.get(opcode)
        if simple is not None:
            self.pop_all(simple[0])
            self.push_all(simple[1])
            return
        access = ACCESS.get(opcode)
        if access is not None:
            natural, (params, results) = access
            self.c.memory()
            if args[0] > natural:
                raise InvalidModule("alignment must not be larger than natural")
            self.pop_all(params)
            self.push_all(results)
            return
        c = self.c
        if opcode == OP.unreachable:
            self.unreachable()
        elif opcode == OP.nop:
            pass
        elif opcode == OP.br:
            self.pop_all(self.label(args[0]))
            self.unreachable()
        elif opcode == OP.br_if:
            self.pop("i32")
            types = self.label(args[0])
            self.pop_all(types)
            self.push_all(types)
        elif opcode == OP.br_table:
            self.pop("i32")
            default = self.label(args[1])
            for depth in args[0]:
                types = self.label(depth)
                if len(types) != len(default):
                    raise _mismatch("br_table targets of different arity")
                popped = [self.pop(t) for t in reversed(types)]
                self.values.extend(reversed(popped))
            self.pop_all(default)
            self.unreachable()
        elif opcode == OP.return_call:  # pywasm's name for `return` (0x0f)
            self.pop_all(self.results)
            self.unreachable()
        elif opcode == OP.call:
            params, results = c.func_type(args[0])
            self.pop_all(params)
            self.push_all(results)
        elif opcode == OP.call_indirect:
            if c.table(args[1]) != "funcref":
                raise _mismatch("call_indirect through a table that is not of funcref")
            params, results = c.block_type(args[0])
            self.pop("i32")
            self.pop_all(params)
            self.push_all(results)
        elif opcode == OP.drop:
            self.pop()
        elif opcode == OP.select:
            self.pop("i32")
            first = self.pop()
            second = self.pop(first)
            chosen = first or second
            if chosen in REFS or (first is not None and second is not None and first != second):
                raise _mismatch("select needs two operands of one numeric or vector type")
            self.values.append(chosen)
        elif opcode == OP.select_type:
            if len(args[0]) != 1:
                raise InvalidModule("invalid result arity")
            t = TYPE_NAMES.get(args[0][0])
            if t is None:
                raise InvalidModule("malformed value type in select")
            self.pop("i32")
            self.pop(t)
            self.pop(t)
            self.values.append(t)
        elif opcode in (OP.local_get, OP.local_set, OP.local_tee):
            if not 0 <= args[0] < len(self.locals):
                raise InvalidModule(f"unknown local {args[0]}")
            t = self.locals[args[0]]
            if opcode == OP.local_get:
                self.values.append(t)
            else:
                self.pop(t)
                if opcode == OP.local_tee:
                    self.values.append(t)
        elif opcode == OP.global_get:
            self.values.append(c.global_(args[0])[0])
        elif opcode == OP.global_set:
            t, mutable = c.global_(args[0])
            if not mutable:
                raise InvalidModule("global is immutable")
            self.pop(t)
        elif opcode == OP.table_get:
            t = c.table(args[0])
            self.pop("i32")
            self.values.append(t)
        elif opcode == OP.table_set:
            t = c.table(args[0])
            self.pop(t)
            self.pop("i32")
        elif opcode == OP.table_size:
            c.table(args[0])
            self.values.append("i32")
        elif opcode == OP.table_grow:
            t = c.table(args[0])
            self.pop("i32")
            self.pop(t)
            self.values.append("i32")
        elif opcode == OP.table_fill:
            t = c.table(args[0])
            self.pop("i32")
            self.pop(t)
            self.pop("i32")
        elif opcode == OP.table_copy:
            if c.table(args[0]) != c.table(args[1]):
                raise _mismatch("table.copy between tables of different element types")
            self.pop_all(("i32", "i32", "i32"))
        elif opcode == OP.table_init:
            if c.elem(args[0]) != c.table(args[1]):
                raise _mismatch("table.init of a segment whose type is not the table's")
            self.pop_all(("i32", "i32", "i32"))
        elif opcode == OP.elem_drop:
            c.elem(args[0])
        elif opcode in (OP.memory_size, OP.memory_grow):
            c.memory()
            if args[0] != 0:
                raise InvalidModule("zero byte expected")
            if opcode == OP.memory_grow:
                self.pop("i32")
            self.values.append("i32")
        elif opcode in (OP.memory_fill, OP.memory_copy):
            c.memory()
            self.pop_all(("i32", "i32", "i32"))
        elif opcode == OP.memory_init:
            c.memory()
            c.data(args[0])
            self.pop_all(("i32", "i32", "i32"))
        elif opcode == OP.data_drop:
            c.data(args[0])
        elif opcode == OP.ref_null:
            t = TYPE_NAMES.get(args[0])
            if t not in REFS:
                raise InvalidModule("malformed reference type")
            self.values.append(t)
        elif opcode == OP.ref_is_null:
            t = self.pop()
            if t is not None and t not in REFS:
                raise _mismatch(f"ref.is_null of {t}")
            self.values.append("i32")
        elif opcode == OP.ref_func:
            c.func_type(args[0])
            if args[0] not in c.refs:
                raise InvalidModule(f"undeclared function reference {args[0]}")
            self.values.append("funcref")
        elif opcode in (OP.i8x16_shuffle,):
            self.pop_all(("v128", "v128"))
            self.values.append("v128")
        else:
            raise InvalidModule(f"instruction {NAMES.get(opcode, hex(opcode))} is not supported by the validator")


EXTENDED_CONSTANT = {OP.i32_add, OP.i32_sub, OP.i32_mul, OP.i64_add, OP.i64_sub, OP.i64_mul}
"""The arithmetic the extended-constant-expressions proposal (WebAssembly 3.0) allows in constant expressions:
wasmtime implements it, the differential campaigns generate it, pywasm evaluates it with its interpreter."""


def constant(context: Context, expr: Any, expected: str) -> None:
    """Check that ``expr`` is a constant expression of type ``expected``.

    ``global.get`` may read only imported immutable globals, as in 2.0 (pywasm
    evaluates a global's initialiser before the module's own globals exist);
    arithmetic as :data:`EXTENDED_CONSTANT` allows.
    """
    checker = FunctionChecker(context, [], (expected,))
    checker.enter((), (expected,))
    for inst in expr.data:
        opcode = inst.opcode
        if opcode == OP.global_get:
            if not 0 <= inst.args[0] < context.imported_globals:
                raise InvalidModule(f"unknown global {inst.args[0]}")
            if context.globals[inst.args[0]][1]:
                raise InvalidModule("constant expression required (a mutable global)")
        elif opcode == OP.ref_func:
            pass  # allowed; its function is in C.refs already (validate() collects them before any body)
        elif opcode not in CONSTANT and opcode != OP.ref_null and opcode not in EXTENDED_CONSTANT:
            raise InvalidModule(f"constant expression required, not {NAMES.get(opcode, hex(opcode))}")
        checker.instruction(inst)
    checker.leave()


def validate(desc: Any, data_count: int | None) -> None:
    """Validate parsed module ``desc`` (``data_count``: its data count section's value, ``None``: none)."""
    context = Context(desc, data_count)
    for export in desc.exps:
        if export.kind == 0x00:
            context.refs.add(export.desc)
    # C.refs: the functions the module's elements, globals and exports refer to, collected before any body
    for glob in desc.glob:
        for inst in glob.init.data:
            if inst.opcode == OP.ref_func:
                context.refs.add(inst.args[0])
    for elem in desc.elem:
        for expr in elem.init:
            for inst in expr.data:
                if inst.opcode == OP.ref_func:
                    context.refs.add(inst.args[0])
    for index, glob in enumerate(desc.glob):
        try:
            constant(context, glob.init, type_name(glob.type.type))
        except InvalidModule as exc:
            raise InvalidModule(f"global {context.imported_globals + index}: {exc}") from None
    for index, elem in enumerate(desc.elem):
        elem_type = type_name(elem.type)
        if elem_type not in REFS:
            raise InvalidModule("malformed reference type")
        for expr in elem.init:
            constant(context, expr, elem_type)
        if elem.kind & 0x01 == 0:  # active
            table = context.table(elem.tidx)
            if table != elem_type:
                raise _mismatch(f"element segment {index} of {elem_type} for a table of {table}")
            constant(context, elem.offset, "i32")
    for data in desc.data:
        if data.kind != 0x01:  # active
            context.memory()
            constant(context, data.offset, "i32")
    imported_funcs = len(context.funcs) - len(desc.func)
    for index, func in enumerate(desc.func):
        params, results = context.block_type(func.type)
        count = len(params) + sum(group.n for group in func.locals)
        if count > MAX_LOCALS:
            raise InvalidModule(f"function {imported_funcs + index}: too many locals ({count}; at most {MAX_LOCALS})")
        locals_ = list(params)
        for group in func.locals:
            locals_.extend([type_name(group.type)] * group.n)
        try:
            FunctionChecker(context, locals_, results).function(func.expr.data)
        except InvalidModule as exc:
            raise InvalidModule(f"function {imported_funcs + index}: {exc}") from None
    if desc.star >= 0 and context.func_type(desc.star) != ((), ()):
        raise InvalidModule("start function must take and return nothing")
