"""``wasm-runtime engines``: which Python, C library and engines this runtime runs with, and which one ``auto`` takes.

An operator asks this where a minion runs pywasm when wasmtime was expected:
the deployed tree carries wasmtime's native library for glibc and for musl,
and the launcher's start-up puts the one matching the interpreter on the
path; this prints the file that was actually loaded (or why none was). Or
where warm calls are slower than they should be: through the launcher, it
also says where this uid's bytecode and warm image are kept, or why there is
no private folder to keep them in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Any

from sysinspect_wasm import clibrary
from sysinspect_wasm.backends import AUTO, BACKEND_NAMES, PYWASM, WASMTIME, get_backend
from sysinspect_wasm.errors import BackendUnavailable
from sysinspect_wasm.usage import PROG

DESCRIPTION = """\
Print what this runtime runs guests with: the Python interpreter and its C
library, the wasmtime native library that was loaded (its path says whether it
is the glibc or the musl build), the pywasm version, and the backend that
rt.backend=auto picks here. Run through the launcher (the synced runtime.wasm),
it also prints how that started: the library tree and target, this uid's
private folder (or why none can be trusted, which makes every call compile
its sources), where the bytecode came from, and what the warm image did."""


def c_library() -> str:
    """The interpreter's C library as the launcher tells it (:mod:`sysinspect_wasm.clibrary`: which wasmtime build
    it loads), with glibc's version ("glibc 2.36")."""
    family = clibrary.c_library()
    if family == clibrary.GLIBC:
        return os.confstr("CS_GNU_LIBC_VERSION") or family
    return family or "unknown (neither glibc nor musl)"


def wasmtime_facts() -> dict[str, Any]:
    """Whether the wasmtime backend loads here; its version and the native library file it loaded."""
    try:
        get_backend(WASMTIME)
    except BackendUnavailable as exc:
        return {"available": False, "reason": str(exc)}
    from importlib.metadata import PackageNotFoundError, version

    import wasmtime._ffi as ffi  # loaded by the backend above: this only reads where its library came from

    try:
        engine_version = version("wasmtime")
    except PackageNotFoundError:
        engine_version = "unknown"
    return {"available": True, "version": engine_version, "library": str(ffi.filename)}


def pywasm_facts() -> dict[str, Any]:
    try:
        get_backend(PYWASM)
    except BackendUnavailable as exc:
        return {"available": False, "reason": str(exc)}
    from sysinspect_wasm_reference.loader import PYWASM_VERSION

    return {"available": True, "version": PYWASM_VERSION}


LAUNCHER_START = "sysinspect_wasm_launcher.start"
"""The deployed tree's start-up module: in ``sys.modules`` when the launcher started this process."""


def launcher_facts() -> dict[str, str] | None:
    """How the launcher started this process (its tree, private folder, bytecode, warm image), worded, or None when
    it did not (a pip install's console script). Read from the start-up module if it is loaded, never imported:
    the runtime does not depend on the launcher."""
    found = getattr(sys.modules.get(LAUNCHER_START), "FACTS", None)
    if not isinstance(found, dict) or not found:
        return None
    if found["bytecode_folder"]:
        bytecode = f"this uid's, in {found['bytecode_folder']}"
    elif found["bundled"]:
        bytecode = "the tree's"
    else:
        bytecode = "none: every source is compiled in memory on every call"
    return {"tree": found["tree"], "target": found["target"], "c_library": found["c_library"] or "unknown",
            "private_folder": found["private_folder"], "refused": found["refused"], "bytecode": bytecode,
            "warm_image": found["warm_image"] or "not used (no private folder)",
            "wasmtime_root": found["wasmtime_root"]
            or "none: pywasm only (no native library for this target and C library)"}


def facts() -> dict[str, Any]:
    engines = {WASMTIME: wasmtime_facts(), PYWASM: pywasm_facts()}
    chosen = next((name for name in BACKEND_NAMES if engines[name]["available"]), None)
    return {
        "python": {"version": platform.python_version(), "executable": sys.executable, "c_library": c_library(),
                   "machine": platform.machine()},
        "launcher": launcher_facts(),
        "engines": engines,
        AUTO: chosen,
    }


def render(found: dict[str, Any]) -> str:
    python = found["python"]
    lines = [f"python   {python['version']} ({python['executable']}, {python['machine']}, {python['c_library']})"]
    started = found.get("launcher")
    if started:
        private = started["private_folder"] or f"none ({started['refused']})"
        lines += [f"launcher tree {started['tree']} ({started['target']})",
                  f"         private folder {private}",
                  f"         bytecode {started['bytecode']}; warm image {started['warm_image']}",
                  f"         wasmtime root {started['wasmtime_root']}"]
    for name, engine in found["engines"].items():
        if not engine["available"]:
            lines.append(f"{name:<8} unavailable: {engine['reason']}")
        elif name == WASMTIME:
            lines.append(f"{name:<8} {engine['version']}, native library {engine['library']}")
        else:
            lines.append(f"{name:<8} {engine['version']} (pure Python interpreter)")
    lines.append(f"{AUTO:<8} {found[AUTO] or 'no backend can run here'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} engines", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the same as one JSON object")
    ns = parser.parse_args(argv)
    found = facts()
    sys.stdout.write(json.dumps(found) + "\n" if ns.json else render(found))
    return 0 if found[AUTO] else 1
