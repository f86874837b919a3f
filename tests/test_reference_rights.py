"""WASI preview 1 rights: wasmtime ignores them once a descriptor is open, and so must the reference.

wasmtime 50's answers were measured with the guest built here (one WAT
module calling WASI directly) and are written down as rules in
:func:`wasmtime_answer`; every case runs on both backends.

- What a descriptor can do depends on its kind and on whether it was opened
  for reading and for writing, never on its rights. ``path_open`` opens for
  writing when it is asked FD_WRITE, or to create (CREAT) or truncate
  (TRUNC); for reading when it is asked FD_READ, or not asked FD_WRITE.
  Writing to a file not opened for writing is EBADF (not ENOTCAPABLE), and
  so is reading one not opened for reading.
- A directory's own rights decide nothing either: a truncating open through
  a subdirectory opened with no rights at all succeeds.
- Standard streams go one way: the wrong way is EBADF; seeking, or
  reading/writing at an offset the right way, ESPIPE; every other file call
  EBADF. They are never terminals here: their filetype is UNKNOWN.
- A directory answers EBADF to every file call.
- ``fd_allocate`` is ENOTSUP on every file; ``fd_fdstat_set_rights`` is
  ENOTSUP (EBADF on a standard stream) and changes nothing.
- ``fd_fdstat_get`` reports fixed rights: FD_READ (stdin) or FD_WRITE
  (stdout, stderr); a preopen 0x7b7fe00 inheriting 0xff7ffff; a directory
  everything but FD_SEEK, FD_WRITE and the two SET_SIZE rights; a file
  everything (the 30 rights), less FD_WRITE when not opened for writing and
  FD_READ and FD_READDIR when not opened for reading; inheriting = base.
- Waiting to write (``poll_oneoff``) on a file of a read-only preopen is EPERM.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import wat_to_wasm
from sysinspect_wasm_reference.wasi import Preview1

from sysinspect_wasm import Backend, Preopen, RunSpec

ERRNO_NAMES = {int(getattr(Preview1, a)): a.removeprefix("ERRNO_") for a in dir(Preview1) if a.startswith("ERRNO_")}
CREAT, DIRECTORY, TRUNC = (int(getattr(Preview1, f"OFLAGS_{n}")) for n in ("CREAT", "DIRECTORY", "TRUNC"))
APPEND, NONBLOCK = int(Preview1.FDFLAGS_APPEND), int(Preview1.FDFLAGS_NONBLOCK)
FD_READ, FD_WRITE, FD_READDIR = (int(getattr(Preview1, f"RIGHTS_{n}")) for n in ("FD_READ", "FD_WRITE", "FD_READDIR"))
ALL_RIGHTS = (1 << 30) - 1
UNKNOWN, DIRECTORY_TYPE, FILE_TYPE = 0, 3, 4
DIRECTORY_RIGHTS = 0x3FB7FFBB
PREOPEN = (0x7B7FE00, 0xFF7FFFF)

# -- the descriptors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A descriptor ``path_open`` makes from descriptor ``at``, and what it is."""

    at: str
    path: str
    oflags: int
    rights: int
    fdflags: int = 0
    inheriting: int = 0
    # what wasmtime makes of it: "file" (opened for reading, writing) or "dir"; mutable: its preopen is writable
    reads: bool = True
    writes: bool = False
    directory: bool = False
    mutable: bool = True


# fd 3 is /dir (writable), fd 4 is /ro (read-only); each holds file.txt and sub/inner.txt, /dir also t1.txt
OPENS: dict[str, Opened] = {
    "read": Opened("3", "file.txt", 0, FD_READ),
    "write": Opened("3", "file.txt", 0, FD_WRITE, reads=False, writes=True),
    "read-write": Opened("3", "file.txt", 0, FD_READ | FD_WRITE, writes=True),
    "no rights": Opened("3", "file.txt", 0, 0),
    "all rights": Opened("3", "file.txt", 0, ALL_RIGHTS, inheriting=ALL_RIGHTS, writes=True),
    "read, nonblocking append": Opened("3", "file.txt", 0, FD_READ, fdflags=APPEND | NONBLOCK),
    "creat, read": Opened("3", "c1.txt", CREAT, FD_READ, writes=True),
    "trunc, read": Opened("3", "t1.txt", TRUNC, FD_READ, writes=True),
    "creat trunc, no rights": Opened("3", "c2.txt", CREAT | TRUNC, 0, writes=True),
    "creat, write, append": Opened("3", "a.txt", CREAT, FD_WRITE, fdflags=APPEND, reads=False, writes=True),
    "sub, no rights": Opened("3", "sub", DIRECTORY, 0, directory=True),
    "sub, read": Opened("3", "sub", 0, FD_READ, directory=True),
    "trunc through sub, no rights": Opened("sub, no rights", "inner.txt", TRUNC, FD_READ, writes=True),
    "creat through sub, no rights": Opened("sub, no rights", "made.txt", CREAT, FD_WRITE, reads=False, writes=True),
    "ro read": Opened("4", "file.txt", 0, FD_READ, mutable=False),
    "ro sub": Opened("4", "sub", DIRECTORY, ALL_RIGHTS & ~FD_WRITE, inheriting=ALL_RIGHTS, directory=True, mutable=False),
}
STREAMS = ("stdin", "stdout", "stderr")
DESCRIPTORS = [*STREAMS, "preopen", "ro preopen", *OPENS]
OUTPUT = Opened("3", "out.bin", CREAT, FD_WRITE)  # where the guest writes its answers

# -- the calls, on every descriptor ----------------------------------------------------------------

CALLS = {
    "fd_write": "(call $fd_write {fd} (i32.const 16) (i32.const 1) (i32.const 8))",
    "fd_read": "(call $fd_read {fd} (i32.const 32) (i32.const 1) (i32.const 8))",
    "fd_pwrite": "(call $fd_pwrite {fd} (i32.const 16) (i32.const 1) (i64.const 0) (i32.const 8))",
    "fd_pread": "(call $fd_pread {fd} (i32.const 32) (i32.const 1) (i64.const 0) (i32.const 8))",
    "fd_seek": "(call $fd_seek {fd} (i64.const 0) (i32.const 1) (i32.const 8))",
    "fd_tell": "(call $fd_tell {fd} (i32.const 8))",
    "fd_sync": "(call $fd_sync {fd})",
    "fd_datasync": "(call $fd_datasync {fd})",
    "fd_advise": "(call $fd_advise {fd} (i64.const 0) (i64.const 1) (i32.const 0))",
    "fd_allocate": "(call $fd_allocate {fd} (i64.const 0) (i64.const 1))",
    "fd_filestat_get": "(call $fd_filestat_get {fd} (i32.const 64))",
    "fd_filestat_set_size": "(call $fd_filestat_set_size {fd} (i64.const 5))",
    "fd_filestat_set_times": "(call $fd_filestat_set_times {fd} (i64.const 0) (i64.const 0) (i32.const 10))",
    "fd_fdstat_set_flags": "(call $fd_fdstat_set_flags {fd} (i32.const 0))",
    "fd_fdstat_set_flags(SYNC)": "(call $fd_fdstat_set_flags {fd} (i32.const 16))",
    "fd_readdir": "(call $fd_readdir {fd} (i32.const 128) (i32.const 64) (i64.const 0) (i32.const 8))",
    "path_filestat_get": "(call $path_filestat_get {fd} (i32.const 0) (i32.const 40) (i32.const 1) (i32.const 64))",
    "poll_oneoff(FD_READ)": "(call $poll_fd {fd} (i32.const 1))",
    "poll_oneoff(FD_WRITE)": "(call $poll_fd {fd} (i32.const 2))",
    "fd_fdstat_set_rights": "(call $fd_fdstat_set_rights {fd} (i64.const 0) (i64.const 0))",
    "fd_write again": "(call $fd_write {fd} (i32.const 16) (i32.const 1) (i32.const 8))",
    "fd_read again": "(call $fd_read {fd} (i32.const 32) (i32.const 1) (i32.const 8))",
}
IMPORTS = {
    "fd_write": "i32 i32 i32 i32", "fd_read": "i32 i32 i32 i32", "fd_pwrite": "i32 i32 i32 i64 i32",
    "fd_pread": "i32 i32 i32 i64 i32", "fd_seek": "i32 i64 i32 i32", "fd_tell": "i32 i32", "fd_sync": "i32",
    "fd_datasync": "i32", "fd_advise": "i32 i64 i64 i32", "fd_allocate": "i32 i64 i64", "fd_filestat_get": "i32 i32",
    "fd_filestat_set_size": "i32 i64", "fd_filestat_set_times": "i32 i64 i64 i32", "fd_fdstat_set_flags": "i32 i32",
    "fd_readdir": "i32 i32 i32 i64 i32", "path_filestat_get": "i32 i32 i32 i32 i32", "fd_fdstat_get": "i32 i32",
    "fd_fdstat_set_rights": "i32 i64 i64", "path_open": "i32 i32 i32 i32 i32 i64 i64 i32 i32",
    "poll_oneoff": "i32 i32 i32 i32",
}
FD_TABLE, PATHS_AT, ANSWERS_AT = 1024, 2048, 4096
STAT_SIZE = 32  # errno u16, then at 8 the fdstat: filetype u8, flags u16 at 2, rights u64 at 8, inheriting u64 at 16
# fdstat before and after set_rights, path_open's errno, each call's errno; 8-aligned for the fdstat
RECORD = (2 * STAT_SIZE + 8 + 2 * len(CALLS) + 7) // 8 * 8


def fd_slot(name: str) -> int:
    """Where the guest keeps descriptor ``name``'s number."""
    fixed = {"stdin": 0, "stdout": 1, "stderr": 2, "3": 3, "4": 4, "preopen": 3, "ro preopen": 4}
    index = fixed[name] if name in fixed else 5 + list(OPENS).index(name) if name in OPENS else 5 + len(OPENS)
    return FD_TABLE + 4 * index


def probe_wat() -> str:
    """A guest that opens every descriptor of :data:`OPENS`, then makes every call of :data:`CALLS` on each.

    For each descriptor it records (in RECORD bytes): fd_fdstat_get's answer
    before and after fd_fdstat_set_rights(0, 0), path_open's errno, then each
    call's errno in order, and writes them all to /dir/out.bin.
    """
    imports = "\n  ".join(f'(import "wasi_snapshot_preview1" "{n}" (func ${n} (param {p}) (result i32)))'
                          for n, p in IMPORTS.items())
    paths = {path: PATHS_AT + 32 * i for i, path in enumerate(sorted({o.path for o in OPENS.values()} | {OUTPUT.path}))}
    data = " ".join(f'(data (i32.const {at}) "{path}")' for path, at in paths.items())
    body = [f"(i32.store (i32.const {fd_slot(n)}) (i32.const {fd}))" for fd, n in enumerate(("stdin", "stdout", "stderr", "3", "4"))]

    def open_call(opened: Opened, slot: int) -> str:
        return (f"(call $path_open (i32.load (i32.const {fd_slot(opened.at)})) (i32.const 1) (i32.const {paths[opened.path]}) "
                f"(i32.const {len(opened.path)}) (i32.const {opened.oflags}) (i64.const {opened.rights}) "
                f"(i64.const {opened.inheriting}) (i32.const {opened.fdflags}) (i32.const {slot}))")

    for index, name in enumerate(DESCRIPTORS):
        record = ANSWERS_AT + RECORD * index
        if name in OPENS:
            body.append(f"(i32.store (i32.const {fd_slot(name)}) (i32.const -1))")
            body.append(f"(i32.store16 (i32.const {record + 2 * STAT_SIZE}) {open_call(OPENS[name], fd_slot(name))})")
    body.append(f"(drop {open_call(OUTPUT, fd_slot('output'))})")
    for index, name in enumerate(DESCRIPTORS):
        record = ANSWERS_AT + RECORD * index
        fd = f"(i32.load (i32.const {fd_slot(name)}))"
        body.append(f"(i32.store16 (i32.const {record}) (call $fd_fdstat_get {fd} (i32.const {record + 8})))")
        for i, (call, text) in enumerate(CALLS.items()):
            if call == "fd_write again":  # after fd_fdstat_set_rights
                after = record + STAT_SIZE
                body.append(f"(i32.store16 (i32.const {after}) (call $fd_fdstat_get {fd} (i32.const {after + 8})))")
            body.append(f"(i32.store16 (i32.const {record + 2 * STAT_SIZE + 8 + 2 * i}) {text.format(fd=fd)})")
    return f"""(module
  {imports}
  (memory (export "memory") 2)
  (data (i32.const 24) "x") (data (i32.const 40) ".") {data}
  (func $poll_fd (param $fd i32) (param $kind i32) (result i32)
    (i64.store (i32.const 512) (i64.const 7))
    (i32.store8 (i32.const 520) (local.get $kind))
    (i32.store (i32.const 528) (local.get $fd))
    (call $poll_oneoff (i32.const 512) (i32.const 600) (i32.const 1) (i32.const 8)))
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 24)) (i32.store (i32.const 20) (i32.const 1))
    (i32.store (i32.const 32) (i32.const 48)) (i32.store (i32.const 36) (i32.const 1))
    {' '.join(body)}
    (i32.store (i32.const 400) (i32.const {ANSWERS_AT}))
    (i32.store (i32.const 404) (i32.const {RECORD * len(DESCRIPTORS)}))
    (drop (call $fd_write (i32.load (i32.const {fd_slot('output')})) (i32.const 400) (i32.const 1) (i32.const 408)))))"""


@pytest.fixture(scope="module")
def probe() -> bytes:
    """The rights probe, compiled once."""
    return wat_to_wasm(probe_wat())


# -- what wasmtime answers --------------------------------------------------------------------------

Fdstat = tuple[int, int, int, int] | str  # filetype, flags, rights base, inheriting; or the errno


def wasmtime_fdstat(name: str) -> Fdstat:
    """fd_fdstat_get's answer for descriptor ``name`` (set_rights changes nothing)."""
    if name in STREAMS:
        rights = FD_READ if name == "stdin" else FD_WRITE
        return UNKNOWN, 0, rights, rights
    if name in ("preopen", "ro preopen"):
        return (DIRECTORY_TYPE, 0, *PREOPEN)
    opened = OPENS[name]
    if opened.directory:
        return DIRECTORY_TYPE, 0, DIRECTORY_RIGHTS, DIRECTORY_RIGHTS
    rights = ALL_RIGHTS & ~(0 if opened.writes else FD_WRITE) & ~(0 if opened.reads else FD_READ | FD_READDIR)
    return FILE_TYPE, opened.fdflags, rights, rights


def wasmtime_answer(name: str, call: str) -> str:
    """The errno wasmtime answers ``call`` on descriptor ``name``."""
    call = call.removesuffix(" again")
    if name in STREAMS:
        reads = name == "stdin"
        right_way = {"fd_read": reads, "fd_pread": reads, "poll_oneoff(FD_READ)": reads,
                     "fd_write": not reads, "fd_pwrite": not reads, "poll_oneoff(FD_WRITE)": not reads}
        if call in ("fd_seek", "fd_tell") or (call in ("fd_pread", "fd_pwrite") and right_way[call]):
            return "SPIPE"
        return "SUCCESS" if call == "fd_filestat_get" or right_way.get(call) else "BADF"
    opened = OPENS.get(name)
    directory = opened is None or opened.directory
    mutable = name != "ro preopen" and (opened is None or opened.mutable)
    if call == "fd_fdstat_set_rights":
        return "NOTSUP"
    if call == "fd_filestat_set_times":
        return "SUCCESS" if mutable else "PERM"
    if call == "fd_filestat_get":
        return "SUCCESS"
    if directory:
        return "SUCCESS" if call in ("fd_readdir", "path_filestat_get") else "BADF"
    assert opened is not None
    answers = {
        "fd_read": "SUCCESS" if opened.reads else "BADF",
        "fd_pread": "SUCCESS" if opened.reads else "BADF",
        "fd_write": "SUCCESS" if opened.writes else "BADF",
        "fd_pwrite": "SUCCESS" if opened.writes else "BADF",
        "fd_allocate": "NOTSUP",
        "fd_filestat_set_size": "PERM" if not mutable else "SUCCESS" if opened.writes else "INVAL",
        "fd_fdstat_set_flags(SYNC)": "INVAL",
        "fd_readdir": "BADF",
        "path_filestat_get": "BADF",
        "poll_oneoff(FD_WRITE)": "SUCCESS" if mutable else "PERM",
    }
    return answers.get(call, "SUCCESS")


# -- running it --------------------------------------------------------------------------------------


def make_tree(base: Path) -> None:
    """/dir (writable) and /ro (read-only), each with file.txt and sub/inner.txt; /dir also t1.txt."""
    for folder in ("dir", "ro"):
        (base / folder / "sub").mkdir(parents=True)
        (base / folder / "file.txt").write_text("data")
        (base / folder / "sub" / "inner.txt").write_text("inner")
    (base / "dir" / "t1.txt").write_text("t1")


def contents(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (but the probe's output): its bytes, or None for a directory."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.name != OUTPUT.path}


@dataclass
class Answers:
    """What one run of the probe answered, by descriptor."""

    opened: dict[str, str]
    fdstat: dict[str, tuple[Fdstat, Fdstat]]
    calls: dict[tuple[str, str], str]
    stdout: bytes
    tree: dict[str, bytes | None]


def run_probe(backend: Backend, wasm: bytes, base: Path, stdin: bytes) -> Answers:
    make_tree(base)
    spec = RunSpec(stdin=stdin, preopens=(Preopen(base / "dir", "/dir", writable=True),
                                          Preopen(base / "ro", "/ro", writable=False)))
    result = backend.load(wasm, name="rights-probe").run(spec)
    assert result.ok, f"the probe failed on {backend.name}: {result.trap}"
    raw = (base / "dir" / OUTPUT.path).read_bytes()
    answers = Answers({}, {}, {}, result.stdout, contents(base))

    def fdstat(at: int) -> Fdstat:
        errno = ERRNO_NAMES[struct.unpack_from("<H", raw, at)[0]]
        return struct.unpack_from("<BxHxxxxQQ", raw, at + 8) if errno == "SUCCESS" else errno

    for index, name in enumerate(DESCRIPTORS):
        record = RECORD * index
        answers.fdstat[name] = fdstat(record), fdstat(record + STAT_SIZE)
        answers.opened[name] = ERRNO_NAMES[struct.unpack_from("<H", raw, record + 2 * STAT_SIZE)[0]]
        for i, call in enumerate(CALLS):
            errno = struct.unpack_from("<H", raw, record + 2 * STAT_SIZE + 8 + 2 * i)[0]
            answers.calls[name, call] = ERRNO_NAMES[errno]
    return answers


@pytest.mark.parametrize("stdin", [b"", b"abc"], ids=["no stdin", "stdin"])
def test_rights_decide_nothing(backend: Backend, probe: bytes, tmp_path: Path, stdin: bytes) -> None:
    answers = run_probe(backend, probe, tmp_path, stdin)
    assert {n: e for n, e in answers.opened.items() if n in OPENS} == dict.fromkeys(OPENS, "SUCCESS"), backend.name
    wrong = [f"{call} on {name!r}: {answers.calls[name, call]}, wasmtime: {theirs}"
             for name in DESCRIPTORS for call in CALLS
             if answers.calls[name, call] != (theirs := wasmtime_answer(name, call))]
    assert not wrong, f"{len(wrong)} answers differ on {backend.name}:\n" + "\n".join(wrong)
    for name in DESCRIPTORS:
        before, after = answers.fdstat[name]
        expected = wasmtime_fdstat(name)
        assert before == expected, f"fd_fdstat_get on {name!r} ({backend.name}): {before}, wasmtime: {expected}"
        if isinstance(expected, tuple) and name in ("read, nonblocking append", "creat, write, append"):
            expected = (*expected[:1], 0, *expected[2:])  # fd_fdstat_set_flags(0) cleared them
        assert after == expected, f"fd_fdstat_get on {name!r} after set_rights ({backend.name}): {after}"


def test_what_the_writes_left(backend: Backend, probe: bytes, tmp_path: Path) -> None:
    """Creating or truncating without FD_WRITE opened for writing; the read-only preopen is untouched."""
    answers = run_probe(backend, probe, tmp_path, b"")
    assert answers.stdout == b"xx"  # fd_write, then fd_write again after set_rights: both stdout and stderr take it
    assert answers.tree == {
        "dir": None, "dir/a.txt": b"xx\0\0\0", "dir/c1.txt": b"xx\0\0\0", "dir/c2.txt": b"xx\0\0\0",
        "dir/file.txt": b"xxxa\0", "dir/sub": None, "dir/sub/inner.txt": b"xx\0\0\0", "dir/sub/made.txt": b"xx\0\0\0",
        "dir/t1.txt": b"xx\0\0\0", "ro": None, "ro/file.txt": b"data", "ro/sub": None, "ro/sub/inner.txt": b"inner",
    }, backend.name


SUITE = Path(__file__).parent / "data" / "wasi-testsuite" / "rust"


def test_the_rights_a_preopen_reports(backend: Backend, tmp_path: Path) -> None:
    """The WASI test suite's path_open_preopen prints them."""
    shutil.copytree(SUITE / "fs-tests.dir", tmp_path / "root", symlinks=True)
    result = backend.load(SUITE / "path_open_preopen.wasm").run(
        RunSpec(argv=("path_open_preopen.wasm",), preopens=(Preopen(tmp_path / "root", "/", writable=True),)))
    assert result.ok, f"{backend.name}: {result.trap}"
    assert result.stdout == f'preopen dir: "/" base {PREOPEN[0]} inheriting {PREOPEN[1]}\n'.encode(), backend.name
