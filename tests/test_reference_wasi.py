"""WASI where the reference backend used to differ from wasmtime: what path_open refuses, and guests without memory.

wasmtime's answers were recorded by running the same guests on wasmtime 50
(the production backend); every test here holds both backends to them.

- ``path_open`` refuses, in this order: the synchronous-I/O fdflags (DSYNC,
  RSYNC, SYNC) with ENOTSUP; DIRECTORY together with CREAT, EXCL or TRUNC
  with EINVAL; and, through a read-only preopen, an open that creates,
  truncates or asks for the FD_WRITE right with EPERM. Every other right
  and the APPEND flag are ignored, so a read-only open asking for
  FD_FILESTAT_SET_SIZE (Go's ``os.Open`` does) succeeds, and nothing can be
  written through what it opened.
- A guest that exports no memory named ``memory`` traps on any WASI call
  ("missing required memory export"), even ``proc_exit``; host API calls
  answer -2 instead.
- ``path_*`` on a descriptor that is not a directory answers EBADF, except
  ``path_open`` on a file, which answers ENOTDIR.
"""

from __future__ import annotations

import itertools
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import load_backend, wat_to_wasm
from sysinspect_wasm_differential.filesystem import PROBE
from sysinspect_wasm_reference.wasi import MISSING_MEMORY, Preview1
from wasi_wat import command, wat_bytes

from sysinspect_wasm import Backend, Preopen, RunSpec, TrapKind

ERRNO_NAMES = {int(getattr(Preview1, a)): a.removeprefix("ERRNO_") for a in dir(Preview1) if a.startswith("ERRNO_")}
NOT_TRIED = 0xFFFF

CREAT, DIRECTORY, EXCL, TRUNC = (int(getattr(Preview1, f"OFLAGS_{n}")) for n in ("CREAT", "DIRECTORY", "EXCL", "TRUNC"))
APPEND, DSYNC, NONBLOCK, RSYNC, SYNC = (int(getattr(Preview1, f"FDFLAGS_{n}")) for n in ("APPEND", "DSYNC", "NONBLOCK", "RSYNC", "SYNC"))
FD_READ, FD_WRITE = int(Preview1.RIGHTS_FD_READ), int(Preview1.RIGHTS_FD_WRITE)
ALL_RIGHTS = sum(int(getattr(Preview1, a)) for a in dir(Preview1) if a.startswith("RIGHTS_"))
# what Go's os.Open (O_RDONLY) asks for: everything but FD_WRITE, FD_DATASYNC, FD_ALLOCATE, PATH_FILESTAT_SET_SIZE
GO_READ_ONLY = ALL_RIGHTS & ~(FD_WRITE | int(Preview1.RIGHTS_FD_DATASYNC) | int(Preview1.RIGHTS_FD_ALLOCATE)
                              | int(Preview1.RIGHTS_PATH_FILESTAT_SET_SIZE))

RIGHTS = [0, FD_READ, FD_WRITE, FD_READ | FD_WRITE, int(Preview1.RIGHTS_FD_FILESTAT_SET_SIZE),
          int(Preview1.RIGHTS_FD_DATASYNC), int(Preview1.RIGHTS_FD_ALLOCATE), GO_READ_ONLY, ALL_RIGHTS & ~FD_WRITE, ALL_RIGHTS]
OFLAGS = [0, CREAT, DIRECTORY, EXCL, TRUNC, CREAT | EXCL, CREAT | TRUNC, DIRECTORY | TRUNC, DIRECTORY | EXCL,
          DIRECTORY | CREAT, DIRECTORY | CREAT | EXCL, EXCL | TRUNC]
FDFLAGS = [0, APPEND, DSYNC, NONBLOCK, RSYNC, SYNC]
PATHS = ["file.txt", "new.txt", "sub"]
PATH_AT = {"file.txt": 100, "new.txt": 120, "sub": 140}
CASES = list(itertools.product(OFLAGS, RIGHTS, FDFLAGS, PATHS))
ENTRY = 24  # oflags u32, fdflags u32, path pointer u32, path length u32, rights u64
TABLE_AT, RESULTS_AT = 1024, 4 * 65536


def _path_open_probe() -> str:
    """A guest that calls path_open(3, ...) for every case, then fd_write of one byte to what it opened.

    It prints two u16 per case: path_open's errno, and fd_write's (0xffff when nothing was opened).
    """
    table = b"".join(struct.pack("<IIIIQ", oflags, fdflags, PATH_AT[path], len(path), rights)
                     for oflags, rights, fdflags, path in CASES)
    paths = " ".join(f'(data (i32.const {at}) "{path}")' for path, at in PATH_AT.items())
    return f"""(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (memory (export "memory") 6)
  {paths}
  (data (i32.const 210) "x")
  (data (i32.const {TABLE_AT}) {wat_bytes(table)})
  (func (export "_start") (local $i i32) (local $entry i32) (local $out i32) (local $errno i32)
    (i32.store (i32.const 200) (i32.const 210))
    (i32.store (i32.const 204) (i32.const 1))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const {len(CASES)})))
      (local.set $entry (i32.add (i32.const {TABLE_AT}) (i32.mul (local.get $i) (i32.const {ENTRY}))))
      (local.set $out (i32.add (i32.const {RESULTS_AT}) (i32.mul (local.get $i) (i32.const 4))))
      (local.set $errno (call $open (i32.const 3) (i32.const 1)
        (i32.load offset=8 (local.get $entry)) (i32.load offset=12 (local.get $entry)) (i32.load (local.get $entry))
        (i64.load offset=16 (local.get $entry)) (i64.const 0) (i32.load offset=4 (local.get $entry)) (i32.const 300)))
      (i32.store16 (local.get $out) (local.get $errno))
      (if (i32.eqz (local.get $errno))
        (then
          (i32.store16 offset=2 (local.get $out)
            (call $write (i32.load (i32.const 300)) (i32.const 200) (i32.const 1) (i32.const 304)))
          (drop (call $close (i32.load (i32.const 300)))))
        (else (i32.store16 offset=2 (local.get $out) (i32.const {NOT_TRIED}))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.store (i32.const 400) (i32.const {RESULTS_AT}))
    (i32.store (i32.const 404) (i32.const {4 * len(CASES)}))
    (drop (call $write (i32.const 1) (i32.const 400) (i32.const 1) (i32.const 408)))))"""


@pytest.fixture(scope="module")
def path_open_probe() -> bytes:
    """The path_open probe, compiled once."""
    return wat_to_wasm(_path_open_probe())


def make_tree(folder: Path) -> None:
    """file.txt, sub/ and nothing called new.txt."""
    (folder / "file.txt").write_text("data")
    (folder / "sub").mkdir()


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every entry of ``folder``: its contents (or "dir") and modification time."""
    return {str(p.relative_to(folder)): (p.read_text() if p.is_file() else "dir", p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def run_probe(backend: Backend, wasm: bytes, folder: Path, *, writable: bool) -> list[tuple[str, str]]:
    """(path_open's errno, fd_write's errno or "-") for every case, by name."""
    result = backend.load(wasm, name="path-open-probe").run(RunSpec(preopens=(Preopen(folder, "/dir", writable=writable),)))
    assert result.ok, f"the probe failed on {backend.name}: {result.trap}"
    answers = [struct.unpack_from("<HH", result.stdout, 4 * i) for i in range(len(CASES))]
    return [(ERRNO_NAMES[opened], "-" if written == NOT_TRIED else ERRNO_NAMES[written]) for opened, written in answers]


def wasmtime_read_only_answer(oflags: int, rights: int, fdflags: int, path: str) -> str:
    """What wasmtime's path_open answers through a read-only preopen holding file.txt and sub/."""
    if fdflags & (DSYNC | RSYNC | SYNC):
        return "NOTSUP"
    if oflags & DIRECTORY and oflags & (CREAT | EXCL | TRUNC):
        return "INVAL"
    if oflags & (CREAT | TRUNC) or rights & FD_WRITE:
        return "PERM"
    if path == "new.txt":
        return "NOENT"
    if path == "file.txt" and oflags & DIRECTORY:
        return "NOTDIR"
    return "SUCCESS"


def test_path_open_through_a_read_only_preopen_refuses_only_writes(backend: Backend, path_open_probe: bytes,
                                                                   tmp_path: Path) -> None:
    make_tree(tmp_path)
    before = snapshot(tmp_path)
    answers = run_probe(backend, path_open_probe, tmp_path, writable=False)
    wrong = [f"path_open(oflags={o}, rights={r:#x}, fdflags={f}, {p!r}): {opened}, wasmtime: {expected}"
             for (o, r, f, p), (opened, _) in zip(CASES, answers, strict=True)
             if opened != (expected := wasmtime_read_only_answer(o, r, f, p))]
    assert not wrong, f"{len(wrong)} answers differ on {backend.name}:\n" + "\n".join(wrong[:20])
    written = [(case, w) for case, (_, w) in zip(CASES, answers, strict=True) if w == "SUCCESS"]
    assert not written, f"{backend.name} wrote through a read-only preopen: {written[:5]}"
    assert snapshot(tmp_path) == before


def test_path_open_through_a_writable_preopen_is_refused_as_wasmtime_refuses(path_open_probe: bytes,
                                                                              tmp_path: Path) -> None:
    """The same sequence of opens (each seeing what the ones before created), on both backends."""
    opened = {}
    for name in ("wasmtime", "pywasm"):
        folder = tmp_path / name
        folder.mkdir()
        make_tree(folder)
        opened[name] = [errno for errno, _ in run_probe(load_backend(name), path_open_probe, folder, writable=True)]
    wrong = [f"path_open(oflags={o}, rights={r:#x}, fdflags={f}, {p!r}): pywasm {ours}, wasmtime {theirs}"
             for (o, r, f, p), ours, theirs in zip(CASES, opened["pywasm"], opened["wasmtime"], strict=True)
             if ours != theirs]
    assert not wrong, f"{len(wrong)} answers differ:\n" + "\n".join(wrong[:20])
    refused = {case: errno for case, errno in zip(CASES, opened["pywasm"], strict=True) if errno in ("NOTSUP", "INVAL")}
    assert all(f & (DSYNC | RSYNC | SYNC) or o & DIRECTORY for o, _, f, _ in refused)


OS_RELEASE = Path("/etc/os-release")
OSRELEASE_GO = Path(__file__).resolve().parent.parent / "corpus" / "lib" / "runtime" / "wasm" / "osrelease-go.wasm"


def _os_release_value(key: str) -> str | None:
    for line in OS_RELEASE.read_text().splitlines():
        name, _, value = line.partition("=")
        if name == key:
            return value.strip().strip('"')
    return None


@pytest.mark.slow
def test_a_go_module_reads_a_file_through_a_read_only_root(backend: Backend) -> None:
    """Go's os.Open asks for FD_FILESTAT_SET_SIZE even to read; a read-only "/" must still let it read."""
    if not OS_RELEASE.is_file() or _os_release_value("VERSION") is None:
        pytest.skip("this host has no /etc/os-release with a VERSION")
    header = {"opts": [], "args": {"key": "VERSION"}, "config": {}, "ext": {}, "host": {}}
    spec = RunSpec(stdin=(json.dumps(header) + "\n").encode(), preopens=(Preopen(Path("/"), "/", writable=False),))
    result = backend.load(OSRELEASE_GO).run(spec)
    assert result.ok, f"{backend.name}: {result.trap} {result.stdout!r} {result.stderr!r}"
    assert json.loads(result.stdout)["VERSION"] == _os_release_value("VERSION")


# -- guests without an exported memory -----------------------------------------------------------

SCHED_YIELD = '(import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))'
ARGS_SIZES = '(import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))'
HEADER_HAS = '(import "api" "header_has" (func $header_has (param i32 i32) (result i32)))'

CALLS = {
    "proc_exit": "(call $proc_exit (i32.const 0))",
    "fd_write": "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))",
    "sched_yield": "(drop (call $sched_yield))",
    "args_sizes_get": "(drop (call $args_sizes (i32.const 0) (i32.const 4)))",
}
MEMORIES = {
    "no memory": "",
    "memory not exported": "(memory 1)",
    "memory exported as mem": '(memory (export "mem") 1)',
    "a table exported as memory": '(table (export "memory") 1 funcref)',
}


def _no_memory_guests() -> Iterator[tuple[str, str]]:
    for (call, body), (memory_name, memory) in itertools.product(CALLS.items(), MEMORIES.items()):
        yield f"{call}, {memory_name}", command(body, imports=SCHED_YIELD + ARGS_SIZES, memory=memory)


NO_MEMORY = dict(_no_memory_guests())


@pytest.mark.parametrize("case", sorted(NO_MEMORY))
def test_any_wasi_call_without_an_exported_memory_traps(backend: Backend, case: str) -> None:
    result = backend.load(wat_to_wasm(NO_MEMORY[case]), name="no-memory").run(RunSpec())
    assert result.trap is not None, f"{case} on {backend.name}: exit {result.exit_code}"
    assert result.trap.kind is TrapKind.UNREACHABLE, f"{case} on {backend.name}: {result.trap}"
    assert result.exit_code is None
    if backend.name == "pywasm":
        assert result.trap.message == MISSING_MEMORY
    else:
        assert MISSING_MEMORY in result.trap.message


def test_a_host_api_call_without_an_exported_memory_answers_bad_call(backend: Backend) -> None:
    """Not a trap: the call answers -2, and the guest goes on (here: returns normally, without WASI)."""
    body = "(if (i32.ne (call $header_has (i32.const 0) (i32.const 1)) (i32.const -2)) (then unreachable))"
    result = backend.load(wat_to_wasm(command(body, imports=HEADER_HAS, memory="")), name="api-no-memory").run(RunSpec())
    assert result.ok, f"{backend.name}: {result.trap}"
    assert [(c.function, c.result) for c in result.host_calls] == [("header_has", -2)]


# -- path_* on a descriptor that is not a directory -------------------------------------------------

NOT_A_DIRECTORY = """(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "file.txt")
  (func $open_file (param $dir i32) (result i32)
    (call $open (local.get $dir) (i32.const 1) (i32.const 100) (i32.const 8) (i32.const 0) (i64.const 2) (i64.const 0)
      (i32.const 0) (i32.const 304)))
  (func (export "_start")
    (drop (call $open_file (i32.const 3)))
    (i32.store16 (i32.const 0) (call $open_file (i32.load (i32.const 304))))
    (i32.store16 (i32.const 2) (call $open_file (i32.const 0)))
    (i32.store16 (i32.const 4) (call $stat (i32.load (i32.const 304)) (i32.const 1) (i32.const 100) (i32.const 8) (i32.const 500)))
    (i32.store16 (i32.const 6) (call $stat (i32.const 1) (i32.const 1) (i32.const 100) (i32.const 8) (i32.const 500)))
    (i32.store16 (i32.const 8) (call $mkdir (i32.const 2) (i32.const 100) (i32.const 8)))
    (i32.store (i32.const 400) (i32.const 0))
    (i32.store (i32.const 404) (i32.const 10))
    (drop (call $write (i32.const 1) (i32.const 400) (i32.const 1) (i32.const 408)))))"""


def test_path_calls_on_something_not_a_directory(backend: Backend, tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = backend.load(wat_to_wasm(NOT_A_DIRECTORY), name="not-a-directory").run(
        RunSpec(preopens=(Preopen(tmp_path, "/dir", writable=True),)))
    assert result.ok, f"{backend.name}: {result.trap}"
    answers = [ERRNO_NAMES[e] for e in struct.unpack("<5H", result.stdout)]
    # path_open on a file, on stdin; path_filestat_get on a file, on stdout; path_create_directory on stderr
    assert answers == ["NOTDIR", "BADF", "BADF", "BADF", "BADF"], backend.name


FSPROBE = PROBE

# command -> wasmtime 50's answer, each in a fresh make_slash_tree preopened (writable) at /s: a name ending
# in "/" is, for rmdir, unlink, link and symlink, resolved whole as a directory (following a final link, never
# leaving the preopen) and acted on as "." in it (F8, F9); a path_open that creates it is EISDIR whatever it names
TRAILING_SLASH_CASES = [
    ("rmdir /s/d/", "err EINVAL"), ("rmdir /s/d//", "err EINVAL"), ("rmdir /s/n/", "err EINVAL"),
    ("rmdir /s/ld/", "err EINVAL"), ("rmdir /s/n/../d/", "err EINVAL"), ("rmdir /s/d/.", "err EINVAL"),
    ("rmdir /s/f/", "err ENOTDIR"), ("rmdir /s/lf/", "err ENOTDIR"), ("rmdir /s/ldang/", "err ENOENT"),
    ("rmdir /s/m/", "err ENOENT"), ("rmdir /s/lloop/", "err ELOOP"), ("rmdir /s/lout/", "err EPERM"),
    ("rmdir /s/d", "ok"), ("rmdir /s/n", "err ENOTEMPTY"),
    ("unlink /s/d/", "err EISDIR"), ("unlink /s/ld/", "err EISDIR"), ("unlink /s/f/", "err ENOTDIR"),
    ("unlink /s/lf/", "err ENOTDIR"), ("unlink /s/ldang/", "err ENOENT"), ("unlink /s/m/", "err ENOENT"),
    ("unlink /s/lloop/", "err ELOOP"), ("unlink /s/lout/", "err EPERM"), ("unlink /s/lf", "ok"),
    ("mkdir /s/m/", "ok"), ("mkdir /s/m//", "ok"), ("mkdir /s/f/", "err EEXIST"), ("mkdir /s/ldang/", "err EEXIST"),
    ("mkdir /s/lloop/", "err EEXIST"), ("mkdir /s/lout/", "err EEXIST"), ("mkdir /s/f/.", "err ENOTDIR"),
    ("mkdir /s/m/.", "err ENOENT"),
    ("symlink t /s/f/", "err ENOTDIR"), ("symlink t /s/f//", "err ENOTDIR"), ("symlink t /s/lf/", "err ENOTDIR"),
    ("symlink t /s/d/", "err EEXIST"), ("symlink t /s/ld/", "err EEXIST"), ("symlink t /s/ldang/", "err ENOENT"),
    ("symlink t /s/m/", "err ENOENT"), ("symlink t /s/lloop/", "err ELOOP"), ("symlink t /s/lout/", "err EPERM"),
    ("symlink t /s/f/.", "err ENOTDIR"), ("symlink /etc/passwd /s/f/", "err EPERM"), ("symlink t /s/m", "ok"),
    ("link /s/g /s/f/", "err ENOTDIR"), ("link /s/g /s/lf/", "err ENOTDIR"), ("link /s/g /s/d/", "err EEXIST"),
    ("link /s/g /s/ld/", "err EEXIST"), ("link /s/g /s/ldang/", "err ENOENT"), ("link /s/g /s/m/", "err ENOENT"),
    ("link /s/g /s/lloop/", "err ELOOP"), ("link /s/g /s/lout/", "err EPERM"), ("link /s/m /s/f/", "err ENOTDIR"),
    ("link /s/d /s/f/", "err ENOTDIR"), ("link /s/m /s/d/", "err ENOENT"), ("link /s/f/ /s/new", "err ENOTDIR"),
    ("link /s/d/ /s/new", "err EPERM"), ("link /s/g /s/m", "ok"),
    ("rename /s/f/ /s/new", "err ENOTDIR"), ("rename /s/d/ /s/new", "ok"), ("rename /s/d/ /s/new/", "ok"),
    ("rename /s/ld/ /s/new", "err ENOTDIR"), ("rename /s/ldang/ /s/new", "err ENOTDIR"),
    ("rename /s/g /s/f/", "err ENOTDIR"), ("rename /s/g /s/m/", "err ENOTDIR"), ("rename /s/e /s/d/", "ok"),
    ("rename /s/e /s/n/", "err ENOTEMPTY"), ("rename /s/e /s/m/", "ok"), ("rename /s/e /s/ld/", "err ENOTDIR"),
    ("rename /s/d/. /s/new", "err EBUSY"), ("rename /s/e /s/lout/", "err ENOTDIR"),
    ("write /s/f/ X", "err EISDIR"), ("write /s/m/ X", "err EISDIR"), ("write /s/ldang/ X", "err EISDIR"),
    ("write /s/lloop/ X", "err EISDIR"), ("write /s/lout/ X", "err EISDIR"), ("create /s/lloop/", "err EISDIR"),
    ("create /s/d/", "err EISDIR"), ("create /s/d/.", "err EEXIST"), ("write /s/f/. X", "err ENOTDIR"),
    ("write /s/m/x/ X", "err ENOENT"), ("write /s/lout/x/ X", "err EPERM"),
    ("read /s/f/", "err ENOTDIR"), ("read /s/d/", "err EBADF"), ("read /s/lloop/", "err ELOOP"),
    ("truncate /s/d/", "err EISDIR"), ("truncate /s/ldang/", "err ENOENT"), ("stat /s/ld/", "ok dir *"),
    ("stat /s/f/", "err ENOTDIR"), ("lstat /s/lf/", "err ENOTDIR"), ("readlink /s/ld/", "err EINVAL"),
    ("readlink /s/lf/", "err ENOTDIR"), ("rawopen 3 lf/", "err ENOTDIR"), ("rawstat 3 lloop/", "err ELOOP"),
    ("rawmkdir 3 f/", "err EEXIST"), ("rawmkdir 3 m/", "ok"),
]


def make_slash_tree(base: Path) -> Path:
    """base/outside/secret and base/root: file f, g; directories d, e (empty) and n (not); links to each kind."""
    (base / "outside").mkdir()
    (base / "outside" / "secret").write_text("secret")
    root = base / "root"
    root.mkdir()
    (root / "f").write_text("f")
    (root / "g").write_text("g")
    for name in ("d", "e", "n"):
        (root / name).mkdir()
    (root / "n" / "x").write_text("x")
    for link, target in [("lf", "f"), ("ld", "d"), ("ldang", "nowhere"), ("lloop", "lloop"), ("lout", "../outside")]:
        (root / link).symlink_to(target)
    return root


def tree_state(folder: Path) -> list[str]:
    """Every entry of ``folder`` by kind: ``name/``, ``name->target`` or ``name=contents``."""
    return [f"{p.relative_to(folder)}->{p.readlink()}" if p.is_symlink() else f"{p.relative_to(folder)}/" if p.is_dir()
            else f"{p.relative_to(folder)}={p.read_text()}" for p in sorted(folder.rglob("*"))]


def test_trailing_slashes_answer_as_wasmtime(backend: Backend, tmp_path: Path) -> None:
    """F8, F9 and their neighbours: every operation on a name ending in "/" answers what wasmtime 50 answers.

    A refused operation changes nothing, and nothing outside the preopen ever changes.
    """
    if not FSPROBE.is_file():
        pytest.skip(f"{FSPROBE} is missing (tests/guests/build_fsprobe.sh builds it)")
    probe = backend.load(FSPROBE, name="fsprobe")
    wrong = []
    for number, (line, expected) in enumerate(TRAILING_SLASH_CASES):
        base = tmp_path / str(number)
        base.mkdir()
        root = make_slash_tree(base)
        before = tree_state(root)
        result = probe.run(RunSpec(stdin=f"{line}\n".encode(), preopens=(Preopen(root, "/s", writable=True),)))
        assert result.ok, f"{line!r} on {backend.name}: {result.trap} {result.stderr!r}"
        answer = result.stdout.decode().strip()
        if not (answer.startswith(expected[:-1]) if expected.endswith("*") else answer == expected):
            wrong.append(f"{line!r}: {answer!r}, wasmtime gives {expected!r}")
        if answer.startswith("err") and tree_state(root) != before:
            wrong.append(f"{line!r}: refused, but the tree changed")
        assert tree_state(base / "outside") == ["secret=secret"], f"{line!r} on {backend.name} reached outside"
    assert not wrong, f"{backend.name}:\n" + "\n".join(wrong)
