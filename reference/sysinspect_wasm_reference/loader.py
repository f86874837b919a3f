"""pywasm's interpreter, re-compiled so that its checks survive ``python -O``.

pywasm signals every trap with an ``assert`` statement, and ``python -O``
strips those: traps would silently vanish. So, once per process, we read the
source of the installed pywasm (it must be 2.2.3, the version pinned in
pyproject.toml), rewrite its syntax tree and execute it into fresh module
objects under a private package name. A user's own ``import pywasm`` stays
untouched, and we never ship a copy of pywasm's code.

The rewrite does exactly five things, each counted against what pywasm 2.2.3
contains (any difference stops the import with :class:`EngineMismatch`):

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
   call the function of the same name in :mod:`.numerics`, push the result;
6. in ``ModuleDesc.from_reader``, each non-custom section must be read to
   its end (``section size mismatch``): pywasm reads a section's entries
   from a copy of its bytes and ignores what is left (FINDINGS.md F12);
7. the parser's LEB128 reads call the strict readers of :mod:`.leb128`
   (u32 everywhere, s32 for ``i32.const``, s64 for ``i64.const``, s33 for
   block types) instead of pywasm's, which take any length (F12).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import sys
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sysinspect_wasm.spec import WASM_PAGE
from sysinspect_wasm.traps import TrapKind

from . import leb128, numerics
from .signals import CheckFailed, HostTrap

PYWASM_VERSION = "2.2.3"
PACKAGE = "sysinspect_wasm_reference._pywasm"

# Rewritten, in dependency order; opcode and log have no checks and are used as installed.
REWRITTEN = ("leb128", "arith", "core", "wasi")
UNCHANGED = ("opcode", "log")

CHECK_NAME = "_sysinspect_check_failed"
GROW_HOOK_NAME = "_sysinspect_memory_grow_permitted"
NUMERICS_NAME = "_sysinspect_numerics"
LEB_NAME = "_sysinspect_leb128"
_SIGNED_READERS = {"pywasm.opcode.i32_const": "read_s32", "pywasm.opcode.i64_const": "read_s64"}

# What pywasm 2.2.3 contains: the rewrite must find exactly this, or it stops.
EXPECTED: dict[str, Counter[str]] = {
    "leb128": Counter({"assert": 3}),
    "arith": Counter({"assert": 5, "import pywasm": 0}),
    "core": Counter({"assert": 183, "memory cap": 1, "debug log": 20, "import pywasm": 4, "section end": 1,
                     "leb u32": 189, "leb s32": 1, "leb s64": 1, "leb s33": 1,
                     **{f"numeric {name}": 1 for name in numerics.REPLACED}}),
    "wasi": Counter({"assert": 4, "import pywasm": 1}),
}

MAX_PAGES = 65536
"""The most pages a 32-bit memory can have."""


class EngineMismatch(ImportError):
    """The installed pywasm is not the one our rewrite was written for."""


@dataclass(frozen=True)
class Engine:
    """The rewritten pywasm modules."""

    core: Any
    wasi: Any
    arith: Any
    opcode: Any


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


SECTION_END_CHECK = f"""
if section_id != 0x00 and section_reader.read(1):
    raise {CHECK_NAME}(f"section size mismatch: section {{section_id}} has bytes after its last entry")
"""


class _Rewriter(ast.NodeTransformer):
    """The seven rewrites of the module docstring, counting what it changed."""

    def __init__(self) -> None:
        self.found: Counter[str] = Counter()
        self._in_memory_grow = False
        self._function = ""
        self._case = ""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        callee = ast.unparse(node.func)
        if callee in ("pywasm.leb128.u.decode_reader", "pywasm.leb128.i.decode_reader"):
            reader = "read_u32" if callee.endswith("u.decode_reader") else _SIGNED_READERS.get(self._case, "read_s33")
            self.found[f"leb {reader.removeprefix('read_')}"] += 1
            node.func = ast.copy_location(ast.Attribute(ast.Name(LEB_NAME, ast.Load()), reader, ast.Load()), node.func)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        outer, self._function = self._function, node.name
        self.generic_visit(node)
        self._function = outer
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        self.generic_visit(node)
        reads_sections = any(isinstance(statement, ast.Match) and ast.unparse(statement.subject) == "section_id"
                             for statement in node.body)
        if self._function == "from_reader" and reads_sections:
            self.found["section end"] += 1
            node.body.extend(ast.parse(SECTION_END_CHECK).body)
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
        if self._function == "evaluate" and pattern.startswith("pywasm.opcode.") and opcode in numerics.REPLACED:
            self.found[f"numeric {opcode}"] += 1
            node.body = numeric_body(opcode)
            return node
        is_grow = pattern == "pywasm.opcode.memory_grow"
        outer, self._in_memory_grow = self._in_memory_grow, self._in_memory_grow or is_grow
        outer_case, self._case = self._case, pattern
        self.generic_visit(node)
        self._in_memory_grow = outer
        self._case = outer_case
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


def _load() -> Engine:
    if PACKAGE in sys.modules:
        package = sys.modules[PACKAGE]
        return Engine(package.core, package.wasi, package.arith, package.opcode)
    source_dir = _pywasm_dir()
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
            code = rewrite(name, path.read_text(encoding="utf-8"), str(path))
            module = types.ModuleType(f"{PACKAGE}.{name}")
            module.__file__ = str(path)
            module.__dict__.update({
                "pywasm": package, CHECK_NAME: CheckFailed, GROW_HOOK_NAME: memory_grow_permitted, NUMERICS_NAME: numerics,
                LEB_NAME: leb128,
            })
            # dataclasses resolves a class's module through sys.modules while the class is created
            sys.modules[module.__name__] = module
            exec(code, module.__dict__)
            setattr(package, name, module)
            modules[name] = module
    except BaseException:
        for name in (PACKAGE, *(f"{PACKAGE}.{n}" for n in REWRITTEN)):
            sys.modules.pop(name, None)
        raise
    return Engine(modules["core"], modules["wasi"], modules["arith"], modules["opcode"])


ENGINE = _load()
"""The rewritten interpreter, loaded once per process."""
