"""The wasmtime engine configuration, the epoch clock, and the package's import guard."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest
from conftest import wat_to_wasm

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

import wasmtime
from sysinspect_wasm_production import DEFAULT_SETTINGS, EngineSettings, WasmtimeBackend
from sysinspect_wasm_production.engine import engine_for
from sysinspect_wasm_production.epoch import Interrupt

from sysinspect_wasm import GuestTrap, Limits, TrapKind, Value

RECURSE = """(module (func $down (export "down") (param i32) (result i32)
  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
    (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1))))))))"""


def test_engines_are_shared_per_settings() -> None:
    assert engine_for(DEFAULT_SETTINGS) is engine_for(EngineSettings())
    assert engine_for(EngineSettings(max_wasm_stack=256 * 1024)) is not engine_for(DEFAULT_SETTINGS)
    assert WasmtimeBackend().handle is engine_for(DEFAULT_SETTINGS)


def test_fingerprint_is_stable_and_follows_every_setting() -> None:
    assert DEFAULT_SETTINGS.fingerprint() == EngineSettings().fingerprint()
    variants = [
        EngineSettings(max_wasm_stack=2 * 1024 * 1024),
        EngineSettings(cranelift_opt_level="none"),
        EngineSettings(nan_canonicalization=True),
        EngineSettings(relaxed_simd_deterministic=False),
    ]
    prints = {s.fingerprint() for s in variants} | {DEFAULT_SETTINGS.fingerprint()}
    assert len(prints) == len(variants) + 1


def test_the_stack_setting_bounds_guest_recursion() -> None:
    wasm = wat_to_wasm(RECURSE)
    roomy = WasmtimeBackend().load(wasm).instantiate()
    assert roomy.call("down", [Value.i32(5000)]) == [Value.i32(5000)]
    tight = WasmtimeBackend(EngineSettings(max_wasm_stack=64 * 1024)).load(wasm).instantiate()
    with pytest.raises(GuestTrap) as caught:
        tight.call("down", [Value.i32(5000)])
    assert caught.value.trap.kind is TrapKind.STACK_OVERFLOW


def test_modules_compiled_by_the_settings_engine_can_be_serialized() -> None:
    # what the compiled-artifact cache will rely on: the engine round-trips its own code
    handle = engine_for(DEFAULT_SETTINGS)
    module = WasmtimeBackend().load(wat_to_wasm(RECURSE)).program.module
    again = wasmtime.Module.deserialize(handle.engine, module.serialize())
    assert [e.name for e in again.exports] == ["down"]


def test_an_interrupt_stops_only_for_its_own_reasons() -> None:
    engine = engine_for(DEFAULT_SETTINGS).engine
    free = Interrupt(engine)
    assert not free.should_stop()
    expired = Interrupt(engine, deadline=0.0)
    assert expired.should_stop() and expired.reason is not None and expired.reason.kind is TrapKind.TIMEOUT
    stopped = Interrupt(engine)
    stopped.stop(TrapKind.OUTPUT_LIMIT, "first")
    stopped.stop(TrapKind.TIMEOUT, "second")
    assert stopped.should_stop() and stopped.reason is not None and stopped.reason.message == "first"
    assert not free.should_stop()  # the increments of other interrupts do not concern it


def test_a_limit_on_one_instance_leaves_others_running() -> None:
    spin = wat_to_wasm("""(module (func (export "spin") (param i32) (result i32)
      (loop $l (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if $l (local.get 0))) (local.get 0))
      (func (export "forever") (loop $l (br $l))))""")
    module = WasmtimeBackend().load(spin)
    patient = module.instantiate()
    kinds: list[TrapKind] = []

    def hurry() -> None:
        hasty = module.instantiate(Limits(timeout=0.1))
        for _ in range(5):
            try:
                hasty.call("forever", [])
            except GuestTrap as exc:
                kinds.append(exc.trap.kind)

    other = threading.Thread(target=hurry)
    other.start()
    # runs while the other thread's instance keeps the epoch ticking and gets stopped
    assert patient.call("spin", [Value.i32(1_500_000_000)]) == [Value.i32(0)]
    other.join()
    assert kinds == [TrapKind.TIMEOUT] * 5


def test_importing_the_backend_without_wasmtime_is_an_import_error() -> None:
    script = textwrap.dedent("""
        import sys
        sys.modules["wasmtime"] = None  # as if no wheel existed for this host
        try:
            import sysinspect_wasm_production
        except ImportError as exc:
            print("ImportError", exc.name)
        from sysinspect_wasm import get_backend
        print(get_backend("auto").name)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["ImportError wasmtime", "pywasm"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_timeouts_still_fire_in_a_forked_child() -> None:
    # the ticker thread does not survive fork(): the child must start its own
    script = textwrap.dedent("""
        import os
        from sysinspect_wasm import GuestTrap, Limits
        from sysinspect_wasm_production import WasmtimeBackend
        module = WasmtimeBackend().load(bytes.fromhex(%r))
        def spin():
            try:
                module.instantiate(Limits(timeout=0.3)).call("spin", [])
            except GuestTrap as exc:
                return exc.trap.kind.value
        print(spin(), flush=True)
        child = os.fork()
        if child == 0:
            print(spin(), flush=True)
            os._exit(0)
        os.waitpid(child, 0)
    """) % wat_to_wasm('(module (func (export "spin") (loop $l (br $l))))').hex()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.splitlines() == ["timeout", "timeout"], done.stderr
