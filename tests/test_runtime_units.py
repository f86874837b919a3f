"""The runtime's pieces on their own: request, header, response, output mapping, diagnostics."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import wat_to_wasm
from sysinspect_wasm_runtime.diagnose import link_problem, load_problem
from sysinspect_wasm_runtime.header import build_header, header_line
from sysinspect_wasm_runtime.output import OutputError, guest_data
from sysinspect_wasm_runtime.request import (
    RequestError,
    RuntimeSettings,
    parse_request,
    request_from_object,
    runtime_settings,
)
from sysinspect_wasm_runtime.response import ModResponse


def test_request_defaults() -> None:
    request = parse_request(b"{}")
    assert (request.timeout, request.quiet, request.options, dict(request.arguments)) == (0, False, (), {})
    assert dict(request.config) == {"path.sharelib": "/usr/share/sysinspect"}
    assert (dict(request.host), dict(request.ext)) == ({}, {})


def test_request_aliases_and_nulls() -> None:
    request = request_from_object({"options": ["a", ""], "arguments": {"k": 1}, "timeout": None, "host": None})
    assert request.options == ("a",)
    assert dict(request.arguments) == {"k": 1}
    assert request.timeout == 0 and dict(request.host) == {}


def test_explicit_sharelib_is_kept_even_when_null() -> None:
    assert dict(request_from_object({"config": {"path.sharelib": None}}).config) == {"path.sharelib": None}


def test_extra_keys_go_to_ext_and_win() -> None:
    request = request_from_object({"ext": {"a": 1, "b": 2}, "b": 3, "c": [4]})
    assert dict(request.ext) == {"a": 1, "b": 3, "c": [4]}


def test_guest_view_drops_rt_names_in_order() -> None:
    request = request_from_object({"opts": ["rt.list", "z", "a", "rt.x"], "args": {"rt.mod": "m", "b": 1, "a": 2}})
    assert request.guest_options() == ["z", "a"]
    assert list(request.guest_arguments().items()) == [("b", 1), ("a", 2)]


def test_runtime_settings() -> None:
    request = request_from_object({
        "opts": ["rt.list", "rt.sandbox", "rt.logs", "rt.what"],
        "args": {"rt.mod": "m", "rt.man": True, "rt.backend": "pywasm", "rt.memory-mb": 64, "rt.output-kb": 16,
                 "write-dir": "/srv/x//", "rt.other": 1},
    })
    assert runtime_settings(request) == RuntimeSettings(
        module_id="m", list_modules=True, man=True, backend="pywasm", sandbox=True, rootfs="/srv/x",
        memory_mb=64, output_kb=16, unknown=("argument rt.other", "option rt.what"))


def test_runtime_settings_defaults() -> None:
    assert runtime_settings(request_from_object({})) == RuntimeSettings()


@pytest.mark.parametrize("args", [{"rt.backend": "Wasmtime"}, {"rt.memory-mb": True}, {"rt.output-kb": 0},
                                  {"rt.man": 1}, {"rt.rootfs": ["/"]}, {"rt.mod": 1.0}])
def test_runtime_settings_refuse_bad_values(args: dict[str, Any]) -> None:
    with pytest.raises(RequestError):
        runtime_settings(request_from_object({"args": args}))


def test_header_is_compact_utf8_with_a_newline() -> None:
    request = request_from_object({"opts": ["rt.man", "x"], "args": {"key": "ü", "rt.mod": "m"}, "host": {"h": 1}})
    header = build_header(request, add_options=("man",))
    assert header_line(header) == ('{"opts":["x","man"],"args":{"key":"ü"},'
                                   '"config":{"path.sharelib":"/usr/share/sysinspect"},"ext":{},"host":{"h":1}}\n').encode()


def test_response_omits_empty_fields() -> None:
    assert ModResponse(retcode=0, message="", data=None).to_json() == '{"retcode":0}'
    empties: list[Any] = [{}, [], ""]
    for empty in empties:
        assert ModResponse(retcode=3, message="m", data=empty).to_json() == '{"retcode":3,"message":"m"}'
    full = ModResponse(retcode=0, message="ok", warning=["w"], data={"changed": False})
    assert full.to_json() == '{"retcode":0,"warning":["w"],"message":"ok","data":{"changed":false}}'


def test_response_merge_is_upstreams_set_data() -> None:
    response = ModResponse()
    response.merge_data({"changed": True, "k": 1})
    response.merge_data([1, 2])
    assert response.data == {"changed": True, "k": 1}
    response.data = None
    response.merge_data([1, 2])
    assert response.data == [1, 2]


@pytest.mark.parametrize(("stdout", "data"), [
    (b'{"a": 1}', {"a": 1}),
    (b' {"a": 1}\n', {"a": 1}),
    (b"[1]", {"data": [1]}),
    (b"3.5", {"data": 3.5}),
    (b"true", {"data": True}),
    (b"null", {"data": None}),
    (b"plain\n", {"data": "plain\n"}),
    (b"", {"data": None}),
    (b"\n \t", {"data": None}),
    (b"NaN", {"data": "NaN"}),
    (b"1e999", {"data": "1e999"}),
    (b'"\\udc00"', {"data": '"\\udc00"'}),
    (b'{"__module-logs": 1, "__sysinspect-module-logs": 2, "k": 3}', {"__sysinspect-module-logs": ["l"], "k": 3}),
])
def test_output_mapping(stdout: bytes, data: dict[str, Any]) -> None:
    assert guest_data(stdout, ["l"]) == {"__sysinspect-module-logs": ["l"], **data}


def test_output_that_is_not_utf8() -> None:
    with pytest.raises(OutputError, match=r"byte 0xe9 at offset 3"):
        guest_data(b"caf\xe9", [])


def test_load_problems() -> None:
    assert "does not start" in load_problem(b"MZ\x90\x00")
    assert "version 1" in load_problem(b"\0asm\x02\0\0\0")
    assert "truncated" in load_problem(b"\0asm\x01\0\0\0\x01\x7f")
    assert load_problem(b"\0asm\x01\0\0\0") == "the module does not validate as WebAssembly"


def test_link_problems() -> None:
    ok = wat_to_wasm('(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
                     ' (import "api" "header" (func (param i32 i32) (result i32))) (func (export "_start")))')
    assert link_problem(ok) is None
    memory = wat_to_wasm('(module (import "env" "memory" (memory 1)) (func (export "_start")))')
    assert link_problem(memory) == "the module imports memory env.memory, which this runtime does not provide"
    global_ = wat_to_wasm('(module (import "api" "g" (global i32)) (func (export "_start")))')
    assert link_problem(global_) == "the module imports global api.g, which this runtime does not provide"
    table = wat_to_wasm('(module (import "api" "t" (table 1 2 funcref)) (func (export "_start")))')
    assert link_problem(table) == "the module imports table api.t, which this runtime does not provide"
    start_is_memory = wat_to_wasm('(module (memory (export "_start") 1))')
    assert link_problem(start_is_memory) == "the module exports no _start function: it is not a WASI command"
    assert link_problem(b"\0asm\x01\0\0\0\x02\x05") is None
