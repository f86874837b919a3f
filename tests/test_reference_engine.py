"""The rewritten pywasm interpreter: its checks survive ``python -O``, it is isolated, it refuses a strange pywasm."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import wat_to_wasm
from sysinspect_wasm_reference import loader
from sysinspect_wasm_reference.loader import ENGINE, EXPECTED, EngineMismatch, rewrite
from wasi_wat import command

PYWASM_DIR = Path(next(iter(importlib.util.find_spec("pywasm").submodule_search_locations or [])))  # type: ignore[union-attr]

OPTIMISED_RUN = """
import json, sys
from sysinspect_wasm import RunSpec, get_backend
assert False, "python -O must strip this assert"
module = get_backend("pywasm").load(open(sys.argv[1], "rb").read(), name="trapping")
result = module.run(RunSpec())
print(json.dumps({"kind": result.trap.kind.value if result.trap else None, "exit": result.exit_code}))
"""

TRAPS_UNDER_O = {
    "unreachable": "unreachable",
    "(drop (i32.load (i32.const 70000)))": "out-of-bounds memory",
    "(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))": "integer overflow",
    "(drop (i32.trunc_f64_s (f64.const 1e30)))": "integer overflow",
}


@pytest.mark.parametrize("body", sorted(TRAPS_UNDER_O))
def test_traps_survive_python_dash_o(tmp_path: Path, body: str) -> None:
    wasm = tmp_path / "guest.wasm"
    wasm.write_bytes(wat_to_wasm(command(body)))
    done = subprocess.run([sys.executable, "-O", "-c", OPTIMISED_RUN, str(wasm)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"kind": TRAPS_UNDER_O[body], "exit": None}


def test_no_assert_is_left_in_the_rewritten_engine() -> None:
    for name in loader.REWRITTEN:
        source = (PYWASM_DIR / f"{name}.py").read_text()
        code = rewrite(name, source, f"{name}.py")
        assert not _has_assert_opcode(code), name


def _has_assert_opcode(code: object) -> bool:
    import dis
    import types

    assert isinstance(code, types.CodeType)
    if any(i.opname == "LOAD_ASSERTION_ERROR" for i in dis.get_instructions(code)):
        return True
    return any(_has_assert_opcode(c) for c in code.co_consts if isinstance(c, types.CodeType))


def test_the_rewrite_counts_what_it_changed() -> None:
    assert EXPECTED["core"]["assert"] == 183
    assert EXPECTED["core"]["memory cap"] == 1


def test_a_different_pywasm_source_is_refused_loudly() -> None:
    source = (PYWASM_DIR / "core.py").read_text().replace("cnda = size + incr <= 1024", "cnda = size + incr <= 2048")
    with pytest.raises(EngineMismatch, match="memory cap"):
        rewrite("core", source, "core.py")


def test_an_extra_assert_is_refused() -> None:
    source = (PYWASM_DIR / "arith.py").read_text() + "\nassert True\n"
    with pytest.raises(EngineMismatch, match="assert"):
        rewrite("arith", source, "arith.py")


def test_a_user_import_of_pywasm_is_untouched() -> None:
    import pywasm.core

    assert pywasm.core.Machine is not ENGINE.core.Machine
    assert ENGINE.core.__name__.startswith(loader.PACKAGE)
    assert ENGINE.core.pywasm.arith is ENGINE.arith  # the rewritten core calls the rewritten arith


def test_the_memory_grow_cap_calls_our_hook() -> None:
    import inspect

    source = inspect.getsource(pywasm_machine_evaluate())
    assert "size + incr <= 1024" in source  # pywasm's own, in its own module
    code = ENGINE.core.Machine.evaluate.__code__
    assert loader.GROW_HOOK_NAME in code.co_names


def pywasm_machine_evaluate() -> Callable[..., Any]:
    import pywasm.core

    evaluate: Callable[..., Any] = pywasm.core.Machine.evaluate
    return evaluate


def test_check_failures_are_our_exception() -> None:
    from sysinspect_wasm_reference.signals import CheckFailed

    with pytest.raises(CheckFailed):
        ENGINE.arith.i32.div(-(2**31), -1)


SPEED_REWRITE_CHANGES = {
    # (pywasm module, its text, what a different pywasm might have instead, the count that must notice)
    "dispatch": ("core", "                case pywasm.opcode.nop:\n                    assert 1\n",
                 "                case pywasm.opcode.nop:\n                    assert 1\n"
                 "                case pywasm.opcode.drop:\n                    pass\n", "dispatch case"),
    "hot body": ("core", "a = self.stack.frame[-1].locals.data[instr.args[0]]\n                    self.stack.value.append(a)",
                 "b = self.stack.frame[-1].locals.data[instr.args[0]]\n                    self.stack.value.append(b)",
                 "hot local_get"),
    "truncation": ("core", "self.stack.frame = self.stack.frame[:label.frame]",
                   "self.stack.frame = list(self.stack.frame[:label.frame])", "truncate in place"),
    "block types": ("core", "return FuncType([], [])", "return FuncType(list(), [])", "shared block type"),
    "decoder": ("core", "        o = cls(b, [])\n", "        o = cls(b, list())\n", "decoder inline instruction"),
}


@pytest.mark.parametrize("change", sorted(SPEED_REWRITE_CHANGES))
def test_each_speed_rewrite_is_counted_and_a_changed_source_refused(change: str) -> None:
    """Each speed rewrite finds exactly what pywasm 2.2.3 has; a source it was not written for stops the import."""
    name, original, replacement, count = SPEED_REWRITE_CHANGES[change]
    source = (PYWASM_DIR / f"{name}.py").read_text()
    assert original in source, "the test's own text must be pywasm 2.2.3's"
    changed = source.replace(original, replacement, 1)
    rewriter = loader._Rewriter()
    rewriter.visit(ast.parse(changed))
    assert rewriter.found[count] != EXPECTED[name][count], rewriter.found[count]
    with pytest.raises(EngineMismatch):
        rewrite(name, changed, f"{name}.py")
