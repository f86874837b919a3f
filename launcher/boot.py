"""The deployed runtime's entry point: the launcher runs ``python -I -S -B boot.py TARGET -- ARGUMENTS``.

It sits at the top of the library tree a SysMaster publishes
(``<sharelib>/lib/runtime/wasm-runtime/<version>/``), puts that tree's
packages on ``sys.path`` and hands over to ``wasm-runtime``. ``python/``
holds the runtime and pywasm; ``wasmtime/`` holds wasmtime-py with the glibc
builds of its native library, ``wasmtime-musl/`` the same with the musl
builds. The one that matches the C library of the running interpreter is put
on the path, and only when this target's library is in it (elsewhere
``auto`` runs pywasm).

Bytecode: the tree carries it for the Python that built the bundle. Any other
Python (the launcher takes the newest it finds) would compile every source on
every call, so boot.py gives it a bytecode cache of its own, outside the
synced tree (a sync deletes every file it does not list): a folder of this
uid's that no other user can write (see :func:`bytecode_folder`).

Written in syntax every Python 3 reads, so that a ``python3`` older than 3.11
answers with a ModResponse saying so, not with a SyntaxError.
"""

import os
import stat
import sys

if False:  # the names of the type comments, for mypy only: a minion's Python never imports typing here
    from collections.abc import Callable, Mapping  # noqa: F401

# bundle target -> the folder wasmtime-py loads its native library from (wasmtime/_ffi.py)
NATIVE = {"linux-x86_64": "linux-x86_64", "linux-arm64": "linux-aarch64"}
# C library of the interpreter -> the folder of the tree whose native libraries are linked against it
ENGINE_ROOTS = {"glibc": "wasmtime", "musl": "wasmtime-musl"}
CACHE_DIR_ENV = "SYSINSPECT_WASM_CACHE_DIR"  # the cache's own setting (sysinspect_wasm.store.layout)
PRIVATE_ROOT = "/var/tmp"
USER_DIR_NAME = "sysinspect-wasm"
BYTECODE = "bytecode"
PT_INTERP = 3


def answer_too_old():
    # type: () -> None
    """A ModResponse for a python3 older than 3.11 (the runtime itself needs 3.11)."""
    import json

    if not sys.stdin.isatty():
        sys.stdin.buffer.read()  # the minion writes the request first: let it, then answer
    found = sys.executable + " is Python " + ".".join(str(part) for part in sys.version_info[:3])
    message = ("Failed to initialize Wasm runtime: the runtime needs Python 3.11 or newer, and " + found
               + "; install Python 3.11 or newer on this minion (the launcher looks for python3.14 ... python3.11, "
               + "then python3, on PATH, then in /usr/bin and /usr/local/bin)")
    sys.stdout.write(json.dumps({"retcode": 4, "message": message, "data": {"changed": False}}) + "\n")
    sys.stdout.flush()


def elf_interpreter(path):
    # type: (str) -> str
    """The program interpreter (PT_INTERP) an ELF executable names, "" when it names none or is no ELF file."""
    import struct  # only here: a glibc interpreter is known without reading its file

    try:
        with open(path, "rb") as executable:
            header = executable.read(64)
            if len(header) < 52 or header[:4] != b"\x7fELF" or header[4] not in (1, 2) or header[5] not in (1, 2):
                return ""
            wide, order = header[4] == 2, "<" if header[5] == 1 else ">"
            if wide:
                phoff, = struct.unpack(order + "Q", header[32:40])
                phentsize, phnum = struct.unpack(order + "HH", header[54:58])
            else:
                phoff, = struct.unpack(order + "I", header[28:32])
                phentsize, phnum = struct.unpack(order + "HH", header[42:46])
            for index in range(min(phnum, 64)):
                executable.seek(phoff + index * phentsize)
                entry = executable.read(phentsize)
                if len(entry) < (56 if wide else 32) or struct.unpack(order + "I", entry[:4])[0] != PT_INTERP:
                    continue
                if wide:
                    offset, = struct.unpack(order + "Q", entry[8:16])
                    size, = struct.unpack(order + "Q", entry[32:40])
                else:
                    offset, = struct.unpack(order + "I", entry[4:8])
                    size, = struct.unpack(order + "I", entry[16:20])
                executable.seek(offset)
                return executable.read(min(size, 4096)).split(b"\0")[0].decode("ascii", "replace")
    except OSError:
        return ""
    return ""


def c_library(executable=None, confstr=None):
    # type: (str | None, Callable[[str], str | None] | None) -> str
    """"glibc", "musl" or "" (unknown): the C library the running interpreter is linked against.

    glibc answers confstr(CS_GNU_LIBC_VERSION), which musl does not define;
    a musl interpreter names ``ld-musl-<arch>.so.1`` as its ELF interpreter
    (what PyPA's ``packaging`` reads to tell musllinux from manylinux).
    """
    confstr = confstr or getattr(os, "confstr", None)
    try:
        if confstr is not None and (confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return "glibc"
    except (ValueError, OSError):
        pass
    interpreter = os.path.basename(elf_interpreter(executable or sys.executable))
    if interpreter.startswith("ld-musl-"):
        return "musl"
    if interpreter.startswith("ld-linux"):
        return "glibc"
    return ""


def engine_path(here, target, libc):
    # type: (str, str, str) -> str | None
    """The folder of the tree to put on sys.path for wasmtime-py, or None: this target has no native library,
    or the tree holds none for this C library."""
    if target not in NATIVE or libc not in ENGINE_ROOTS:
        return None
    root = os.path.join(here, ENGINE_ROOTS[libc])
    if os.path.isfile(os.path.join(root, "wasmtime", NATIVE[target], "_libwasmtime.so")):
        return root
    return None


def ships_bytecode(here, cache_tag):
    # type: (str, str | None) -> bool
    """Whether the tree carries bytecode for the interpreter whose cache tag is ``cache_tag``."""
    return cache_tag is not None and os.path.isfile(
        os.path.join(here, "python", "sysinspect_wasm", "__pycache__", "__init__." + cache_tag + ".pyc"))


def bytecode_base(uid, environ):
    # type: (int, Mapping[str, str]) -> str
    """The cache folder whose ``bytecode/`` subfolder holds this uid's bytecode: the cache's own rule for files
    that belong to no module (sysinspect_wasm.store.layout.engine_folder): the configured folder, else root's
    ``~/.cache/sysinspect-wasm``, else (another uid: a minion keeps root's HOME when it drops to it) the
    private folder ``/var/tmp/sysinspect-wasm-<uid>``."""
    configured = environ.get(CACHE_DIR_ENV, "")
    if os.path.isabs(configured):
        return configured
    if uid == 0:
        base = environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):
            home = environ.get("HOME", "")
            base = os.path.join(home, ".cache") if os.path.isabs(home) else ""
        if base:
            return os.path.join(base, USER_DIR_NAME)
    return os.path.join(PRIVATE_ROOT, USER_DIR_NAME + "-" + str(uid))


def untrusted_reason(folder, uid):
    # type: (str, int) -> str
    """Why the bytecode folder ``folder`` must not be used ("" when it may be).

    Bytecode is code this uid runs (root's: code root runs), so the cache's
    rules of trust hold, and more: the folder is a real folder (no symlink)
    of this uid, mode 0700; every folder above it belongs to this uid or to
    root and is writable by no one else, unless sticky (``/var/tmp``), so no
    other user can put a folder of theirs in its place.
    """
    try:
        st = os.lstat(folder)
    except OSError as exc:
        return "cannot read " + folder + " (" + (exc.strerror or str(exc)) + ")"
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        return folder + " is not a folder of uid " + str(uid) + " with mode 0700"
    above = os.path.realpath(os.path.dirname(folder))  # the folders the path really goes through
    while True:
        try:
            st = os.lstat(above)
        except OSError as exc:
            return "cannot read " + above + " (" + (exc.strerror or str(exc)) + ")"
        if st.st_uid not in (uid, 0):
            return above + " belongs to uid " + str(st.st_uid)
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            return above + " is writable by other users"
        if above == os.path.dirname(above):
            return ""
        above = os.path.dirname(above)


def bytecode_folder(uid, environ):
    # type: (int, Mapping[str, str]) -> tuple[str | None, str]
    """``(folder, "")`` where this uid's bytecode may be kept (made mode 0700 if missing), or ``(None, why)``."""
    base = bytecode_base(uid, environ)
    folder = os.path.join(base, BYTECODE)
    for path in (base, folder):  # the base too is made 0700: the native cache's private folder rule needs that
        if not os.path.isdir(path):
            try:  # noqa: SIM105 - contextlib would be one more import on every call
                os.makedirs(path, 0o700)
            except OSError:
                pass  # made by a concurrent call, or impossible: the check below says which
    problem = untrusted_reason(folder, uid)
    return (None, problem) if problem else (folder, "")


def use_private_bytecode(here):
    # type: (str) -> None
    """For an interpreter the tree carries no bytecode for: compile once, keep the bytecode in this uid's
    bytecode folder, read it on later calls. Where there is no such folder, the sources are compiled in memory
    on every call as before (slower, but correct: nothing is ever written into the tree)."""
    if ships_bytecode(here, sys.implementation.cache_tag):
        return
    folder, _ = bytecode_folder(os.geteuid(), os.environ)
    if folder is None:
        return
    sys.pycache_prefix = folder  # importlib reads and writes <folder>/<source's absolute folder>/<name>.<tag>.pyc
    sys.dont_write_bytecode = False  # the launcher's -B keeps bytecode out of the tree; this folder is not in it


def main():
    # type: () -> None
    if sys.version_info < (3, 11):  # noqa: UP036 - a minion may have an older python3: answer it, do not crash
        answer_too_old()
        sys.exit(0)
    here = os.path.dirname(os.path.abspath(__file__))
    target = sys.argv[1] if len(sys.argv) > 1 else ""
    arguments = sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
    use_private_bytecode(here)
    paths = [os.path.join(here, "python")]
    engine = engine_path(here, target, c_library())
    if engine is not None:
        paths.append(engine)
    sys.path[0:0] = paths
    sys.argv = ["wasm-runtime"] + arguments  # noqa: RUF005 - unpacking in a list needs Python 3.5

    from sysinspect_wasm_runtime.protocolmode import main as runtime_main

    runtime_main()


if __name__ == "__main__":
    main()
