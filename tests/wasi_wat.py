"""Small builders of WASI command modules in WAT, for tests that need a precise guest."""

from __future__ import annotations

FD_WRITE = '(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))'
PROC_EXIT = '(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))'


def wat_bytes(data: bytes) -> str:
    """``data`` as a WAT string literal."""
    return '"' + "".join(f"\\{b:02x}" for b in data) + '"'


def command(body: str, *, imports: str = "", memory: str = '(memory (export "memory") 1)', extra: str = "") -> str:
    """A WASI command module whose ``_start`` runs ``body``."""
    return f"""(module
  {FD_WRITE}
  {PROC_EXIT}
  {imports}
  {memory}
  {extra}
  (func (export "_start") {body}))"""


def write_stdout(ptr: int, length: int, fd: int = 1) -> str:
    """WAT instructions writing ``length`` bytes at ``ptr`` to ``fd`` (iovec at offset 16)."""
    return f"""
    (i32.store (i32.const 16) (i32.const {ptr}))
    (i32.store (i32.const 20) (i32.const {length}))
    (drop (call $fd_write (i32.const {fd}) (i32.const 16) (i32.const 1) (i32.const 8)))"""
