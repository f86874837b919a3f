"""Each trap class, caused by a real guest, is classified the same way on both backends."""

from __future__ import annotations

import pytest
from conftest import wat_to_wasm
from wasi_wat import command

from sysinspect_wasm import Backend, ModuleLoadError, RunSpec, TrapKind

TABLE = """
  (type $void (func))
  (type $takes_i32 (func (param i32)))
  (table 2 funcref)
  (elem (i32.const 0) $nop)
  (func $nop)"""

TRAP_GUESTS: dict[str, tuple[str, str, TrapKind]] = {
    "unreachable": ("unreachable", "", TrapKind.UNREACHABLE),
    "load-out-of-bounds": ("(drop (i32.load (i32.const 70000)))", "", TrapKind.OUT_OF_BOUNDS),
    "store-out-of-bounds": ("(i64.store (i32.const 65532) (i64.const 1))", "", TrapKind.OUT_OF_BOUNDS),
    "fill-out-of-bounds": ("(memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000))", "", TrapKind.OUT_OF_BOUNDS),
    "div-u-by-zero": ("(drop (i32.div_u (i32.const 1) (i32.const 0)))", "", TrapKind.DIVIDE_BY_ZERO),
    "rem-s-by-zero": ("(drop (i64.rem_s (i64.const 1) (i64.const 0)))", "", TrapKind.DIVIDE_BY_ZERO),
    "div-s-overflow": ("(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))", "", TrapKind.INTEGER_OVERFLOW),
    "trunc-out-of-range": ("(drop (i32.trunc_f64_s (f64.const 1e30)))", "", TrapKind.INTEGER_OVERFLOW),
    "trunc-nan": ("(drop (i64.trunc_f32_u (f32.const nan)))", "", TrapKind.INVALID_CONVERSION),
    "indirect-mismatch": ("(call_indirect (type $takes_i32) (i32.const 7) (i32.const 0))", TABLE, TrapKind.INDIRECT_CALL_MISMATCH),
    "indirect-null": ("(call_indirect (type $void) (i32.const 1))", TABLE, TrapKind.UNDEFINED_ELEMENT),
    "indirect-out-of-range": ("(call_indirect (type $void) (i32.const 5))", TABLE, TrapKind.UNDEFINED_ELEMENT),
    "stack-overflow": ("(call $recurse)", "(func $recurse (call $recurse))", TrapKind.STACK_OVERFLOW),
}


@pytest.mark.parametrize("case", sorted(TRAP_GUESTS))
def test_trap_is_classified(backend: Backend, case: str) -> None:
    body, extra, kind = TRAP_GUESTS[case]
    module = backend.load(wat_to_wasm(command(body, extra=extra)), name=case)
    result = module.run(RunSpec())
    assert result.trap is not None, f"{case} did not trap on {backend.name}"
    assert result.trap.kind is kind, f"{case} on {backend.name}: {result.trap}"
    assert result.exit_code is None


def test_unknown_import_is_a_link_error(backend: Backend) -> None:
    wat = command("(call $nope)", imports='(import "api" "no_such_function" (func $nope))')
    result = backend.load(wat_to_wasm(wat), name="unknown-import").run(RunSpec())
    assert result.trap is not None and result.trap.kind is TrapKind.LINK_ERROR


def test_import_with_wrong_signature_is_a_link_error(backend: Backend) -> None:
    wat = command("(call $log)", imports='(import "api" "log" (func $log))')
    result = backend.load(wat_to_wasm(wat), name="wrong-signature").run(RunSpec())
    assert result.trap is not None and result.trap.kind is TrapKind.LINK_ERROR


def test_module_without_start_is_a_link_error(backend: Backend) -> None:
    wasm = wat_to_wasm('(module (memory (export "memory") 1) (func (export "main")))')
    result = backend.load(wasm, name="no-start").run(RunSpec())
    assert result.trap is not None and result.trap.kind is TrapKind.LINK_ERROR


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00asm", b"not wasm at all", wat_to_wasm(command(""))[:-3]],
    ids=["empty", "header-only", "text", "truncated"],
)
def test_invalid_bytes_raise_a_named_load_error(backend: Backend, data: bytes) -> None:
    with pytest.raises(ModuleLoadError) as caught:
        backend.load(data, name="broken-module")
    assert caught.value.trap.kind is TrapKind.INVALID_MODULE
    assert "broken-module" in str(caught.value)


def test_exit_codes(backend: Backend) -> None:
    assert backend.load(wat_to_wasm(command("")), name="returns").run(RunSpec()).exit_code == 0
    exits = backend.load(wat_to_wasm(command("(call $proc_exit (i32.const 42))")), name="exits").run(RunSpec())
    assert (exits.exit_code, exits.trap) == (42, None)


def test_a_loaded_module_runs_many_times(backend: Backend) -> None:
    module = backend.load(wat_to_wasm(command("(call $proc_exit (i32.const 3))")), name="again")
    assert [module.run(RunSpec()).exit_code for _ in range(3)] == [3, 3, 3]
