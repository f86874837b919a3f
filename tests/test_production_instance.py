"""Bare instances on the wasmtime backend: exports, raw values bit for bit, limits on calls."""

from __future__ import annotations

import pytest
from conftest import wat_to_wasm

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

import wasmtime
from sysinspect_wasm_production import WasmtimeBackend, WasmtimeInstance

from sysinspect_wasm import ExportInfo, GuestTrap, Limits, ModuleLoadError, TrapKind, Value

VALUES = """(module
  (memory (export "mem") 1 2)
  (data (i32.const 0) "\\01\\02\\03")
  (table (export "tab") 2 funcref)
  (elem (i32.const 0) $id32)
  (global (export "g32") (mut f32) (f32.const nan:0x200001))
  (global (export "g64") f64 (f64.const -nan:0x4000000000001))
  (global (export "gi") i64 (i64.const -5))
  (func $id32 (export "id_f32") (param f32) (result f32) (local.get 0))
  (func (export "id_f64") (param f64) (result f64) (local.get 0))
  (func (export "id_i32") (param i32) (result i32) (local.get 0))
  (func (export "id_i64") (param i64) (result i64) (local.get 0))
  (func (export "id_v128") (param v128) (result v128) (local.get 0))
  (func (export "swap") (param i32 f64) (result f64 i32) (local.get 1) (local.get 0))
  (func (export "bits_f32") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
  (func (export "snan_f32") (result f32) (f32.reinterpret_i32 (i32.const 0x7fa00001)))
  (func (export "null_ref") (param funcref) (result funcref externref) (local.get 0) (ref.null extern))
  (func (export "some_ref") (result funcref) (ref.func $id32))
  (func (export "set_g32") (param f32) (global.set 0 (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))"""

SNAN_32 = 0x7FA00001  # signalling: the quiet bit 0x00400000 is clear
SNAN_64 = 0x7FF4000000000001


@pytest.fixture
def instance() -> WasmtimeInstance:
    return WasmtimeBackend().load(wat_to_wasm(VALUES), name="values").instantiate(Limits(timeout=5, memory_bytes=4 * 65536))


def test_exports_in_module_order_with_signatures(instance: WasmtimeInstance) -> None:
    exports = instance.exports()
    assert exports[:3] == [ExportInfo("mem", "memory"), ExportInfo("tab", "table"), ExportInfo("g32", "global")]
    by_name = {e.name: e for e in exports}
    assert by_name["swap"] == ExportInfo("swap", "func", ("i32", "f64"), ("f64", "i32"))
    assert by_name["null_ref"] == ExportInfo("null_ref", "func", ("funcref",), ("funcref", "externref"))
    assert by_name["id_v128"].params == ("v128",)


@pytest.mark.parametrize("bits", [SNAN_32, 0xFFC00001, 0x7FC00000, 0x80000000, 0x3F800000])
def test_f32_bits_survive_both_ways(instance: WasmtimeInstance, bits: int) -> None:
    assert instance.call("id_f32", [Value("f32", bits)]) == [Value("f32", bits)]
    assert instance.call("bits_f32", [Value("f32", bits)]) == [Value.i32(bits)]


def test_a_signalling_nan_result_keeps_its_payload(instance: WasmtimeInstance) -> None:
    assert instance.call("snan_f32", []) == [Value("f32", SNAN_32)]


@pytest.mark.parametrize("bits", [SNAN_64, 0xFFF8000000000001, 0x8000000000000000])
def test_f64_bits_survive_both_ways(instance: WasmtimeInstance, bits: int) -> None:
    assert instance.call("id_f64", [Value("f64", bits)]) == [Value("f64", bits)]


def test_integers_and_vectors(instance: WasmtimeInstance) -> None:
    assert instance.call("id_i32", [Value.i32(-1)]) == [Value("i32", 0xFFFFFFFF)]
    assert instance.call("id_i64", [Value.i64(-(2**63))]) == [Value("i64", 2**63)]
    vector = Value("v128", 0x0123456789ABCDEF_FEDCBA9876543210)
    assert instance.call("id_v128", [vector]) == [vector]
    assert instance.call("swap", [Value.i32(7), Value.f64(2.5)]) == [Value.f64(2.5), Value.i32(7)]


def test_references_carry_nullness(instance: WasmtimeInstance) -> None:
    assert instance.call("null_ref", [Value("funcref", 0)]) == [Value("funcref", 0), Value("externref", 0)]
    assert instance.call("some_ref", []) == [Value("funcref", 1)]
    with pytest.raises(ValueError, match="null"):
        instance.call("null_ref", [Value("funcref", 1)])


def test_wrong_arguments_are_the_callers_error(instance: WasmtimeInstance) -> None:
    with pytest.raises(TypeError):
        instance.call("id_i32", [Value.i64(1)])
    with pytest.raises(TypeError):
        instance.call("id_i32", [])
    with pytest.raises(ValueError, match="fit"):
        instance.call("id_i32", [Value("i32", 1 << 40)])
    with pytest.raises(KeyError):
        instance.call("nope", [])


def test_globals_read_raw_bits(instance: WasmtimeInstance) -> None:
    assert instance.global_value("g32") == Value("f32", 0x7FA00001)
    assert instance.global_value("g64") == Value("f64", 0xFFF4000000000001)
    assert instance.global_value("gi") == Value.i64(-5)
    instance.call("set_g32", [Value("f32", 0xFF800001)])
    assert instance.global_value("g32") == Value("f32", 0xFF800001)


def test_memory_is_a_copy(instance: WasmtimeInstance) -> None:
    data = instance.memory("mem")
    assert len(data) == 65536 and data[:4] == b"\x01\x02\x03\x00"
    with pytest.raises(KeyError):
        instance.memory("g32")


def test_traps_raise_guest_trap_and_the_instance_goes_on(instance: WasmtimeInstance) -> None:
    with pytest.raises(GuestTrap) as caught:
        instance.call("div", [Value.i32(1), Value.i32(0)])
    assert caught.value.trap.kind is TrapKind.DIVIDE_BY_ZERO
    assert instance.call("div", [Value.i32(9), Value.i32(3)]) == [Value.i32(3)]


def test_the_memory_ceiling_applies_to_calls(instance: WasmtimeInstance) -> None:
    assert instance.call("grow", [Value.i32(1)]) == [Value.i32(1)]  # 2 pages, the declared maximum
    assert instance.call("grow", [Value.i32(1)]) == [Value.i32(-1)]  # past the declared maximum: -1
    limited = WasmtimeBackend().load(wat_to_wasm(VALUES.replace("(memory (export \"mem\") 1 2)", "(memory (export \"mem\") 1)")))
    small = limited.instantiate(Limits(memory_bytes=2 * 65536))
    assert small.call("grow", [Value.i32(1)]) == [Value.i32(1)]
    with pytest.raises(GuestTrap) as caught:
        small.call("grow", [Value.i32(1)])
    assert caught.value.trap.kind is TrapKind.MEMORY_LIMIT


def test_the_timeout_applies_to_each_call() -> None:
    instance = WasmtimeBackend().load(wat_to_wasm(VALUES)).instantiate(Limits(timeout=0.3))
    for _ in range(2):  # "spin" never returns by itself: only the deadline of this very call can end it
        with pytest.raises(GuestTrap) as caught:
            instance.call("spin", [])
        assert caught.value.trap.kind is TrapKind.TIMEOUT
    assert instance.call("id_i32", [Value.i32(4)]) == [Value.i32(4)]


def test_no_timeout_means_no_interruption() -> None:
    instance = WasmtimeBackend().load(wat_to_wasm(VALUES)).instantiate()
    assert instance.call("id_i32", [Value.i32(4)]) == [Value.i32(4)]


def test_modules_with_imports_cannot_be_bare_instances() -> None:
    module = WasmtimeBackend().load(wat_to_wasm('(module (import "env" "f" (func)))'), name="importer")
    with pytest.raises(ModuleLoadError) as caught:
        module.instantiate()
    assert caught.value.trap.kind is TrapKind.LINK_ERROR and "importer" in str(caught.value)


@pytest.mark.parametrize(("wat", "limits", "kind"), [
    ("(module (func $s unreachable) (start $s))", Limits(), TrapKind.UNREACHABLE),
    ("(module (func $s (loop $l (br $l))) (start $s))", Limits(timeout=0.3), TrapKind.TIMEOUT),
    ("(module (memory 10))", Limits(memory_bytes=5 * 65536), TrapKind.MEMORY_LIMIT),
])
def test_instantiation_traps_raise_guest_trap(wat: str, limits: Limits, kind: TrapKind) -> None:
    with pytest.raises(GuestTrap) as caught:
        WasmtimeBackend().load(wat_to_wasm(wat)).instantiate(limits)
    assert caught.value.trap.kind is kind


def test_wasmtime_py_alone_would_lose_the_signalling_bit() -> None:
    # Why values.py exists: wasmtime-py's own conversion quiets a signalling f32 NaN.
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, '(module (func (export "f") (result f32) (f32.reinterpret_i32 (i32.const 0x7fa00001))))')
    func = wasmtime.Instance(store, module, []).exports(store)["f"]
    assert isinstance(func, wasmtime.Func)
    assert Value.f32(func(store)).bits != SNAN_32


def test_types_without_a_raw_form_are_described_but_not_called() -> None:
    wat = """(module (type $s (struct (field i32)))
      (func (export "make") (param i32) (result (ref null $s)) (ref.null $s))
      (func (export "fn") (param (ref null func)) (result (ref extern)) (unreachable)))"""
    instance = WasmtimeBackend().load(wat_to_wasm(wat)).instantiate()
    assert instance.exports() == [ExportInfo("make", "func", ("i32",), ("ref",)),
                                  ExportInfo("fn", "func", ("funcref",), ("externref",))]
    with pytest.raises(ValueError, match="raw representation"):
        instance.call("make", [Value.i32(1)])
