"""The deployed runtime's start-up, once ``boot.py`` has chosen where bytecode and the warm image come from.

:func:`start` puts on the path the tree's wasmtime-py whose native library
matches the interpreter's C library (``wasmtime/``: glibc builds,
``wasmtime-musl/``: musl builds), when the tree has one for this target
(elsewhere ``auto`` runs pywasm), then hands over to ``wasm-runtime``. It is
one of the modules the warm image holds (:data:`.image.LAUNCHER_MODULES`).
"""

from __future__ import annotations

import os
import sys

NATIVE = {"linux-x86_64": "linux-x86_64", "linux-arm64": "linux-aarch64"}
"""Bundle target -> the folder wasmtime-py loads its native library from (``wasmtime/_ffi.py``)."""
ENGINE_ROOTS = {"glibc": "wasmtime", "musl": "wasmtime-musl"}
"""C library of the interpreter -> the folder of the tree whose native libraries are linked against it."""


FACTS: dict[str, object] = {}
"""What the start-up decided, for ``wasm-runtime engines`` (which finds this module in ``sys.modules`` when the
launcher started the process, and words it): the tree, target and C library, the private folder or why there is
none, the bytecode folder in use, whether the tree's bytecode is this Python's, what the warm image did, and the
wasmtime root put on the path. Recorded as decided: wording them is no work for a warm call."""


def start(here: str, argv: list[str], folder: str = "", refused: str = "", image: str = "",
          bundled: bool = False) -> None:
    """Run ``wasm-runtime`` from the tree at ``here``; ``argv`` is ``TARGET -- ARGUMENTS`` as the launcher gives it,
    the rest what boot.py decided: this uid's private folder ("" when ``refused`` says why there is none), what
    the warm image did ("" when it was not used), and whether the tree's bytecode is this Python's."""
    from sysinspect_wasm.clibrary import c_library

    target = argv[0] if argv else ""
    arguments = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    libc = c_library()
    engine = engine_path(here, target, libc)
    if engine is not None:
        sys.path.insert(1, engine)  # after python/, which boot.py put first
    FACTS.update(tree=here, target=target, c_library=libc, private_folder=folder, refused=refused,
                 bytecode_folder=sys.pycache_prefix or "", bundled=bundled, warm_image=image, wasmtime_root=engine or "")
    sys.argv = ["wasm-runtime", *arguments]

    from sysinspect_wasm_runtime.protocolmode import main

    main()


def engine_path(here: str, target: str, libc: str) -> str | None:
    """The folder of the tree to put on sys.path for wasmtime-py, or None: this target has no native library,
    or the tree holds none for this C library (``libc`` "" is unknown: never guess)."""
    if target not in NATIVE or libc not in ENGINE_ROOTS:
        return None
    root = os.path.join(here, ENGINE_ROOTS[libc])
    if os.path.isfile(os.path.join(root, "wasmtime", NATIVE[target], "_libwasmtime.so")):
        return root
    return None
