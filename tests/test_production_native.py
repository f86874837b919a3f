"""The lean binding (sysinspect_wasm_production.native) against wasmtime-py's own declarations.

A warm call runs guests through our own ctypes declarations of the wheel's
native library, not wasmtime-py's. These tests hold every declared function
(argument and result types), every structure layout and every constant equal
to what the installed wasmtime-py declares, so that upgrading the wheel to a
library whose ABI changed fails here instead of corrupting memory.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import wat_to_wasm
from wasi_wat import command, write_stdout

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

import wasmtime
from sysinspect_wasm_production import DEFAULT_SETTINGS, WasmtimeBackend, epoch, hostbind, native, run
from sysinspect_wasm_production.engine import engine_for
from wasmtime import _bindings, _ffi

from sysinspect_wasm import Limits, RunSpec

OPAQUE = "opaque"
CHAR = "char"


def _simple(t: object) -> bool:
    """A simple C type (an integer, a bool, a C pointer as an integer...): ctypes' own or the binding's."""
    return isinstance(t, type) and issubclass(t, ctypes._SimpleCData)


def _pointer_target(t: object) -> object | None:
    """What a pointer-like ctypes type points at (``OPAQUE`` for void, ``CHAR`` for char), or ``None`` when
    ``t`` is no pointer. The binding's simple types are not ctypes' own classes (it does without the package
    ctypes), so simple types are told by their type code, as _ctypes itself tells them."""
    if _simple(t):
        return {"P": OPAQUE, "z": CHAR}.get(t._type_)  # type: ignore[attr-defined]
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):
        target = t._type_
        return CHAR if _simple(target) and target._type_ == "c" else target  # char* either way
    return None


def _opaque(t: object) -> bool:
    return t is OPAQUE or (isinstance(t, type) and issubclass(t, ctypes.Structure | ctypes.Union)
                           and not getattr(t, "_fields_", None))


def differences(ours: object, theirs: object, where: str) -> list[str]:
    """Where ``ours`` and wasmtime-py's ``theirs`` disagree as C types (an empty list: they are the same ABI)."""
    if ours is None or theirs is None:
        return [] if ours is theirs else [f"{where}: {ours} against {theirs}"]
    if isinstance(ours, type) and issubclass(ours, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        if not (isinstance(theirs, type) and issubclass(theirs, ctypes._CFuncPtr)):  # type: ignore[attr-defined]
            return [f"{where}: a function pointer against {theirs}"]
        mine_args, their_args = getattr(ours, "_argtypes_"), getattr(theirs, "_argtypes_")  # noqa: B009
        found = [] if ours._flags_ == theirs._flags_ else [f"{where}: calling convention {ours._flags_} against "
                                                            f"{theirs._flags_}"]
        found += differences(getattr(ours, "_restype_"), getattr(theirs, "_restype_"), f"{where} result")  # noqa: B009
        if len(mine_args) != len(their_args):
            return [*found, f"{where}: {len(mine_args)} arguments against {len(their_args)}"]
        for i, (a, b) in enumerate(zip(mine_args, their_args, strict=True)):
            found += differences(a, b, f"{where} argument {i}")
        return found
    mine, other = _pointer_target(ours), _pointer_target(theirs)
    if mine is not None or other is not None:
        if mine is None or other is None:
            return [f"{where}: {ours} against {theirs} (one is a pointer)"]
        if _opaque(mine) or _opaque(other):
            return [] if _opaque(mine) and _opaque(other) else [f"{where}: {ours} against {theirs} (opaque)"]
        if mine is CHAR or other is CHAR:
            return [] if mine is CHAR and other is CHAR else [f"{where}: {ours} against {theirs} (C string)"]
        return differences(mine, other, f"{where}*")
    if isinstance(ours, type) and issubclass(ours, ctypes.Structure | ctypes.Union):
        if not (isinstance(theirs, type) and issubclass(theirs, ctypes.Structure | ctypes.Union)):
            return [f"{where}: a structure against {theirs}"]
        found = []
        if issubclass(ours, ctypes.Union) != issubclass(theirs, ctypes.Union):
            found.append(f"{where}: structure against union")
        if (ctypes.sizeof(ours), ctypes.alignment(ours)) != (ctypes.sizeof(theirs), ctypes.alignment(theirs)):
            found.append(f"{where}: size/alignment {ctypes.sizeof(ours)}/{ctypes.alignment(ours)} against "
                         f"{ctypes.sizeof(theirs)}/{ctypes.alignment(theirs)}")
        their_fields = dict(theirs._fields_[i][:2] for i in range(len(theirs._fields_)))
        for name, kind in (field[:2] for field in ours._fields_):
            if name == "_whole":  # our stand-in for the members we never touch: the size check covers it
                continue
            if name not in their_fields:
                found.append(f"{where}: no field {name} in wasmtime-py's")
                continue
            if getattr(ours, name).offset != getattr(theirs, name).offset:
                found.append(f"{where}.{name}: offset {getattr(ours, name).offset} against {getattr(theirs, name).offset}")
            found += differences(kind, their_fields[name], f"{where}.{name}")
        return found
    same = (getattr(ours, "_type_", None), ctypes.sizeof(ours)) == (getattr(theirs, "_type_", None),  # type: ignore[arg-type]
                                                                  ctypes.sizeof(theirs))  # type: ignore[arg-type]
    return [] if same else [f"{where}: {ours} against {theirs}"]


@pytest.mark.parametrize("name", sorted(native.SIGNATURES))
def test_each_function_is_declared_as_wasmtime_py_declares_it(name: str) -> None:
    theirs = getattr(_bindings, f"_{name}")
    restype, argtypes = native.SIGNATURES[name]
    ours = native.CFUNCTYPE(restype, *argtypes)
    expected = ctypes.CFUNCTYPE(theirs.restype, *theirs.argtypes)
    assert differences(ours, expected, name) == []
    declared = getattr(native.c, name)
    assert (declared.restype, declared.argtypes) == (restype, argtypes)
    assert type(declared)._flags_ == theirs._flags_


@pytest.mark.parametrize(("ours", "theirs"), [
    (native.ByteVec, _ffi.wasm_byte_vec_t), (native.FrameVec, _ffi.wasm_frame_vec_t),
    (native.ValtypeVec, _ffi.wasm_valtype_vec_t), (native.Func, _ffi.wasmtime_func_t),
    (native.Memory, _ffi.wasmtime_memory_t), (native.Extern, _ffi.wasmtime_extern_t),
    (native.ExternUnion, _ffi.wasmtime_extern_union_t), (native.Instance, _ffi.wasmtime_instance_t),
    (native.Val, _ffi.wasmtime_val_t), (native.ValUnion, _ffi.wasmtime_valunion_t),
], ids=lambda t: t.__name__)
def test_each_structure_has_wasmtime_py_s_layout(ours: type, theirs: type) -> None:
    assert differences(ours, theirs, ours.__name__) == []


def test_the_callback_types_are_wasmtime_py_s() -> None:
    assert differences(native.FuncCallback, _ffi.wasmtime_func_callback_t, "func callback") == []
    store_callback = _bindings._wasmtime_store_epoch_deadline_callback.argtypes
    assert differences(native.DeadlineCallback, store_callback[1], "deadline callback") == []
    assert differences(native.Finalizer, store_callback[3], "finalizer") == []
    assert differences(native.OutputCallback, _bindings._wasi_config_set_stdout_custom.argtypes[1], "output") == []


@pytest.mark.parametrize("name", ["c_bool", "c_char_p", "c_void_p", "c_uint8", "c_int", "c_int32", "c_uint32",
                                  "c_int64", "c_uint64", "c_size_t", "c_ssize_t"])
def test_each_simple_type_is_ctypes_s_by_code_and_size(name: str) -> None:
    # the binding makes its own on _ctypes (the package ctypes stays unloaded), as ctypes makes them
    ours, theirs = getattr(native, name), getattr(ctypes, name)
    assert ours is not theirs and ours.__bases__ == theirs.__bases__ == (ctypes._SimpleCData,)
    assert (ours._type_, ctypes.sizeof(ours), ctypes.alignment(ours)) == (
        theirs._type_, ctypes.sizeof(theirs), ctypes.alignment(theirs))


def test_the_memory_helpers_do_what_ctypes_s_do() -> None:
    buffer = ctypes.create_string_buffer(b"sysinspect", 16)
    address = ctypes.addressof(buffer)
    assert native.string_at(address, 3) == ctypes.string_at(address, 3) == b"sys"
    assert native.string_at(address) == b"sysinspect"  # to the NUL, as ctypes' does
    native.memmove(address + 3, b"-IN", 3)
    assert buffer.value == b"sys-INpect"
    pointer = ctypes.cast(address, ctypes.POINTER(ctypes.c_uint8))  # as wasmtime_memory_data gives a pointer
    assert native.cast(pointer, native.c_void_p).value == address
    assert native.string_at(pointer, 4) == b"sys-"
    assert native.cast(native.POINTER(native.c_uint8)(), native.c_void_p).value is None  # a null pointer


def test_the_callback_data_registries_are_empty_after_runs(tmp_path: Path) -> None:
    # each run hands its host API, output captures and interrupt to wasmtime as callback data; wasmtime calls
    # the registry's finalizer when the store and linker holding them are deleted, so nothing outlives a run
    wasm = tmp_path / "hi.wasm"
    wasm.write_bytes(wat_to_wasm(command(write_stdout(0, 3), extra='(data (i32.const 0) "hi\\0a")')))
    module = WasmtimeBackend().load(wasm)
    before = len(hostbind._BOUND), len(run._WRITERS), len(epoch._INTERRUPTS)
    for limits in (Limits(), Limits(timeout=5.0)):  # on the caller's thread, then on a worker thread
        result = module.run(RunSpec(limits=limits))
        assert (result.exit_code, result.stdout) == (0, b"hi\n")
    # wasmtime drops the WASI context's output streams, and so calls the writers' finalizer, on one of its own I/O
    # threads, after the store is deleted: under load that can come a moment after run() returned (seen in a full
    # CI run). Nothing may be left once it has: wait for that, never for long.
    deadline = time.monotonic() + 30
    while (len(hostbind._BOUND), len(run._WRITERS), len(epoch._INTERRUPTS)) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (len(hostbind._BOUND), len(run._WRITERS), len(epoch._INTERRUPTS)) == before


def test_a_registry_gives_each_object_a_key_of_its_own() -> None:
    registry: native.Registry[str] = native.Registry()
    first, second = registry.add("one"), registry.add("two")
    assert first.value != second.value and len(registry) == 2
    assert (registry[first.value], registry.get(second.value), registry.get(None)) == ("one", "two", None)
    registry.forget(first.value)  # as wasmtime calls it
    assert registry.get(first.value) is None and len(registry) == 1
    with pytest.raises(KeyError):
        registry[first.value]


def test_the_constants_are_wasmtime_py_s() -> None:
    assert {name: wasmtime.TrapCode[name].value for name in native.TRAP_CODES} == native.TRAP_CODES
    assert _ffi.WASM_I32.value == native.VALKIND_I32
    assert _ffi.WASMTIME_EXTERN_FUNC.value == native.EXTERN_FUNC
    assert _ffi.WASMTIME_EXTERN_MEMORY.value == native.EXTERN_MEMORY
    assert native.library_path() == str(_ffi.filename)


def test_engine_settings_match_wasmtime_py_s_config() -> None:
    # wasmtime refuses to load native code compiled with other settings (strategy, optimisation level, NaN
    # canonicalisation...): code compiled by wasmtime-py's Config of the same settings must load natively
    engine = wasmtime.Engine(DEFAULT_SETTINGS.config())
    compiled = wasmtime.Module(engine, wat_to_wasm('(module (func (export "_start")))')).serialize()
    loaded = native.deserialize(engine_for(DEFAULT_SETTINGS).native, compiled)
    assert loaded.ptr
    other = wasmtime.Config()
    other.cranelift_opt_level = "none"
    other.epoch_interruption = True
    odd = wasmtime.Module(wasmtime.Engine(other), wat_to_wasm("(module)")).serialize()
    with pytest.raises(native.WasmtimeError):
        native.deserialize(engine_for(DEFAULT_SETTINGS).native, odd)


def test_a_warm_run_imports_no_wasmtime_py() -> None:
    # the whole point of the binding: a run of an artifact loads the library, never the package
    script = textwrap.dedent("""
        import sys
        from sysinspect_wasm_production import native
        from sysinspect_wasm_production.engine import engine_for
        engine_for()
        print("wasmtime" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False"]
