"""stdin, argv and env reach the guest exactly as the RunSpec gives them, on both backends."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import wat_to_wasm
from wasi_wat import command, write_stdout

from sysinspect_wasm import Backend, ModuleLoadError, RunSpec

ECHO_STDIN = command(
    """
    (local $n i32)
    (loop $more
      (i32.store (i32.const 32) (i32.const 1024))
      (i32.store (i32.const 36) (i32.const 4096))
      (drop (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))
      (local.set $n (i32.load (i32.const 40)))
      (if (i32.gt_u (local.get $n) (i32.const 0))
        (then
          (i32.store (i32.const 16) (i32.const 1024))
          (i32.store (i32.const 20) (local.get $n))
          (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))
          (br $more))))""",
    imports='(import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))',
)

PRINT_ARGS_AND_ENV = command(
    """
    (local $size i32)
    (drop (call $args_sizes_get (i32.const 100) (i32.const 104)))
    (drop (call $args_get (i32.const 200) (i32.const 2048)))
    (local.set $size (i32.load (i32.const 104)))
    """
    + """
    (i32.store (i32.const 16) (i32.const 2048))
    (i32.store (i32.const 20) (local.get $size))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))
    (drop (call $environ_sizes_get (i32.const 100) (i32.const 104)))
    (drop (call $environ_get (i32.const 200) (i32.const 8192)))
    (i32.store (i32.const 16) (i32.const 8192))
    (i32.store (i32.const 20) (i32.load (i32.const 104)))
    (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 8)))""",
    imports="""
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))""",
)


def test_stdin_reaches_the_guest(backend: Backend) -> None:
    payload = bytes(range(256)) * 40 + '{"ключ": 1}\n'.encode()
    result = backend.load(wat_to_wasm(ECHO_STDIN), name="cat").run(RunSpec(stdin=payload))
    assert result.ok and result.stdout == payload


def test_empty_stdin_is_eof(backend: Backend) -> None:
    result = backend.load(wat_to_wasm(ECHO_STDIN), name="cat").run(RunSpec())
    assert result.ok and result.stdout == b""


def test_argv_and_env_are_exactly_the_spec(backend: Backend) -> None:
    spec = RunSpec(argv=("mod", "a b", "ü"), env={"A": "1", "EMPTY": ""})
    result = backend.load(wat_to_wasm(PRINT_ARGS_AND_ENV), name="args").run(spec)
    assert result.ok
    assert result.stdout == "mod\0a b\0ü\0".encode()
    assert sorted(result.stderr.split(b"\0")[:-1]) == [b"A=1", b"EMPTY="]


def test_no_argv_and_no_env_by_default(backend: Backend) -> None:
    result = backend.load(wat_to_wasm(PRINT_ARGS_AND_ENV), name="args").run(RunSpec())
    assert result.ok and (result.stdout, result.stderr) == (b"", b"")


def test_elapsed_is_the_runs_own_duration(backend: Backend) -> None:
    # no speed is asserted: the run's own clock reading, in seconds, lies within the caller's around it
    module = backend.load(wat_to_wasm(command("")), name="quick")
    before = time.monotonic()
    result = module.run(RunSpec())
    after = time.monotonic()
    assert 0 < result.elapsed <= after - before


def test_a_module_file_is_named_by_a_str_or_a_path_alike(backend: Backend, tmp_path: Path) -> None:
    # the executor interface takes either: protocol mode passes a str (pathlib stays off a warm call)
    wasm = tmp_path / "hello.wasm"
    wasm.write_bytes(wat_to_wasm(command(write_stdout(0, 3), extra='(data (i32.const 0) "hi\\0a")')))
    for given in (str(wasm), wasm, str(wasm), wasm):  # each kind cold (compiled) and warm (from its artifact)
        module = backend.load(given)
        assert module.name == "hello", given
        assert module.run(RunSpec()).stdout == b"hi\n", given
    for missing in (str(tmp_path / "gone.wasm"), tmp_path / "gone.wasm"):
        with pytest.raises(ModuleLoadError, match=re.escape(f"cannot read module 'gone' from {tmp_path}/gone.wasm")):
            backend.load(missing)
