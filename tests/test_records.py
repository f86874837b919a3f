"""Every record's three spellings of its fields agree, and the record bases behave, once for all records.

A record (a subclass of ``sysinspect_wasm.records.Record``) names its fields
three times: in the class's annotations, in ``__match_args__`` (which equality,
hashing and ``repr`` use) and as the parameters of its hand-written
``__init__``. A field missing from ``__match_args__`` would be left out of
equality and hashing: two ``EngineSettings`` that differ in it would share an
engine and a cache key. These tests find every record of the project and hold
each one to the same rules.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import pytest
from test_errors import project_modules

from sysinspect_wasm.records import FrozenInstanceError, FrozenRecord, Record


def _other_clock() -> float:
    return 0.0


def _runner(argv: list[str], timeout: float) -> Any:
    raise AssertionError("not called")


def _examples() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Per record (by qualified name), two sets of arguments that differ in every field."""
    from sysinspect_wasm.backtrace import Location, ResolvedFrame
    from sysinspect_wasm.commands import run_host_command
    from sysinspect_wasm.hostapi import HostContext
    from sysinspect_wasm.packagekit import PackageKit
    from sysinspect_wasm.result import HostCall
    from sysinspect_wasm.spec import Limits, Preopen
    from sysinspect_wasm.traps import Frame, Trap, TrapKind

    examples: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "sysinspect_wasm.commands.CommandOutcome": ({"exit_code": 0, "stdout": "a", "stderr": ""},
                                                    {"exit_code": 1, "stdout": "b", "stderr": "c"}),
        "sysinspect_wasm.hostapi.HostContext": (
            {"module_id": "a", "header": {}, "allow_exec": True, "exec_refusal": "x", "commands": run_host_command,
             "packagekit": PackageKit(), "clock": time.time, "packagekit_refusal": "p"},
            {"module_id": "b", "header": {"h": 1}, "allow_exec": False, "exec_refusal": "y", "commands": _runner,
             "packagekit": PackageKit("unix:path=/nowhere"), "clock": _other_clock, "packagekit_refusal": "q"}),
        "sysinspect_wasm.packagekit.PackageKit": ({"address": None}, {"address": "unix:path=/nowhere"}),
        "sysinspect_wasm.spec.Preopen": ({"host_path": Path("/a"), "guest_path": "/", "writable": False},
                                         {"host_path": Path("/b"), "guest_path": "/b", "writable": True}),
        "sysinspect_wasm.spec.Limits": (
            {"timeout": None, "memory_bytes": 65536, "stdout_bytes": 1, "stderr_bytes": 2},
            {"timeout": 1.5, "memory_bytes": 2 * 65536, "stdout_bytes": 3, "stderr_bytes": 4}),
        "sysinspect_wasm.spec.RunSpec": (
            {"argv": (), "env": {}, "stdin": b"", "preopens": (), "limits": Limits(),
             "host": HostContext(), "trace": None},
            {"argv": ("m",), "env": {"A": "1"}, "stdin": b"in", "preopens": (Preopen(Path("/"), "/"),),
             "limits": Limits(timeout=1), "host": HostContext("other"), "trace": print}),
        "sysinspect_wasm.result.HostCall": (
            {"function": "f", "args": (), "request": None, "output": None, "result": None},
            {"function": "g", "args": (1,), "request": "r", "output": b"o", "result": 0}),
        "sysinspect_wasm.result.RunResult": (
            {"exit_code": 0, "stdout": b"", "stderr": b"", "trap": None, "host_calls": [], "logs": [], "elapsed": 0.0,
             "frames": ()},
            {"exit_code": None, "stdout": b"o", "stderr": b"e", "trap": Trap(TrapKind.UNREACHABLE),
             "host_calls": [HostCall("f", ())], "logs": ["l"], "elapsed": 1.0, "frames": (Frame(1, 2),)}),
        "sysinspect_wasm.result.Value": ({"type": "i32", "bits": 0}, {"type": "i64", "bits": 1}),
        "sysinspect_wasm.result.ExportInfo": (
            {"name": "a", "kind": "func", "params": (), "results": ()},
            {"name": "b", "kind": "global", "params": ("i32",), "results": ("i64",)}),
        "sysinspect_wasm.traps.Trap": ({"kind": TrapKind.UNREACHABLE, "message": ""},
                                       {"kind": TrapKind.TIMEOUT, "message": "m"}),
        "sysinspect_wasm.traps.Frame": ({"func_index": 0, "module_offset": 1}, {"func_index": 2, "module_offset": 3}),
        "sysinspect_wasm.backtrace.Location": (
            {"function": "f", "file": "a.c", "line": 1, "column": 0, "inlined": False},
            {"function": "g", "file": "b.c", "line": 2, "column": 3, "inlined": True}),
        "sysinspect_wasm.backtrace.ResolvedFrame": (
            {"frame": Frame(0, 1), "name": "f", "locations": ()},
            {"frame": Frame(2, 3), "name": "g", "locations": (Location("g", "b.c", 2, 3, False),)}),
        "sysinspect_wasm.backtrace.Backtrace": (
            {"frames": (), "omitted": 0}, {"frames": (ResolvedFrame(Frame(0, 1), "f"),), "omitted": 1}),
        "sysinspect_wasm_runtime.response.ModResponse": (
            {"retcode": 0, "message": "a", "warning": [], "data": None},
            {"retcode": 1, "message": "b", "warning": ["w"], "data": {"changed": True}}),
        "sysinspect_wasm_runtime.request.ModRequest": (
            {"timeout": 0, "quiet": False, "options": (), "arguments": {}, "config": {}, "host": {}, "ext": {}},
            {"timeout": 1, "quiet": True, "options": ("o",), "arguments": {"a": 1}, "config": {"c": 1},
             "host": {"h": 1}, "ext": {"e": 1}}),
        "sysinspect_wasm_runtime.request.RuntimeSettings": (
            {"module_id": "a", "list_modules": False, "man": False, "backend": "auto", "sandbox": False,
             "rootfs": None, "memory_mb": None, "output_kb": None, "unknown": ()},
            {"module_id": "b", "list_modules": True, "man": True, "backend": "pywasm", "sandbox": True,
             "rootfs": "/r", "memory_mb": 1, "output_kb": 2, "unknown": ("rt.x",)}),
        "sysinspect_wasm_production.engine.EngineSettings": (
            {"max_wasm_stack": 1 << 20, "cranelift_opt_level": "speed", "nan_canonicalization": False,
             "relaxed_simd_deterministic": True, "parallel_compilation": True},
            {"max_wasm_stack": 1 << 19, "cranelift_opt_level": "none", "nan_canonicalization": True,
             "relaxed_simd_deterministic": False, "parallel_compilation": False}),
    }
    from sysinspect_wasm_production.engine import DEFAULT_SETTINGS, EngineSettings, engine_for

    first, second = engine_for(DEFAULT_SETTINGS), engine_for(EngineSettings(nan_canonicalization=True))
    examples["sysinspect_wasm_production.engine.EngineHandle"] = (
        {"settings": first.settings, "engine": first.engine, "clock": first.clock},
        {"settings": second.settings, "engine": second.engine, "clock": second.clock})

    import wasmtime
    from sysinspect_wasm_production.program import Program

    from sysinspect_wasm.store.fileformat import Formats
    from sysinspect_wasm.store.maintenance import Inspected, State

    def program(name: str) -> Program:
        return Program(name, first, wasmtime.Module(first.engine, "(module)"), frozenset(), None, "")

    one, two = program("one"), program("two")
    info_one, info_two = Inspected(Path("/a.cwasm"), 1), Inspected(Path("/b.cwasm"), 2, "k", {"m": 1}, "bad", True)
    examples["sysinspect_wasm_production.cache.Loaded"] = (
        {"program": one, "status": "loaded", "artifact": None, "warnings": ()},
        {"program": two, "status": "compiled", "artifact": Path("/a.cwasm"), "warnings": ("w",)})
    examples["sysinspect_wasm_production.cache._Attempt"] = (
        {"program": None, "problem": "", "untrusted": False}, {"program": one, "problem": "p", "untrusted": True})
    examples["sysinspect_wasm.store.maintenance.Inspected"] = (
        {"path": Path("/a.cwasm"), "size": 1, "key": "", "manifest": {}, "problem": "", "untrusted": False},
        {"path": Path("/b.cwasm"), "size": 2, "key": "k", "manifest": {"m": 1}, "problem": "bad", "untrusted": True})
    examples["sysinspect_wasm.store.maintenance.Entry"] = (
        {"info": info_one, "state": State.CURRENT, "reason": "", "module": None},
        {"info": info_two, "state": State.STALE, "reason": "r", "module": "/m.wasm"})
    examples["sysinspect_wasm.store.fileformat.Formats"] = ({"whole": 1, "parted": 0}, {"whole": 2, "parted": 3})
    examples["sysinspect_wasm.store.fileformat.Footer"] = (
        {"fmt": 1, "meta_len": 2, "payload_len": 3, "key": b"k", "checksum": 4, "parted": False},
        {"fmt": 3, "meta_len": 5, "payload_len": 6, "key": b"l", "checksum": 7, "parted": True})
    examples["sysinspect_wasm.store.maintenance.Kind"] = (
        {"suffix": "", "formats": Formats(1), "check": None, "key_for": None, "changed": "", "other_engine": "",
         "current_key": None, "what": ""},
        {"suffix": ".x", "formats": Formats(2, 3), "check": print, "key_for": str.upper, "changed": "c",
         "other_engine": "o", "current_key": str, "what": "w"})
    examples["sysinspect_wasm_reference.cache.Decoded"] = (
        {"desc": "one", "status": "loaded", "artifact": None, "warnings": ()},
        {"desc": "two", "status": "compiled", "artifact": Path("/a.pywasm"), "warnings": ("w",)})
    return examples


def project_records() -> list[type[Record]]:
    """Every record class the project's modules define."""
    found = {value for module in project_modules() for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, Record) and value not in (Record, FrozenRecord)
             and value.__module__ == module.__name__}
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


RECORDS = project_records()
EXAMPLES = _examples()


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def fields_of_annotations(cls: type) -> list[str]:
    """The class's own annotated names, without ``ClassVar``s (which are not fields)."""
    # the annotations stay strings (postponed evaluation): their names need not be importable here
    own = inspect.get_annotations(cls)
    return [name for name, hint in own.items() if not str(hint).startswith(("ClassVar", "typing.ClassVar"))]


def test_every_record_has_examples() -> None:
    assert len(RECORDS) >= 15, "the scan found too few records to be reading the packages"
    assert sorted(map(qualified, RECORDS)) == sorted(EXAMPLES), "give each record two example argument sets"


@pytest.mark.parametrize("cls", RECORDS, ids=qualified)
def test_annotations_match_args_and_init_agree(cls: type[Record]) -> None:
    fields = list(cls.__match_args__)
    assert fields, "a record needs fields"
    assert fields_of_annotations(cls) == fields, "the class's annotations and __match_args__ differ"
    parameters = list(inspect.signature(cls.__init__).parameters)[1:]
    assert parameters == fields, "__init__'s parameters and __match_args__ differ"


@pytest.mark.parametrize("cls", RECORDS, ids=qualified)
def test_init_stores_each_argument_in_its_field(cls: type[Record]) -> None:
    for arguments in EXAMPLES[qualified(cls)]:
        record = cls(**arguments)
        for name, value in arguments.items():
            assert getattr(record, name) == value, name
        assert sorted(arguments) == sorted(cls.__match_args__)


@pytest.mark.parametrize("cls", RECORDS, ids=qualified)
def test_equality_sees_every_field(cls: type[Record]) -> None:
    first, second = EXAMPLES[qualified(cls)]
    assert cls(**first) == cls(**first) and cls(**first) != cls(**second)
    for name in cls.__match_args__:
        changed = cls(**{**first, name: second[name]})
        assert changed != cls(**first), f"{name} is left out of equality"
    assert cls(**first) != object()
    assert repr(cls(**first)).startswith(f"{cls.__qualname__}(")


def _hashable(arguments: dict[str, Any]) -> bool:
    try:
        hash(tuple(arguments.values()))
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("cls", RECORDS, ids=qualified)
def test_frozen_records_hash_and_refuse_assignment_and_mutable_ones_do_not_hash(cls: type[Record]) -> None:
    first, second = EXAMPLES[qualified(cls)]
    record = cls(**first)
    if not issubclass(cls, FrozenRecord):
        with pytest.raises(TypeError):
            hash(record)
        setattr(record, cls.__match_args__[0], second[cls.__match_args__[0]])  # a mutable record changes
        assert record == cls(**{**first, cls.__match_args__[0]: second[cls.__match_args__[0]]})
        return
    for name in cls.__match_args__:
        with pytest.raises(FrozenInstanceError):
            setattr(record, name, second[name])
        with pytest.raises(FrozenInstanceError):
            delattr(record, name)
    assert record == cls(**first)
    if _hashable(first):
        assert hash(record) == hash(cls(**first))
        for name in cls.__match_args__:
            if _hashable({**first, name: second[name]}):
                assert hash(cls(**{**first, name: second[name]})) != hash(record), name


def test_engine_settings_fingerprint_sees_every_setting() -> None:
    # a setting the fingerprint misses would let two engines share native code in the cache
    from sysinspect_wasm_production.engine import EngineSettings

    first, second = EXAMPLES[qualified(EngineSettings)]
    base = EngineSettings(**first).fingerprint()
    for name in EngineSettings.__match_args__:
        assert EngineSettings(**{**first, name: second[name]}).fingerprint() != base, name


def test_a_record_that_disagrees_is_caught() -> None:
    class Drifted(FrozenRecord):
        __match_args__ = ("a",)
        a: int
        b: int

        def __init__(self, a: int, b: int) -> None:
            self.__dict__.update(a=a, b=b)

    assert fields_of_annotations(Drifted) != list(Drifted.__match_args__)
    assert Drifted(1, 2) == Drifted(1, 3)  # what the agreement test exists to prevent

