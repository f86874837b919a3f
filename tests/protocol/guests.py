"""Small WASI guests in WAT for the runtime's protocol tests, one per behaviour under test.

Every guest gets the same preamble: the WASI and ``api`` imports it may use,
a 4-page exported memory, and helpers ``$write(fd, ptr, len)``,
``$out(ptr, len)`` and ``$read_stdin() -> n`` (stdin lands at ``BUF``).
Constant strings are placed with :func:`guest`'s ``strings`` argument and
referred to as ``$NAME`` / ``#NAME`` (pointer / length) in the body;
``@BUF``, ``@OUT`` and ``@OUT_CAP`` stand for the buffers' constants.
"""

from __future__ import annotations

import re

BUF = 65536
BUF_CAP = 65536
OUT = 131072
OUT_CAP = 65536

RIGHT_FD_READ = 1 << 1
RIGHT_FD_WRITE = 1 << 6
O_CREAT_TRUNC = 1 | 8

_PREAMBLE = """
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "api" "log" (func $log (param i32 i32 i32)))
  (import "api" "exec" (func $exec (param i32 i32 i32 i32) (result i32)))
  (import "api" "header" (func $header (param i32 i32) (result i32)))
  (import "api" "header_has" (func $header_has (param i32 i32) (result i32)))
  (import "api" "header_get" (func $header_get (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $out (param $ptr i32) (param $len i32) (call $write (i32.const 1) (local.get $ptr) (local.get $len)))
  (func $read_fd (param $fd i32) (result i32)
    (local $total i32)
    (loop $more
      (i32.store (i32.const 16) (i32.add (i32.const {BUF}) (local.get $total)))
      (i32.store (i32.const 20) (i32.sub (i32.const {BUF_CAP}) (local.get $total)))
      (i32.store (i32.const 24) (i32.const 0))
      (drop (call $fd_read (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24)))
      (if (i32.gt_u (i32.load (i32.const 24)) (i32.const 0))
        (then
          (local.set $total (i32.add (local.get $total) (i32.load (i32.const 24))))
          (br $more))))
    (local.get $total))
  (func $read_stdin (result i32) (call $read_fd (i32.const 0)))
""".replace("{BUF}", str(BUF)).replace("{BUF_CAP}", str(BUF_CAP))


def _literal(data: bytes) -> str:
    return '"' + "".join(f"\\{b:02x}" for b in data) + '"'


def guest(body: str, strings: dict[str, bytes | str] | None = None, *, start: bool = True, extra: str = "") -> str:
    """A WASI command whose ``_start`` runs ``body``; ``$NAME``/``#NAME`` name a string's pointer/length."""
    data = []
    offset = 1024
    for name, value in (strings or {}).items():
        raw = value.encode() if isinstance(value, str) else value
        data.append(f"(data (i32.const {offset}) {_literal(raw)})")
        body = re.sub(rf"\${name}\b", f"(i32.const {offset})", body)
        body = re.sub(rf"#{name}\b", f"(i32.const {len(raw)})", body)
        offset += len(raw) + 16
    assert offset < BUF, "constant strings overflow into the stdin buffer"
    for token, constant in (("@OUT_CAP", OUT_CAP), ("@OUT", OUT), ("@BUF", BUF)):
        body = body.replace(token, f"(i32.const {constant})")
    export = '(export "_start")' if start else ""
    return f"(module {_PREAMBLE} {' '.join(data)} {extra}\n  (func $main {export} {body}))"


def prints(text: bytes | str) -> str:
    """A guest that prints ``text`` and returns."""
    return guest("(call $out $T #T)", {"T": text})


def header_probe() -> str:
    """Prints a JSON list: header_get of /args/key, /host/traits/system.hostname, /missing, then header_has of two pointers."""

    def get(name: str) -> str:
        return (f"(local.set $n (call $header_get ${name} #{name} @OUT @OUT_CAP))"
                "(call $out @OUT (local.get $n))")

    def has(name: str) -> str:
        return f"(if (call $header_has ${name} #{name}) (then (call $out $TRUE #TRUE)) (else (call $out $FALSE #FALSE)))"

    body = ("(local $n i32) (call $out $OPEN #OPEN)" + get("P1") + "(call $out $COMMA #COMMA)" + get("P2")
            + "(call $out $COMMA #COMMA)" + get("P3") + "(call $out $COMMA #COMMA)" + has("P4")
            + "(call $out $COMMA #COMMA)" + has("P3") + "(call $out $CLOSE #CLOSE)")
    return guest(body, {"OPEN": "[", "COMMA": ",", "CLOSE": "]", "TRUE": "true", "FALSE": "false",
                        "P1": "/args/key", "P2": " /host/traits/system.hostname ", "P3": "/missing",
                        "P4": "/config/path.sharelib"})


def open_file(name: str, rights: int, oflags: int) -> str:
    """WAT that opens ``name`` (a string constant) under preopen fd 3, leaving the errno in $err and the fd at 40."""
    return (f"(local.set $err (call $path_open (i32.const 3) (i32.const 0) ${name} #{name} (i32.const {oflags})"
            f" (i64.const {rights}) (i64.const {rights}) (i32.const 0) (i32.const 40)))")


GUESTS: dict[str, str] = {
    "cat": guest("(call $out @BUF (call $read_stdin))"),
    "catlog": guest("(call $log (i32.const 1) @BUF (call $read_stdin))"),
    "text": prints("hello from guest\n"),
    "list": prints("[1, 2, 3]"),
    "number": prints("42"),
    "string": prints('"hi"'),
    "empty": guest(""),
    "blank": prints(" \n\t \n"),
    "notjson": prints("NaN"),
    "nonutf8": prints(b"\xff\xfe ok"),
    "unicode": prints('{"name":"Müller","emoji":"✓"}'),
    "object": guest(
        "(call $log (i32.const 0) $D #D) (call $log (i32.const 1) $I #I) (call $log (i32.const 2) $W #W)"
        "(call $log (i32.const 3) $E #E) (call $log (i32.const 9) $O #O)"
        "(call $log (i32.const 1) (i32.const -5) (i32.const 3)) (call $log (i32.const 1) $I (i32.const 0))"
        "(call $log (i32.const 1) $BAD #BAD)"
        "(call $out $T #T)",
        {"T": '{"changed":true,"x":1,"__module-logs":"mine","__sysinspect-module-logs":"mine too"}',
         "D": "debug line", "I": "info line", "W": "warn line", "E": "error line", "O": "odd level", "BAD": b"\xff"},
    ),
    "exit3": guest("(call $out $T #T) (call $proc_exit (i32.const 3))", {"T": '{"a":1}'}),
    "exit0": guest("(call $out $T #T) (call $proc_exit (i32.const 0))", {"T": '{"a":1}'}),
    "logfail": guest("(call $log (i32.const 3) $M #M) (call $proc_exit (i32.const 2))", {"M": "giving up"}),
    "unreachable": guest("unreachable"),
    "divzero": guest("(drop (i32.div_s (i32.const 1) (i32.const 0)))"),
    "oob": guest("(drop (i32.load (i32.const -4)))"),
    "overflow": guest("(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))"),
    "conversion": guest("(drop (i32.trunc_f32_s (f32.const nan)))"),
    "recurse": guest("(call $main)"),
    "spin": guest("(loop $forever (br $forever))"),
    "grow": guest("(loop $more (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable)) (br $more))"),
    "bigout": guest(
        "(local $i i32) (memory.fill @OUT (i32.const 120) (i32.const 1000))"
        "(loop $more (call $out @OUT (i32.const 1000))"
        " (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $more (i32.lt_u (local.get $i) (i32.const 100))))"
    ),
    "stderr": guest("(call $write (i32.const 2) $E #E) (call $out $T #T)", {"E": "oops: something odd\n", "T": '{"ok":true}'}),
    "exec": guest(
        "(call $out @OUT (call $exec $R #R @OUT @OUT_CAP))",
        {"R": '{"argv":["/bin/echo","hi"]}'},
    ),
    "execmissing": guest(
        "(call $out @OUT (call $exec $R #R @OUT @OUT_CAP))",
        {"R": '{"argv":["/nonexistent/program"]}'},
    ),
    "header": guest("(call $out @OUT (call $header @OUT @OUT_CAP))"),
    "headerbad": guest(
        "(if (i32.eq (call $header (i32.const -1) (i32.const 16)) (i32.const -2))"
        " (then (call $out $Y #Y)) (else (call $out $N #N)))",
        {"Y": '{"bad_call":-2}', "N": '{"bad_call":"not refused"}'},
    ),
    "headerprobe": header_probe(),
    "argc": guest(
        "(drop (call $args_sizes_get (i32.const 32) (i32.const 36)))"
        "(i32.store8 (i32.const 48) (i32.add (i32.const 48) (i32.load (i32.const 32))))"
        "(call $out (i32.const 48) (i32.const 1))"
    ),
    "readmarker": guest(
        "(local $err i32)" + open_file("F", RIGHT_FD_READ, 0)
        + "(if (local.get $err) (then (call $out $M #M) (return)))"
        "(call $out @BUF (call $read_fd (i32.load (i32.const 40))))",
        {"F": "marker.txt", "M": '{"marker":"missing"}'},
    ),
    "writefile": guest(
        "(local $err i32)" + open_file("F", RIGHT_FD_WRITE, O_CREAT_TRUNC)
        + "(if (local.get $err) (then (call $out $NO #NO) (return)))"
        "(call $write (i32.load (i32.const 40)) $D #D) (drop (call $fd_close (i32.load (i32.const 40))))"
        "(call $out $OK #OK)",
        {"F": "written.txt", "D": "written by the guest", "NO": '{"write":"refused"}', "OK": '{"write":"done"}'},
    ),
    "nostart": guest("", start=False),
}

RAW_GUESTS: dict[str, str] = {
    "badimport": '(module (import "api" "nonexistent" (func)) (memory (export "memory") 1) (func (export "_start")))',
    "badsig": '(module (import "api" "log" (func (param i32))) (memory (export "memory") 1) (func (export "_start")))',
    "foreign": '(module (import "env" "abort" (func)) (memory (export "memory") 1) (func (export "_start")))',
}
"""Guests that must not get the preamble (its imports would hide what is tested)."""

NOT_WASM: dict[str, bytes] = {
    "garbage": b"this is not a wasm module\n",
    "truncated": b"\0asm\x01\0\0\0\x01\x05",
    "component": b"\0asm\x0d\0\x01\0",
}
"""Files in the module folder that are not loadable modules."""
