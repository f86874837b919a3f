"""Which C library the running interpreter is linked against: glibc, musl, or unknown.

wasmtime publishes its native library twice per machine, once linked against
glibc and once against musl, and the one that does not match the process's C
library cannot load. The launcher's start-up (``sysinspect_wasm_launcher.start``)
puts the matching build on the path, and ``wasm-runtime engines`` reports it;
both ask here. Imported on every call through the launcher: standard library
only, and ``struct`` only when the ELF header must be read (not on glibc).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

GLIBC = "glibc"
MUSL = "musl"
PT_INTERP = 3
"""The program header type naming an ELF executable's program interpreter (its dynamic loader)."""


def elf_interpreter(path: str) -> str:
    """The program interpreter (PT_INTERP) the ELF executable at ``path`` names; "" when it names none, is no
    ELF file, or cannot be read."""
    import struct

    try:
        with open(path, "rb") as executable:
            header = executable.read(64)
            if len(header) < 52 or header[:4] != b"\x7fELF" or header[4] not in (1, 2) or header[5] not in (1, 2):
                return ""
            wide, order = header[4] == 2, "<" if header[5] == 1 else ">"
            if wide:
                (phoff,) = struct.unpack(order + "Q", header[32:40])
                phentsize, phnum = struct.unpack(order + "HH", header[54:58])
            else:
                (phoff,) = struct.unpack(order + "I", header[28:32])
                phentsize, phnum = struct.unpack(order + "HH", header[42:46])
            for index in range(min(phnum, 64)):  # a real executable has about ten; a crafted one gets no loop
                executable.seek(phoff + index * phentsize)
                entry = executable.read(phentsize)
                if len(entry) < (56 if wide else 32) or struct.unpack(order + "I", entry[:4])[0] != PT_INTERP:
                    continue
                if wide:
                    (offset,) = struct.unpack(order + "Q", entry[8:16])
                    (size,) = struct.unpack(order + "Q", entry[32:40])
                else:
                    (offset,) = struct.unpack(order + "I", entry[4:8])
                    (size,) = struct.unpack(order + "I", entry[16:20])
                executable.seek(offset)
                return executable.read(min(size, 4096)).split(b"\0")[0].decode("ascii", "replace")
    except OSError:
        return ""
    return ""


def c_library(executable: str | None = None, confstr: Callable[[str], str | None] | None = None) -> str:
    """"glibc", "musl" or "" (unknown): the C library of the interpreter ``executable`` (default: this one).

    glibc answers ``confstr(CS_GNU_LIBC_VERSION)``, which musl does not
    define; a musl interpreter names ``ld-musl-<arch>.so.1`` as its ELF
    interpreter (what PyPA's ``packaging`` reads to tell musllinux from
    manylinux). ``confstr`` is a parameter so that a test can play a host
    without glibc's answer.
    """
    confstr = confstr or getattr(os, "confstr", None)
    try:
        if confstr is not None and (confstr("CS_GNU_LIBC_VERSION") or "").startswith(GLIBC):
            return GLIBC
    except (ValueError, OSError):  # an OS that knows no such name
        pass
    interpreter = os.path.basename(elf_interpreter(executable or sys.executable))
    if interpreter.startswith("ld-musl-"):
        return MUSL
    if interpreter.startswith("ld-linux"):
        return GLIBC
    return ""
