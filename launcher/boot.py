"""The deployed runtime's entry point: the launcher runs ``python -I -S -B boot.py TARGET -- ARGUMENTS``.

It sits at the top of the library tree a SysMaster publishes
(``<sharelib>/lib/runtime/wasm-runtime/<version>/``), puts that tree's
packages on ``sys.path`` and hands over to ``wasm-runtime``. ``python/``
holds the runtime and pywasm; ``wasmtime/`` holds wasmtime-py with the
native library of every target that has one, and is put on the path only
when this target's library is there (elsewhere ``auto`` runs pywasm).

Written in syntax every Python 3 reads, so that a ``python3`` older than 3.11
answers with a ModResponse saying so, not with a SyntaxError.
"""

import os
import sys

# bundle target -> the folder wasmtime-py loads its native library from (wasmtime/_ffi.py)
NATIVE = {"linux-x86_64": "linux-x86_64", "linux-arm64": "linux-aarch64"}

if sys.version_info < (3, 11):  # noqa: UP036 - a minion may have an older python3: answer it, do not crash
    import json

    if not sys.stdin.isatty():
        sys.stdin.buffer.read()  # the minion writes the request first: let it, then answer
    found = sys.executable + " is Python " + ".".join(str(part) for part in sys.version_info[:3])
    message = ("Failed to initialize Wasm runtime: the runtime needs Python 3.11 or newer, and " + found
               + "; install Python 3.11 or newer on this minion (the launcher looks for python3.14 ... python3.11, "
               + "then python3, on PATH, then in /usr/bin and /usr/local/bin)")
    sys.stdout.write(json.dumps({"retcode": 4, "message": message, "data": {"changed": False}}) + "\n")
    sys.stdout.flush()
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = sys.argv[1] if len(sys.argv) > 1 else ""
ARGUMENTS = sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
PATHS = [os.path.join(HERE, "python")]
if TARGET in NATIVE and os.path.isfile(os.path.join(HERE, "wasmtime", "wasmtime", NATIVE[TARGET], "_libwasmtime.so")):
    PATHS.append(os.path.join(HERE, "wasmtime"))
sys.path[0:0] = PATHS
sys.argv = ["wasm-runtime"] + ARGUMENTS  # noqa: RUF005 - unpacking in a list needs Python 3.5

from sysinspect_wasm_runtime.protocolmode import main  # noqa: E402 - only once sys.path holds the tree

main()
