"""Bare instances importing from one another, on both backends (``Module.instantiate(limits, imports)``).

What the spec test suite's ``register`` and ``spectest`` need, tested on its
own: shared memories, tables and mutable globals, calls across instances,
every link error a caller can cause, partial initialisation that stays,
externref identity, and memory.grow of an imported memory (FINDINGS.md F13).
"""

from __future__ import annotations

import pytest
from conftest import wat_to_wasm

from sysinspect_wasm import Backend, Limits
from sysinspect_wasm.errors import GuestTrap, ModuleLoadError
from sysinspect_wasm.result import Value
from sysinspect_wasm.traps import TrapKind

LIMITS = Limits(timeout=30)

PROVIDER = """
(module
  (memory (export "mem") 1 4)
  (table (export "tab") 2 funcref)
  (global (export "counter") (mut i32) (i32.const 7))
  (global (export "fixed") i64 (i64.const 42))
  (func $forty (result i32) (i32.const 40))
  (elem (i32.const 0) $forty)
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
"""

USER = """
(module
  (import "p" "mem" (memory 1))
  (import "p" "tab" (table 2 funcref))
  (import "p" "counter" (global $c (mut i32)))
  (import "p" "add" (func $add (param i32 i32) (result i32)))
  (type $r (func (result i32)))
  (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "bump") (global.set $c (call $add (global.get $c) (i32.const 1))))
  (func (export "through-table") (result i32) (call_indirect (type $r) (i32.const 0))))
"""



def test_memory_table_and_globals_are_shared(backend: Backend) -> None:
    provider = backend.load(wat_to_wasm(PROVIDER), name="provider").instantiate(LIMITS)
    user = backend.load(wat_to_wasm(USER), name="user").instantiate(LIMITS, {"p": provider})
    user.call("poke", [Value.i32(100), Value.i32(0xAB)])
    assert provider.call("peek", [Value.i32(100)]) == [Value.i32(0xAB)]
    assert provider.memory("mem")[100] == 0xAB
    user.call("bump", [])
    assert provider.global_value("counter") == Value.i32(8)
    assert user.call("through-table", []) == [Value.i32(40)]


def test_an_instance_may_join_a_store_without_importing_from_it(backend: Backend) -> None:
    provider = backend.load(wat_to_wasm(PROVIDER), name="provider").instantiate(LIMITS)
    alone = backend.load(wat_to_wasm("(module (memory (export \"m\") 1))"), name="alone")
    joined = alone.instantiate(LIMITS, {"p": provider})
    user = backend.load(wat_to_wasm(USER), name="user").instantiate(LIMITS, {"p": provider, "other": joined})
    assert user.call("through-table", []) == [Value.i32(40)]


@pytest.mark.parametrize(("wat", "what"), [
    ('(module (import "p" "missing" (func)))', "missing export"),
    ('(module (import "q" "add" (func (param i32 i32) (result i32))))', "missing module"),
    ('(module (import "p" "add" (func (param i32) (result i32))))', "function type"),
    ('(module (import "p" "mem" (memory 1 2)))', "memory maximum larger than required"),
    ('(module (import "p" "mem" (memory 0 0)))', "memory maximum of 0 required (F14: pywasm's 0 is none)"),
    ('(module (import "p" "tab" (table 0 0 funcref)))', "table maximum of 0 required, the table has none"),
    ('(module (import "p" "mem" (memory 2)))', "memory minimum"),
    ('(module (import "p" "tab" (table 3 funcref)))', "table minimum"),
    ('(module (import "p" "counter" (global i32)))', "global mutability"),
    ('(module (import "p" "fixed" (global i32)))', "global type"),
    ('(module (import "p" "mem" (func)))', "kind"),
])
def test_unsatisfied_imports_are_link_errors(backend: Backend, wat: str, what: str) -> None:
    provider = backend.load(wat_to_wasm(PROVIDER), name="provider").instantiate(LIMITS)
    module = backend.load(wat_to_wasm(wat), name="needy")
    with pytest.raises(ModuleLoadError) as caught:
        module.instantiate(LIMITS, {"p": provider})
    assert caught.value.trap.kind is TrapKind.LINK_ERROR, what
    assert "needy" in str(caught.value)


def test_instances_of_two_stores_cannot_be_linked(backend: Backend) -> None:
    module = backend.load(wat_to_wasm(PROVIDER), name="provider")
    first, second = module.instantiate(LIMITS), module.instantiate(LIMITS)
    with pytest.raises(ModuleLoadError) as caught:
        backend.load(wat_to_wasm(USER), name="user").instantiate(LIMITS, {"p": first, "q": second})
    assert caught.value.trap.kind is TrapKind.LINK_ERROR
    assert "one store" in str(caught.value)


def test_a_failed_instantiation_keeps_what_it_wrote(backend: Backend) -> None:
    """WebAssembly 2.0: segments are written in order; a trap leaves the earlier writes in the imported memory."""
    provider = backend.load(wat_to_wasm(PROVIDER), name="provider").instantiate(LIMITS)
    failing = backend.load(wat_to_wasm("""
      (module (import "p" "mem" (memory 1))
        (data (i32.const 10) "hi")
        (data (i32.const 65535) "too long"))"""), name="failing")
    with pytest.raises(GuestTrap) as caught:
        failing.instantiate(LIMITS, {"p": provider})
    assert caught.value.trap.kind is TrapKind.OUT_OF_BOUNDS
    assert provider.memory("mem")[10:12] == b"hi"


def test_externrefs_come_back_as_they_went(backend: Backend) -> None:
    module = backend.load(wat_to_wasm("""
      (module (table $t 2 externref)
        (func (export "same") (param externref) (result externref) (local.get 0))
        (func (export "keep") (param externref) (table.set $t (i32.const 1) (local.get 0)))
        (func (export "kept") (result externref) (table.get $t (i32.const 1))))"""), name="refs")
    instance = module.instantiate(LIMITS)
    for bits in (0, 1, 2, 138):
        assert instance.call("same", [Value("externref", bits)]) == [Value("externref", bits)]
    instance.call("keep", [Value("externref", 43)])
    assert instance.call("kept", []) == [Value("externref", 43)]


def test_growing_an_imported_memory_past_its_real_maximum_gives_minus_one(backend: Backend) -> None:
    """F13: the importer declares a larger maximum than the memory has; the grow must fail with -1, not stop."""
    provider = backend.load(wat_to_wasm('(module (memory (export "mem") 1 2))'), name="small")
    importer = backend.load(wat_to_wasm("""
      (module (import "p" "mem" (memory 0 3))
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"""), name="importer")
    instance = importer.instantiate(LIMITS, {"p": provider.instantiate(LIMITS)})
    assert instance.call("grow", [Value.i32(1)]) == [Value.i32(1)]
    assert instance.call("grow", [Value.i32(1)]) == [Value.i32(-1)]
